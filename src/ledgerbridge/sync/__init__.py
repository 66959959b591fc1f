"""Pull sync: incremental, resumable, idempotent mirrors of every connection."""
