"""Reconciliation: match money movements against invoices, explain every match."""
