"""The API gateway (backend-for-frontend): REST + OpenAPI 3.1 under /v1 in front of catalog, users and orders."""
