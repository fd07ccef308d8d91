"""accounts, curricula progress, dashboard, studio and voice tables (and the call/trainee columns they added)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:48:21.108937
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Idempotent on purpose: databases made before migrations existed were built by create_all from
    # whichever feature branches had run, so any of these tables or columns may already be there.
    bind = op.get_bind()
    have = set(sa.inspect(bind).get_table_names())
    if 'content_revision' not in have:
        op.create_table('content_revision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('content_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('yaml_text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('author', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'content_id', 'revision', name='uq_content_revision')
        )
        with op.batch_alter_table('content_revision', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_content_revision_content_hash'), ['content_hash'], unique=False)
            batch_op.create_index(batch_op.f('ix_content_revision_content_id'), ['content_id'], unique=False)
            batch_op.create_index(batch_op.f('ix_content_revision_kind'), ['kind'], unique=False)

    if 'login_attempt' not in have:
        op.create_table('login_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('ok', sa.Boolean(), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('login_attempt', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_login_attempt_at'), ['at'], unique=False)
            batch_op.create_index(batch_op.f('ix_login_attempt_username'), ['username'], unique=False)

    if 'team' not in have:
        op.create_table('team',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('lead_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('team', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_team_lead_id'), ['lead_id'], unique=False)
            batch_op.create_index(batch_op.f('ix_team_name'), ['name'], unique=True)

    if 'app_user' not in have:
        op.create_table('app_user',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('role', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('team_id', sa.Integer(), nullable=True),
        sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('last_login_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('app_user', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_app_user_team_id'), ['team_id'], unique=False)
            batch_op.create_index(batch_op.f('ix_app_user_username'), ['username'], unique=True)

    if 'assignment' not in have:
        op.create_table('assignment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('team_id', sa.Integer(), nullable=True),
        sa.Column('assigned_by', sa.Integer(), nullable=False),
        sa.Column('curriculum_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('scenario_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('grants_retry', sa.Boolean(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['assigned_by'], ['app_user.id'], ),
        sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('assignment', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_assignment_user_id'), ['user_id'], unique=False)

    if 'certificate' not in have:
        op.create_table('certificate',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('curriculum_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('curriculum_title', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('average_score', sa.Float(), nullable=False),
        sa.Column('medal', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('issued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('certificate', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_certificate_code'), ['code'], unique=True)
            batch_op.create_index(batch_op.f('ix_certificate_curriculum_id'), ['curriculum_id'], unique=False)
            batch_op.create_index(batch_op.f('ix_certificate_user_id'), ['user_id'], unique=False)

    if 'login_session' not in have:
        op.create_table('login_session',
        sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
        sa.PrimaryKeyConstraint('token_hash')
        )
        with op.batch_alter_table('login_session', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_login_session_user_id'), ['user_id'], unique=False)

    if 'coaching_comment' not in have:
        op.create_table('coaching_comment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('criterion_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['author_id'], ['app_user.id'], ),
        sa.ForeignKeyConstraint(['call_id'], ['call.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('coaching_comment', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_coaching_comment_call_id'), ['call_id'], unique=False)

    if 'voice_call' not in have:
        op.create_table('voice_call',
        sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('clock0', sa.Float(), nullable=False),
        sa.Column('audio_path', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('layout', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('meta_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['call.id'], ),
        sa.PrimaryKeyConstraint('call_id')
        )

    if 'voice_segment' not in have:
        op.create_table('voice_segment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('turn_idx', sa.Integer(), nullable=False),
        sa.Column('speaker', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('start_s', sa.Float(), nullable=False),
        sa.Column('end_s', sa.Float(), nullable=False),
        sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('n_words', sa.Integer(), nullable=True),
        sa.Column('audio_path', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('timings_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['call.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('voice_segment', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_voice_segment_call_id'), ['call_id'], unique=False)

    cols = {c["name"] for c in sa.inspect(bind).get_columns("call")}
    with op.batch_alter_table('call', schema=None) as batch_op:
        if 'mode' not in cols:
            batch_op.add_column(sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='practice'))
        if 'curriculum_id' not in cols:
            batch_op.add_column(sa.Column('curriculum_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        if 'module_id' not in cols:
            batch_op.add_column(sa.Column('module_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    if 'ix_call_curriculum_id' not in {i["name"] for i in sa.inspect(bind).get_indexes("call")}:
        op.create_index('ix_call_curriculum_id', 'call', ['curriculum_id'], unique=False)

    cols = {c["name"] for c in sa.inspect(bind).get_columns("trainee")}
    fks = [fk for fk in sa.inspect(bind).get_foreign_keys("trainee") if fk["referred_table"] == "app_user"]
    with op.batch_alter_table('trainee', schema=None) as batch_op:
        if 'user_id' not in cols:
            batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        if not fks:
            batch_op.create_foreign_key('fk_trainee_user_id_app_user', 'app_user', ['user_id'], ['id'])
    if 'ix_trainee_user_id' not in {i["name"] for i in sa.inspect(bind).get_indexes("trainee")}:
        op.create_index('ix_trainee_user_id', 'trainee', ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('trainee', schema=None) as batch_op:
        batch_op.drop_constraint('fk_trainee_user_id_app_user', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_trainee_user_id'))
        batch_op.drop_column('user_id')

    with op.batch_alter_table('call', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_curriculum_id'))
        batch_op.drop_column('module_id')
        batch_op.drop_column('curriculum_id')
        batch_op.drop_column('mode')

    with op.batch_alter_table('voice_segment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voice_segment_call_id'))

    op.drop_table('voice_segment')
    op.drop_table('voice_call')
    with op.batch_alter_table('coaching_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coaching_comment_call_id'))

    op.drop_table('coaching_comment')
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_session_user_id'))

    op.drop_table('login_session')
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_user_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_curriculum_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_code'))

    op.drop_table('certificate')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignment_user_id'))

    op.drop_table('assignment')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_user_username'))
        batch_op.drop_index(batch_op.f('ix_app_user_team_id'))

    op.drop_table('app_user')
    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_name'))
        batch_op.drop_index(batch_op.f('ix_team_lead_id'))

    op.drop_table('team')
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_attempt_username'))
        batch_op.drop_index(batch_op.f('ix_login_attempt_at'))

    op.drop_table('login_attempt')
    with op.batch_alter_table('content_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_content_revision_kind'))
        batch_op.drop_index(batch_op.f('ix_content_revision_content_id'))
        batch_op.drop_index(batch_op.f('ix_content_revision_content_hash'))

    op.drop_table('content_revision')
