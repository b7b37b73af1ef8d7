"""Placeholder: this task has not landed yet (see README task table)."""
