"""PostgreSQL read model: the only package that imports SQLAlchemy."""
