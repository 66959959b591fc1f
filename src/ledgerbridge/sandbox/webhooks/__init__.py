"""The providers' webhooks, emulated: where each provider sends them, in its own payload
format and signature, with its own retries (see docs/sandbox.md)."""
