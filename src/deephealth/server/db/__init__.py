"""The server's database: SQLAlchemy 2 models (`models`), engine/session setup (`engine`) and
Alembic migrations (`migrate`)."""
