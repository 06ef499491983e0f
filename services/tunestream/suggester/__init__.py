"""The suggester: owns strategies, proposes training jobs, decides when a tuning job ends."""
