"""Orders service: order placement and lifecycle over the MongoDB wire protocol (DocumentDB in AWS)."""
