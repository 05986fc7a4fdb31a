"""facilities: rooms and condition readings

Revision ID: 0006_facilities
Revises: 0005_methods
Rooms and on-site locations, and their environmental-condition readings (one per room and moment).
No foreign key to the methods tables: limits are passed to the conditions check as arguments.
Create Date: 2026-11-22 03:11:59.451011
"""
from alembic import op
import sqlalchemy as sa
import lims.models

revision = '0006_facilities'
down_revision = '0005_methods'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rooms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('building', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('search_key', sa.String(length=420).with_variant(sa.String(length=420, collation='C'), 'postgresql'), nullable=False),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('laboratory', 'on_site')", name=op.f('ck_rooms_kind_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rooms')),
    sa.UniqueConstraint('code', name=op.f('uq_rooms_code'))
    )
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rooms_search_key'), ['search_key'], unique=False)

    op.create_table('condition_readings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=False),
    sa.Column('taken_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('temperature_c', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('humidity_pct', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('pressure_hpa', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('source_file', sa.String(length=200), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('manual', 'logger')", name=op.f('ck_condition_readings_source_known')),
    sa.CheckConstraint('temperature_c IS NOT NULL OR humidity_pct IS NOT NULL OR pressure_hpa IS NOT NULL', name=op.f('ck_condition_readings_some_value')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_condition_readings_recorded_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_condition_readings_room_id_rooms'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_condition_readings')),
    sa.UniqueConstraint('room_id', 'taken_at', name=op.f('uq_condition_readings_room_id_taken_at'))
    )


def downgrade() -> None:
    op.drop_table('condition_readings')
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rooms_search_key'))

    op.drop_table('rooms')
