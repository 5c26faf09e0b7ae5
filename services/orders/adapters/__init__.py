"""Adapters: the MongoDB-wire store (DocumentDB / nx-27017)."""
