"""The storefront: server-rendered pages (FastAPI + Jinja2) that talk only to the gateway over HTTP."""
