"""SQLAlchemy 2 storage for SQLite (default) and PostgreSQL, with Alembic migrations."""
