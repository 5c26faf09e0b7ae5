"""Runtime shared by the gRPC services: settings and secrets, JSON logs, metrics, tracing, tenant context,
validation errors and the server bootstrap (health, reflection, graceful shutdown)."""
