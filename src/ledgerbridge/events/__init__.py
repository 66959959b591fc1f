"""Events: every state change, appended to a durable, ordered, tenant-scoped log."""
