"""`tunestream replay NAME`: rebuild a tuning job's tracker state and suggester decisions from its
Kafka history, and report how they differ from what the live services recorded."""
