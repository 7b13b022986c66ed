"""purchases before the item's lock: no foreign key on item_id, remaining nullable

A sale writes its purchase row before the decrement locks the item (adapters.sales). The foreign
key's check would take a shared lock on the item's row first, which concurrent buyers then each
try to upgrade to the decrement's exclusive lock: a deadlock. A sale at the counter leaves
`remaining` NULL (its ledger row holds the stock after it).

On MySQL 8 (the MySQL manual's online DDL tables) dropping the key changes metadata only, and
making the column nullable rebuilds the table in place with concurrent DML allowed: on a large
purchases table the upgrade takes a while, sales go on. The downgrade's new foreign key copies the
table (foreign_key_checks on), blocking writes to purchases meanwhile.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_constraint('fk_purchases_item_id_items', type_='foreignkey')
        batch_op.alter_column('remaining', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    """Downgrade schema. Sales at the counter since the upgrade take their ledger row's stock."""
    ledger = sa.table('stock_ledger', sa.column('quantity_after'), sa.column('reference'))
    purchases = sa.table('purchases', sa.column('purchase_id'), sa.column('remaining'))
    reference = sa.literal('purchase:') + sa.cast(purchases.c.purchase_id, sa.String)
    op.execute(purchases.update().where(purchases.c.remaining.is_(None)).values(
        remaining=sa.select(ledger.c.quantity_after).where(ledger.c.reference == reference)
        .scalar_subquery()))
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.alter_column('remaining', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key('fk_purchases_item_id_items', 'items', ['item_id'],
                                    ['item_id'])
