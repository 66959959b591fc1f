"""The database: engine, sessions scoped to a tenant, and the Alembic migrations."""
