"""backorders, and the units owed to them on items

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from inventory_core.adapters.models.common import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    """Upgrade schema."""
    # A plain ADD COLUMN, also on SQLite: a batch rebuild of `items` (which a CHECK constraint
    # would need there) drops a table every other table refers to.
    op.add_column('items', sa.Column('backordered', sa.Integer(), server_default='0',
                                     nullable=False))
    op.create_table(
        'backorders',
        sa.Column('backorder_id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('requester', sa.String(length=100), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('purchase_id', BIG_ID, nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('filled_at', UTCDateTime(), nullable=True),
        sa.Column('cancelled_at', UTCDateTime(), nullable=True),
        sa.CheckConstraint('quantity > 0', name=op.f('ck_backorders_quantity_positive')),
        sa.CheckConstraint("status IN ('waiting', 'filled', 'cancelled')",
                           name=op.f('ck_backorders_status_known')),
        sa.ForeignKeyConstraint(['item_id'], ['items.item_id'],
                                name=op.f('fk_backorders_item_id_items')),
        sa.PrimaryKeyConstraint('backorder_id', name=op.f('pk_backorders')))
    with op.batch_alter_table('backorders', schema=None) as batch_op:
        batch_op.create_index('ix_backorders_item_status', ['item_id', 'status', 'backorder_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_backorders_status'), ['status'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('backorders')  # with its indexes (MySQL keeps one for the foreign key)
    op.drop_column('items', 'backordered')  # SQLite ≥ 3.35 drops a column in place
