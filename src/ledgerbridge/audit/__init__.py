"""The audit log: every call ledgerbridge makes to a provider, secrets redacted."""
