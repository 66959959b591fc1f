"""QuickBooks Online (Accounting API v3): pulling pages of changes, mapping payloads to the
unified models, and reading QuickBooks' ``Fault`` errors."""
