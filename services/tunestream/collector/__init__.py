"""The collector: turns training output into metric events and each training job's final objective."""
