"""methods: procedures and their versions (document control)

Revision ID: 0005_methods
Revises: 0004_personnel
Procedures (ĐLVN …) and their versions: effective and withdrawal dates, instrument types, environmental
limits (JSON), adequacy rule, required tests, document file with its SHA-256.
Create Date: 2026-11-22 03:11:59.451011
"""
from alembic import op
import sqlalchemy as sa
import lims.models
from sqlalchemy.dialects import postgresql

revision = '0005_methods'
down_revision = '0004_personnel'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('procedures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('issuer', sa.String(length=200), nullable=False),
    sa.Column('search_key', sa.String(length=400).with_variant(sa.String(length=400, collation='C'), 'postgresql'), nullable=False),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_procedures')),
    sa.UniqueConstraint('number', name=op.f('uq_procedures_number'))
    )
    with op.batch_alter_table('procedures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_procedures_search_key'), ['search_key'], unique=False)

    op.create_table('method_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('procedure_id', sa.Integer(), nullable=False),
    sa.Column('version_label', sa.String(length=20), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('withdrawn_date', sa.Date(), nullable=True),
    sa.Column('withdrawal_reason', sa.Text(), nullable=False),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('instrument_types', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('environment_limits', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('adequacy_divisor', sa.Integer(), nullable=True),
    sa.Column('required_tests', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('document_filename', sa.String(length=200), nullable=False),
    sa.Column('document_path', sa.String(length=200), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=False),
    sa.Column('document_size_bytes', sa.Integer(), nullable=True),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('verification', 'calibration')", name=op.f('ck_method_versions_kind_known')),
    sa.CheckConstraint('adequacy_divisor IS NULL OR adequacy_divisor > 0', name=op.f('ck_method_versions_divisor_positive')),
    sa.CheckConstraint('withdrawn_date IS NULL OR withdrawn_date > effective_date', name=op.f('ck_method_versions_dates_ordered')),
    sa.ForeignKeyConstraint(['procedure_id'], ['procedures.id'], name=op.f('fk_method_versions_procedure_id_procedures'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['replaces_id'], ['method_versions.id'], name=op.f('fk_method_versions_replaces_id_method_versions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_method_versions')),
    sa.UniqueConstraint('procedure_id', 'version_label', name=op.f('uq_method_versions_procedure_id_version_label'))
    )
    with op.batch_alter_table('method_versions', schema=None) as batch_op:
        batch_op.create_index('ix_method_versions_effective', ['effective_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_method_versions_procedure_id'), ['procedure_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('method_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_method_versions_procedure_id'))
        batch_op.drop_index('ix_method_versions_effective')

    op.drop_table('method_versions')
    with op.batch_alter_table('procedures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_procedures_search_key'))

    op.drop_table('procedures')
