"""certificates: issued certificates and their records and PDFs, the stamp inventory

Revision ID: 0009_certificates
Revises: 0008_workflow
Creates only the tables of lims.certificates besides seal_keys (stamp_batches, stamps, certificates,
certificate_records); no existing table changes. The certificates' immutability (what a certificate says never
changes, nothing is deleted) is enforced by lims.certificates.services, besides the CHECK constraints here.

Create Date: 2026-11-22 04:06:33.798331
"""
from alembic import op
import sqlalchemy as sa
import lims.models
from sqlalchemy.dialects import postgresql

revision = '0009_certificates'
down_revision = '0008_workflow'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stamp_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series', sa.String(length=20), nullable=False),
    sa.Column('first_number', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.Column('received_date', sa.Date(), nullable=False),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('first_number > 0 AND last_number >= first_number', name=op.f('ck_stamp_batches_range_ordered')),
    sa.ForeignKeyConstraint(['received_by_id'], ['users.id'], name=op.f('fk_stamp_batches_received_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stamp_batches'))
    )
    op.create_table('stamps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('series', sa.String(length=20), nullable=False),
    sa.Column('serial_no', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('assigned_to_id', sa.Integer(), nullable=True),
    sa.Column('assigned_at', lims.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_at', lims.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('spoiled_at', lims.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('spoiled_reason', sa.Text(), nullable=False),
    sa.Column('spoiled_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state <> 'assigned' OR assigned_to_id IS NOT NULL", name=op.f('ck_stamps_assigned_has_holder')),
    sa.CheckConstraint("state IN ('available', 'assigned', 'used', 'spoiled')", name=op.f('ck_stamps_state_known')),
    sa.ForeignKeyConstraint(['assigned_to_id'], ['users.id'], name=op.f('fk_stamps_assigned_to_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['batch_id'], ['stamp_batches.id'], name=op.f('fk_stamps_batch_id_stamp_batches'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['spoiled_by_id'], ['users.id'], name=op.f('fk_stamps_spoiled_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stamps')),
    sa.UniqueConstraint('number', name=op.f('uq_stamps_number')),
    sa.UniqueConstraint('series', 'serial_no', name=op.f('uq_stamps_series_serial_no'))
    )
    with op.batch_alter_table('stamps', schema=None) as batch_op:
        batch_op.create_index('ix_stamps_batch', ['batch_id', 'serial_no'], unique=False)
        batch_op.create_index('ix_stamps_holder', ['assigned_to_id', 'state', 'id'], unique=False)

    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('series', sa.String(length=10), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('verification_id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('issued_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('stamp_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('amendment_reason', sa.Text(), nullable=False),
    sa.Column('superseded_at', lims.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', lims.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.Text(), nullable=False),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('serial', sa.String(length=80), nullable=False),
    sa.Column('serial_key', sa.String(length=80).with_variant(sa.String(length=80, collation='C'), 'postgresql'), nullable=False),
    sa.Column('customer_name', sa.String(length=200), nullable=False),
    sa.Column('customer_key', sa.String(length=200).with_variant(sa.String(length=200, collation='C'), 'postgresql'), nullable=False),
    sa.Column('instrument_type', sa.String(length=20), nullable=False),
    sa.Column('summary', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('record_digest', sa.String(length=40), nullable=False),
    sa.Column('seal_key_id', sa.String(length=8), nullable=False),
    sa.Column('seal_token', sa.String(length=300), nullable=False),
    sa.Column('seal_url', sa.String(length=500), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('issue_request_key', sa.String(length=100), nullable=False),
    sa.CheckConstraint("kind <> 'failure_notice' OR (stamp_id IS NULL AND valid_until IS NULL)", name=op.f('ck_certificates_notice_has_no_stamp')),
    sa.CheckConstraint("kind IN ('verification', 'calibration', 'failure_notice')", name=op.f('ck_certificates_kind_known')),
    sa.CheckConstraint("status <> 'revoked' OR revoked_at IS NOT NULL", name=op.f('ck_certificates_revoked_has_date')),
    sa.CheckConstraint("status IN ('issued', 'superseded', 'revoked')", name=op.f('ck_certificates_status_known')),
    sa.CheckConstraint('replaces_id IS NULL OR revision > 0', name=op.f('ck_certificates_amendment_is_revision')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_certificates_customer_id_customers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_certificates_instrument_id_instruments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_certificates_issued_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['replaces_id'], ['certificates.id'], name=op.f('fk_certificates_replaces_id_certificates'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_certificates_revoked_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['seal_key_id'], ['seal_keys.id'], name=op.f('fk_certificates_seal_key_id_seal_keys'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['stamp_id'], ['stamps.id'], name=op.f('fk_certificates_stamp_id_stamps'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['verification_id'], ['verifications.id'], name=op.f('fk_certificates_verification_id_verifications'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('issue_request_key', name=op.f('uq_certificates_issue_request_key')),
    sa.UniqueConstraint('number', name=op.f('uq_certificates_number')),
    sa.UniqueConstraint('replaces_id', name=op.f('uq_certificates_replaces_id')),
    sa.UniqueConstraint('series', 'year', 'seq', name=op.f('uq_certificates_series_year_seq'))
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index('ix_certificates_customer', ['customer_key'], unique=False)
        batch_op.create_index('ix_certificates_instrument', ['instrument_id', 'issue_date'], unique=False)
        batch_op.create_index('ix_certificates_issue_date', ['issue_date', 'id'], unique=False)
        batch_op.create_index('ix_certificates_serial', ['serial_key'], unique=False)
        batch_op.create_index('ix_certificates_stamp', ['stamp_id'], unique=False)
        batch_op.create_index('ix_certificates_status', ['status', 'issue_date'], unique=False)
        batch_op.create_index('ix_certificates_verification', ['verification_id'], unique=False)

    op.create_table('certificate_records',
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('record', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'], name=op.f('fk_certificate_records_certificate_id_certificates'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('certificate_id', name=op.f('pk_certificate_records'))
    )


def downgrade() -> None:
    op.drop_table('certificate_records')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_verification')
        batch_op.drop_index('ix_certificates_status')
        batch_op.drop_index('ix_certificates_stamp')
        batch_op.drop_index('ix_certificates_serial')
        batch_op.drop_index('ix_certificates_issue_date')
        batch_op.drop_index('ix_certificates_instrument')
        batch_op.drop_index('ix_certificates_customer')

    op.drop_table('certificates')
    with op.batch_alter_table('stamps', schema=None) as batch_op:
        batch_op.drop_index('ix_stamps_holder')
        batch_op.drop_index('ix_stamps_batch')

    op.drop_table('stamps')
    op.drop_table('stamp_batches')
