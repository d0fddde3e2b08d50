"""The pure core: values, vocabularies and rules. No I/O, no SQLAlchemy, no FastAPI."""
