"""learned reorder rules: a policy, its parameters and what it was learned from

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from inventory_core.adapters.models.common import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('reorder_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('policy', sa.String(length=16), server_default='manual',
                                      nullable=False))
        batch_op.add_column(sa.Column('service_level', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('window_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('review_days', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('learned_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('learned_inputs', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('learned_note', sa.String(length=200), nullable=True))
        batch_op.create_check_constraint('policy_known', "policy IN ('manual', 'learned')")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('reorder_rules', schema=None) as batch_op:
        batch_op.drop_constraint('policy_known', type_='check')
        for column in ('learned_note', 'learned_inputs', 'learned_at', 'review_days',
                       'window_days', 'service_level', 'policy'):
            batch_op.drop_column(column)
