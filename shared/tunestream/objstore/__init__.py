"""The S3 store: the only package that imports the MinIO SDK."""
