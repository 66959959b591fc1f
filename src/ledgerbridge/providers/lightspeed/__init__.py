"""Lightspeed Retail (X-Series) API 2.0: pulling a store's collections and mapping them.

``pull`` pages customers, products, sales and outlets by the store-wide ``version``;
``mapping`` turns their payloads into unified records; ``errors`` reads Lightspeed's
``{"error": ...}`` answers.
"""
