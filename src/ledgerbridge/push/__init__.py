"""Push: write-back that answers 202 at once and lands exactly once."""
