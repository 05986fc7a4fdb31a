"""personnel competence: qualifications, trainings, authorisations

Revision ID: 0004_personnel
Revises: 0003_standards
The three tables point at users.id (RESTRICT: a person with competence records is deactivated, never deleted) and
leave the users table unchanged.

Create Date: 2026-11-22 03:08:09.081722
"""
from alembic import op
import sqlalchemy as sa
import lims.models

revision = '0004_personnel'
down_revision = '0003_standards'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('authorisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('instrument_type', sa.String(length=30), nullable=False),
    sa.Column('scope', sa.String(length=300), nullable=False),
    sa.Column('can_perform', sa.Boolean(), nullable=False),
    sa.Column('can_review', sa.Boolean(), nullable=False),
    sa.Column('can_approve', sa.Boolean(), nullable=False),
    sa.Column('card_number', sa.String(length=40), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('granted_by_id', sa.Integer(), nullable=True),
    sa.Column('granted_by_authority', sa.String(length=200), nullable=False),
    sa.Column('revoked_date', sa.Date(), nullable=True),
    sa.Column('revocation_reason', sa.Text(), nullable=True),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(revoked_date IS NULL) = (revocation_reason IS NULL)', name=op.f('ck_authorisations_revocation_complete')),
    sa.CheckConstraint('can_perform OR can_review OR can_approve', name=op.f('ck_authorisations_some_role')),
    sa.CheckConstraint('valid_until >= valid_from', name=op.f('ck_authorisations_dates_ordered')),
    sa.ForeignKeyConstraint(['granted_by_id'], ['users.id'], name=op.f('fk_authorisations_granted_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_authorisations_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authorisations'))
    )
    with op.batch_alter_table('authorisations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_authorisations_granted_by_id'), ['granted_by_id'], unique=False)
        batch_op.create_index('ix_authorisations_user_type', ['user_id', 'instrument_type'], unique=False)
        batch_op.create_index('ix_authorisations_valid_until', ['valid_until'], unique=False)

    op.create_table('qualifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('degree', sa.String(length=20), nullable=False),
    sa.Column('field', sa.String(length=160), nullable=False),
    sa.Column('institution', sa.String(length=200), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("degree IN ('doctorate', 'master', 'engineer', 'bachelor', 'college', 'vocational', 'other')", name=op.f('ck_qualifications_degree_known')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_qualifications_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualifications'))
    )
    with op.batch_alter_table('qualifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qualifications_user_id'), ['user_id'], unique=False)

    op.create_table('trainings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('course', sa.String(length=200), nullable=False),
    sa.Column('provider', sa.String(length=200), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('certificate_number', sa.String(length=60), nullable=False),
    sa.Column('certificate_filename', sa.String(length=200), nullable=False),
    sa.Column('certificate_path', sa.String(length=200), nullable=False),
    sa.Column('certificate_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lims.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_trainings_dates_ordered')),
    sa.CheckConstraint('hours > 0', name=op.f('ck_trainings_hours_positive')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_trainings_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trainings'))
    )
    with op.batch_alter_table('trainings', schema=None) as batch_op:
        batch_op.create_index('ix_trainings_end_date', ['end_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_trainings_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('trainings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trainings_user_id'))
        batch_op.drop_index('ix_trainings_end_date')

    op.drop_table('trainings')
    with op.batch_alter_table('qualifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qualifications_user_id'))

    op.drop_table('qualifications')
    with op.batch_alter_table('authorisations', schema=None) as batch_op:
        batch_op.drop_index('ix_authorisations_valid_until')
        batch_op.drop_index('ix_authorisations_user_type')
        batch_op.drop_index(batch_op.f('ix_authorisations_granted_by_id'))

    op.drop_table('authorisations')
