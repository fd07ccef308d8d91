"""Alembic migrations for the store; see README in this folder and trainer/migrate.py."""
