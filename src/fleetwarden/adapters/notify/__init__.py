"""Sending notifications out of fleetwarden (alert webhooks)."""
