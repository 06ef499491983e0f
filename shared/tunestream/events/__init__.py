"""Events: the only thing services share at run time."""
