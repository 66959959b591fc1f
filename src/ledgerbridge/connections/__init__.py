"""Connections: OAuth connect flows, the encrypted token vault, refresh exactly once, mappings."""
