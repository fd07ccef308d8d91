"""one-time passwords: a user may have to change theirs at first sign-in, and it may expire

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 18:40:00.000000
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Only the missing columns: a database that create_all built from these models (tests/test_migrations.py adopts
    # one) has them already. Existing users keep the passwords they have: false, no expiry.
    have = {c['name'] for c in sa.inspect(op.get_bind()).get_columns('app_user')}
    add = [c for c in (sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()),
                       sa.Column('password_expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
           if c.name not in have]
    if add:
        with op.batch_alter_table('app_user', schema=None) as batch_op:
            for column in add:
                batch_op.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('password_expires_at')
        batch_op.drop_column('must_change_password')
