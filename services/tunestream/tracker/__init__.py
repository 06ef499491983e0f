"""The tracker: keeps the read model in PostgreSQL and training logs in S3."""
