"""Durable storage: the registry snapshot, the ledger, and small documents."""
