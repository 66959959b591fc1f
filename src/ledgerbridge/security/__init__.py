"""Who is calling: JWTs from the host app, API keys, roles and tenancy."""
