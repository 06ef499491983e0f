"""The tunestream command line."""
