"""standards register: reference standards, calibrations, intermediate checks, service events

Revision ID: 0003_standards
Revises: 0001
Create Date: 2026-11-22 03:07:52.647696
"""
from alembic import op
import sqlalchemy as sa
import lims.models
from sqlalchemy.dialects import postgresql

revision = '0003_standards'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('standards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('code_key', sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('manufacturer', sa.String(length=120), nullable=False),
    sa.Column('model', sa.String(length=120), nullable=False),
    sa.Column('serial', sa.String(length=80), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.Column('accuracy_class', sa.String(length=20), nullable=False),
    sa.Column('type_codes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('range_min', sa.String(length=40), nullable=False),
    sa.Column('range_max', sa.String(length=40), nullable=False),
    sa.Column('range_unit', sa.String(length=20), nullable=False),
    sa.Column('calibration_interval_months', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('search_key', sa.String(length=700).with_variant(sa.String(length=700, collation='C'), 'postgresql'), nullable=False),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards')),
    sa.UniqueConstraint('code_key', name='uq_standards_code_key')
    )

    with op.batch_alter_table('standards', schema=None) as batch_op:
        batch_op.create_index('ix_standards_kind', ['kind', 'code_key'], unique=False)

    op.create_table('standard_calibrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('standard_id', sa.Integer(), nullable=False),
    sa.Column('calibration_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('laboratory_name', sa.String(length=200), nullable=False),
    sa.Column('accreditation_number', sa.String(length=40), nullable=False),
    sa.Column('certificate_number', sa.String(length=60), nullable=False),
    sa.Column('traceable_to', sa.String(length=200), nullable=False),
    sa.Column('results', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('certificate_filename', sa.String(length=200), nullable=False),
    sa.Column('certificate_sha256', sa.String(length=64), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('correction_reason', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('external', 'internal')", name=op.f('ck_standard_calibrations_source')),
    sa.CheckConstraint('due_date > calibration_date', name=op.f('ck_standard_calibrations_due_after_calibration')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_standard_calibrations_recorded_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['standard_id'], ['standards.id'], name=op.f('fk_standard_calibrations_standard_id_standards'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['supersedes_id'], ['standard_calibrations.id'], name=op.f('fk_standard_calibrations_supersedes_id_standard_calibrations'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standard_calibrations')),
    sa.UniqueConstraint('supersedes_id', name='uq_standard_calibrations_supersedes_id')
    )

    with op.batch_alter_table('standard_calibrations', schema=None) as batch_op:
        batch_op.create_index('ix_standard_calibrations_standard', ['standard_id', 'calibration_date'], unique=False)

    op.create_table('standard_intermediate_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('standard_id', sa.Integer(), nullable=False),
    sa.Column('check_date', sa.Date(), nullable=False),
    sa.Column('performed_by_id', sa.Integer(), nullable=True),
    sa.Column('performed_by_name', sa.String(length=120), nullable=False),
    sa.Column('nominal', sa.String(length=40), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('value_unit', sa.String(length=20), nullable=False),
    sa.Column('reference_value', sa.String(length=40), nullable=False),
    sa.Column('measured_values', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('mean_value', sa.String(length=40), nullable=False),
    sa.Column('deviation', sa.String(length=40), nullable=False),
    sa.Column('limit', sa.String(length=40), nullable=False),
    sa.Column('is_passed', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['performed_by_id'], ['users.id'], name=op.f('fk_standard_intermediate_checks_performed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['standard_id'], ['standards.id'], name=op.f('fk_standard_intermediate_checks_standard_id_standards'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standard_intermediate_checks'))
    )

    with op.batch_alter_table('standard_intermediate_checks', schema=None) as batch_op:
        batch_op.create_index('ix_standard_intermediate_checks_standard', ['standard_id', 'check_date'], unique=False)

    op.create_table('standard_service_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('standard_id', sa.Integer(), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("action IN ('out', 'return')", name=op.f('ck_standard_service_events_action')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_standard_service_events_recorded_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['standard_id'], ['standards.id'], name=op.f('fk_standard_service_events_standard_id_standards'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standard_service_events'))
    )

    with op.batch_alter_table('standard_service_events', schema=None) as batch_op:
        batch_op.create_index('ix_standard_service_events_standard', ['standard_id', 'event_date'], unique=False)

    op.create_table('standard_calibration_references',
    sa.Column('calibration_id', sa.Integer(), nullable=False),
    sa.Column('reference_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['calibration_id'], ['standard_calibrations.id'], name=op.f('fk_standard_calibration_references_calibration_id_standard_calibrations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reference_id'], ['standards.id'], name=op.f('fk_standard_calibration_references_reference_id_standards'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('calibration_id', 'reference_id', name=op.f('pk_standard_calibration_references'))
    )

    with op.batch_alter_table('standard_calibration_references', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standard_calibration_references_reference_id'), ['reference_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('standard_calibration_references', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standard_calibration_references_reference_id'))

    op.drop_table('standard_calibration_references')

    with op.batch_alter_table('standard_service_events', schema=None) as batch_op:
        batch_op.drop_index('ix_standard_service_events_standard')

    op.drop_table('standard_service_events')

    with op.batch_alter_table('standard_intermediate_checks', schema=None) as batch_op:
        batch_op.drop_index('ix_standard_intermediate_checks_standard')

    op.drop_table('standard_intermediate_checks')

    with op.batch_alter_table('standard_calibrations', schema=None) as batch_op:
        batch_op.drop_index('ix_standard_calibrations_standard')

    op.drop_table('standard_calibrations')

    with op.batch_alter_table('standards', schema=None) as batch_op:
        batch_op.drop_index('ix_standards_kind')

    op.drop_table('standards')
