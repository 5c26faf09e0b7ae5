"""gRPC contracts of the shop services (.proto sources) and their generated Python code under ``gen``.

Import generated modules as ``from services.protos.gen.shop.catalog.v1 import catalog_pb2, catalog_pb2_grpc``.
Regenerate with ``python -m services.protos.generate`` after editing a .proto file.
"""
