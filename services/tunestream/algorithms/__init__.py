"""Programs that stand in for SageMaker's built-in algorithms (tunestream.builtin_algorithms)."""
