"""``python -m services.orders``: the orders gRPC server (port SHOP_GRPC_PORT, default 50052)."""

from __future__ import annotations

from services.common.logs import configure_logging
from services.common.settings import Settings
from services.common.tracing import setup_tracing
from services.orders.app import build
from services.orders.settings import OrdersSettings


def main() -> None:
    common = Settings.from_env("orders")
    configure_logging("orders", common.log_level)
    setup_tracing("orders", common.otel_exporter)
    app = build(common, OrdersSettings.from_env())
    app.server.serve_forever()


if __name__ == "__main__":
    main()
