"""receive -> inbox -> normalize -> correlate -> apply (tickets + history + outbox)."""
