"""outbox: back off between attempts, park rows that keep failing

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from inventory_core.adapters.models.common import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('parked_at', UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_parked_at'), ['parked_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_parked_at'))
        batch_op.drop_column('parked_at')
        batch_op.drop_column('next_attempt_at')
