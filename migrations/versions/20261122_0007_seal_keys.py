"""seal keys: the public halves of the QR seal's signing keys

Revision ID: 0007_seal_keys
Revises: 0006_facilities
The private keys never enter the database (they live in the file named by LIMS_SEAL_KEY_FILE). At most one key is
current: a partial unique index over the rows whose retired_at is empty.

Create Date: 2026-11-22 03:15:47.127711
"""
from alembic import op
import sqlalchemy as sa
import lims.models


revision = '0007_seal_keys'
down_revision = '0006_facilities'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('seal_keys',
    sa.Column('id', sa.String(length=8), nullable=False),
    sa.Column('algorithm', sa.String(length=20), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', lims.models.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('length(public_key) = 32', name=op.f('ck_seal_keys_public_key_length')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seal_keys'))
    )
    with op.batch_alter_table('seal_keys', schema=None) as batch_op:
        batch_op.create_index('uq_seal_keys_current', ['algorithm'], unique=True,
                              sqlite_where=sa.text('retired_at IS NULL'),
                              postgresql_where=sa.text('retired_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('seal_keys', schema=None) as batch_op:
        batch_op.drop_index('uq_seal_keys_current', sqlite_where=sa.text('retired_at IS NULL'),
                            postgresql_where=sa.text('retired_at IS NULL'))

    op.drop_table('seal_keys')
