"""The launcher: runs training jobs, streams their output, reports how each ended."""
