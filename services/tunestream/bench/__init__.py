"""The search bench: recorded learning curves (curve tables), a simulated clock and W workers, and
tunestream's own suggester decisions beside the peers' on the same tables.

Search questions are decided here, over hundreds of seeds, and confirmed live afterwards.
"""
