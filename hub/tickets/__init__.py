"""Ticket lifecycle: creation, comments, status changes, history."""
