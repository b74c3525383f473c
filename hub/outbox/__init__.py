"""Durable outbound actions: written with the change that causes them, delivered at least once."""
