"""Assigns training jobs to launchers and retries attempts lost with a launcher."""
