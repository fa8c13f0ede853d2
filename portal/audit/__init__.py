"""The append-only audit log: writing events and reading them back."""
