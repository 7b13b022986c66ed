"""replenishment lifecycle: maximum order quantity, deadlines, delivery anomalies

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from inventory_core.adapters.models.common import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
STATUSES = "status IN ('requested', 'accepted', 'fulfilled', 'cancelled', 'failed')"


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('reorder_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_order_quantity', sa.Integer(), nullable=True))
        batch_op.create_check_constraint('max_order_holds_a_multiple',
                                         'max_order_quantity >= multiple')

    with op.batch_alter_table('replenishment_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_count', sa.Integer(), server_default='1',
                                      nullable=False))
        batch_op.add_column(sa.Column('requested_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('due_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('ended_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('end_reason', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', UTCDateTime(), nullable=True))
        batch_op.create_check_constraint('status_known', STATUSES)

    op.create_table(
        'delivery_anomalies',
        sa.Column('anomaly_id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('replenishment_order_id', BIG_ID, nullable=True),
        sa.Column('production_order_id', BIG_ID, nullable=True),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('detail', sa.String(length=300), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('anomaly_id', name=op.f('pk_delivery_anomalies')),
        sa.UniqueConstraint('event_id', name=op.f('uq_delivery_anomalies_event_id')))
    with op.batch_alter_table('delivery_anomalies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_anomalies_created_at'), ['created_at'],
                              unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('delivery_anomalies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_anomalies_created_at'))
    op.drop_table('delivery_anomalies')
    with op.batch_alter_table('replenishment_orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_replenishment_orders_status_known'),
                                 type_='check')
        for column in ('escalated_at', 'end_reason', 'ended_at', 'due_at', 'requested_at',
                       'request_count'):
            batch_op.drop_column(column)
    with op.batch_alter_table('reorder_rules', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_reorder_rules_max_order_holds_a_multiple'),
                                 type_='check')
        batch_op.drop_column('max_order_quantity')
