"""Pure domain model of orders: no I/O, no gRPC, no pymongo."""
