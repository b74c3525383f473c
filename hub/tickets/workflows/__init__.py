"""Onboarding, transfer and offboarding workflows started by HR person events.

templates: YAML templates (config/workflows/) -> validated Template objects; render and match.
engine: a person event starts, corrects (new date), or cancels (rescinded) a workflow.
progress: task tickets closing (by hand or by their automated step) start the next ones and close
the parent; the outbox reports automated steps' outcomes here.
people: the last state each HR instance reported per person (for the drift check).
"""
