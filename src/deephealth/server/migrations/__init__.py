"""Alembic migration environment of the server database (alembic.ini, env.py, versions/)."""
