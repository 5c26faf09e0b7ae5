"""The /v1 REST routes."""
