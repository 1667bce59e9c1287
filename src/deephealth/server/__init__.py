"""The DeepHealth web front-end: datasets, models, trainings and inference in shared projects.

A FastAPI application (`deephealth.server.app.create_app`) over a SQLAlchemy database (SQLite by
default, PostgreSQL by URL) with Alembic migrations, worker processes that take jobs from the
database, server-rendered pages and a REST inference endpoint. The web stack (FastAPI, SQLAlchemy,
...) is an optional extra (`pip install deephealth[server]`) and is only imported from the modules
beneath, never by `import deephealth`.
"""
