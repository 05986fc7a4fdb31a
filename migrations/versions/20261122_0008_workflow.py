"""workflow: jobs and receipt of items, verification records, their standards, electronic signatures

Revision ID: 0008_workflow
Revises: 0007_seal_keys
Creates only the tables of lims.jobs (jobs, job_items, fee_lines, number_counters) and lims.verifications
(verifications, verification_standards, signatures, bench_batches); no existing table changes.

Create Date: 2026-11-22 03:46:01.202439
"""
from alembic import op
import sqlalchemy as sa
import lims.models
from sqlalchemy.dialects import postgresql

revision = '0008_workflow'
down_revision = '0007_seal_keys'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('number_counters',
    sa.Column('series', sa.String(length=20), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('series', 'year', name=op.f('pk_number_counters'))
    )
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=30), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('received_date', sa.Date(), nullable=False),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('location', sa.String(length=10), nullable=False),
    sa.Column('site_address', sa.String(length=300), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('assigned_to_id', sa.Integer(), nullable=True),
    sa.Column('contact_name', sa.String(length=120), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("location IN ('lab', 'on_site')", name=op.f('ck_jobs_location_known')),
    sa.CheckConstraint("state IN ('received', 'in_progress', 'completed', 'delivered', 'cancelled')", name=op.f('ck_jobs_state_known')),
    sa.ForeignKeyConstraint(['assigned_to_id'], ['users.id'], name=op.f('fk_jobs_assigned_to_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_jobs_customer_id_customers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['received_by_id'], ['users.id'], name=op.f('fk_jobs_received_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('number', name=op.f('uq_jobs_number'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_assigned_to_id'), ['assigned_to_id'], unique=False)
        batch_op.create_index('ix_jobs_customer', ['customer_id', 'id'], unique=False)
        batch_op.create_index('ix_jobs_state_due', ['state', 'due_date'], unique=False)

    op.create_table('bench_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('method_version_id', sa.Integer(), nullable=True),
    sa.Column('technician_id', sa.Integer(), nullable=False),
    sa.Column('performed_date', sa.Date(), nullable=False),
    sa.Column('meters', sa.Integer(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['method_version_id'], ['method_versions.id'], name=op.f('fk_bench_batches_method_version_id_method_versions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['technician_id'], ['users.id'], name=op.f('fk_bench_batches_technician_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bench_batches')),
    sa.UniqueConstraint('file_sha256', name=op.f('uq_bench_batches_file_sha256'))
    )
    op.create_table('job_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=20), nullable=False),
    sa.Column('condition_on_receipt', sa.Text(), nullable=False),
    sa.Column('accessories', sa.String(length=300), nullable=False),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("service IN ('initial', 'periodic', 'after_repair', 'extraordinary', 'calibration')", name=op.f('ck_job_items_service_known')),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_job_items_instrument_id_instruments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_items_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_items')),
    sa.UniqueConstraint('job_id', 'position', name=op.f('uq_job_items_job_id_position'))
    )
    with op.batch_alter_table('job_items', schema=None) as batch_op:
        batch_op.create_index('ix_job_items_instrument', ['instrument_id'], unique=False)

    op.create_table('fee_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('job_item_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price_vnd', sa.Numeric(precision=14, scale=0), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_fee_lines_job_id_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_item_id'], ['job_items.id'], name=op.f('fk_fee_lines_job_item_id_job_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fee_lines'))
    )
    with op.batch_alter_table('fee_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fee_lines_job_id'), ['job_id'], unique=False)

    op.create_table('verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('root_id', sa.Integer(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('amendment_reason', sa.Text(), nullable=False),
    sa.Column('job_item_id', sa.Integer(), nullable=True),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('method_version_id', sa.Integer(), nullable=True),
    sa.Column('technician_id', sa.Integer(), nullable=False),
    sa.Column('performed_date', sa.Date(), nullable=False),
    sa.Column('started_at', lims.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', lims.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('place', sa.String(length=300), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=True),
    sa.Column('conditions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('spec', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('readings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('initial', 'periodic', 'after_repair', 'extraordinary', 'calibration')", name=op.f('ck_verifications_kind_known')),
    sa.CheckConstraint("state IN ('draft', 'submitted', 'reviewed', 'approved', 'superseded', 'cancelled')", name=op.f('ck_verifications_state_known')),
    sa.ForeignKeyConstraint(['batch_id'], ['bench_batches.id'], name=op.f('fk_verifications_batch_id_bench_batches'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_verifications_instrument_id_instruments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['job_item_id'], ['job_items.id'], name=op.f('fk_verifications_job_item_id_job_items'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['method_version_id'], ['method_versions.id'], name=op.f('fk_verifications_method_version_id_method_versions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_verifications_room_id_rooms'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['supersedes_id'], ['verifications.id'], name=op.f('fk_verifications_supersedes_id_verifications'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['technician_id'], ['users.id'], name=op.f('fk_verifications_technician_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verifications')),
    sa.UniqueConstraint('root_id', 'revision', name=op.f('uq_verifications_root_id_revision'))
    )
    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verifications_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('ix_verifications_instrument', ['instrument_id', 'performed_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_verifications_job_item_id'), ['job_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_verifications_root_id'), ['root_id'], unique=False)
        batch_op.create_index('ix_verifications_state', ['state', 'performed_date'], unique=False)
        batch_op.create_index('ix_verifications_technician', ['technician_id', 'performed_date'], unique=False)

    op.create_table('signatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('verification_id', sa.Integer(), nullable=False),
    sa.Column('meaning', sa.String(length=20), nullable=False),
    sa.Column('signer_id', sa.Integer(), nullable=False),
    sa.Column('signer_name', sa.String(length=120), nullable=False),
    sa.Column('signed_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('card_number', sa.String(length=40), nullable=False),
    sa.Column('record_sha256', sa.String(length=64), nullable=False),
    sa.CheckConstraint("meaning IN ('performed', 'reviewed', 'approved')", name=op.f('ck_signatures_meaning_known')),
    sa.ForeignKeyConstraint(['signer_id'], ['users.id'], name=op.f('fk_signatures_signer_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['verification_id'], ['verifications.id'], name=op.f('fk_signatures_verification_id_verifications'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signatures')),
    sa.UniqueConstraint('verification_id', 'meaning', name=op.f('uq_signatures_verification_id_meaning'))
    )
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signatures_signer_id'), ['signer_id'], unique=False)

    op.create_table('verification_standards',
    sa.Column('verification_id', sa.Integer(), nullable=False),
    sa.Column('standard_id', sa.Integer(), nullable=False),
    sa.Column('calibration_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['calibration_id'], ['standard_calibrations.id'], name=op.f('fk_verification_standards_calibration_id_standard_calibrations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['standard_id'], ['standards.id'], name=op.f('fk_verification_standards_standard_id_standards'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['verification_id'], ['verifications.id'], name=op.f('fk_verification_standards_verification_id_verifications'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('verification_id', 'standard_id', name=op.f('pk_verification_standards'))
    )
    with op.batch_alter_table('verification_standards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verification_standards_standard_id'), ['standard_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('verification_standards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verification_standards_standard_id'))

    op.drop_table('verification_standards')
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signatures_signer_id'))

    op.drop_table('signatures')
    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.drop_index('ix_verifications_technician')
        batch_op.drop_index('ix_verifications_state')
        batch_op.drop_index(batch_op.f('ix_verifications_root_id'))
        batch_op.drop_index(batch_op.f('ix_verifications_job_item_id'))
        batch_op.drop_index('ix_verifications_instrument')
        batch_op.drop_index(batch_op.f('ix_verifications_batch_id'))

    op.drop_table('verifications')
    with op.batch_alter_table('fee_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fee_lines_job_id'))

    op.drop_table('fee_lines')
    with op.batch_alter_table('job_items', schema=None) as batch_op:
        batch_op.drop_index('ix_job_items_instrument')

    op.drop_table('job_items')
    op.drop_table('bench_batches')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_state_due')
        batch_op.drop_index('ix_jobs_customer')
        batch_op.drop_index(batch_op.f('ix_jobs_assigned_to_id'))

    op.drop_table('jobs')
    op.drop_table('number_counters')
