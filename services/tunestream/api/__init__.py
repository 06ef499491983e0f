"""The api: validates and accepts tuning jobs, serves reads of the tracker's tables."""
