"""baseline: trainees, calls, turns, scorecards (the schema create_all made before migrations existed)

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 08:54:05.268307
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Idempotent on purpose: a database made before migrations existed (by create_all) may already hold
    # some or all of these tables; they are kept as they are, and the missing ones are created.
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if 'trainee' not in have:
        op.create_table('trainee',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('trainee', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_trainee_name'), ['name'], unique=True)

    if 'call' not in have:
        op.create_table('call',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('trainee_id', sa.Integer(), nullable=False),
        sa.Column('scenario_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('persona_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('persona_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('persona_snapshot', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('customer_model', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('settings_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('end_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('start_mood', sa.Float(), nullable=False),
        sa.Column('final_mood', sa.Float(), nullable=True),
        sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['trainee_id'], ['trainee.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('call', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_call_scenario_id'), ['scenario_id'], unique=False)
            batch_op.create_index(batch_op.f('ix_call_trainee_id'), ['trainee_id'], unique=False)

    if 'scorecard' not in have:
        op.create_table('scorecard',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('rubric_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('rubric_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('grader_model', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('settings_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('overall', sa.Float(), nullable=False),
        sa.Column('passed', sa.Boolean(), nullable=False),
        sa.Column('result_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['call.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('scorecard', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_scorecard_call_id'), ['call_id'], unique=False)

    if 'turn' not in have:
        op.create_table('turn',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('idx', sa.Integer(), nullable=False),
        sa.Column('speaker', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('mood_after', sa.Float(), nullable=True),
        sa.Column('beat', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('meta_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['call.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('turn', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_turn_call_id'), ['call_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('turn', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_turn_call_id'))

    op.drop_table('turn')
    with op.batch_alter_table('scorecard', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scorecard_call_id'))

    op.drop_table('scorecard')
    with op.batch_alter_table('call', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_call_scenario_id'))

    op.drop_table('call')
    with op.batch_alter_table('trainee', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trainee_name'))

    op.drop_table('trainee')
