"""Incoming provider webhooks: verified, stored, coalesced into targeted syncs."""
