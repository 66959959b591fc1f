"""Xero (Accounting API): pulling Contacts, Invoices, Payments, Items, Accounts,
BankTransactions, CreditNotes and PurchaseOrders, and mapping them to the unified models."""
