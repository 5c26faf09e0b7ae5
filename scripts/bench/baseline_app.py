"""The bare FastAPI baseline for issue 7: one JSON endpoint returning a page of 20 products.

    uvicorn scripts.bench.baseline_app:app --workers 1 --loop uvloop --http httptools --no-access-log --port 8099

``BENCH_BASELINE_PAYLOAD`` may name a JSON file holding the gateway's own product page (bench.sh saves it), so the
baseline serialises exactly the same document the gateway serves; without it, 20 synthetic products of the same
shape are used. The dicts are serialised with orjson on every request (nothing pre-encoded): that is what a bare
JSON endpoint costs, and the gateway's cached path is compared against it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse


def synthetic_page(count: int = 20) -> dict[str, Any]:
    items = [
        {
            "id": f"00000000-0000-4000-8000-{i:012d}",
            "sku": f"BENCH-{i:03d}",
            "name": f"Bench product {i}",
            "description": "A product created for the load benchmark; its text is about as long as a real one.",
            "price": {"amount_minor": 1000 + i, "currency": "USD"},
            "category": "bench",
            "stock_available": 1_000_000,
            "version": 1,
        }
        for i in range(count)
    ]
    return {"items": items, "next_cursor": None}


def load_page() -> dict[str, Any]:
    path = os.environ.get("BENCH_BASELINE_PAYLOAD", "")
    if path:
        page: dict[str, Any] = json.loads(Path(path).read_text())
        return page
    return synthetic_page()


PAGE = load_page()
app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/v1/products", response_class=ORJSONResponse)
async def products() -> ORJSONResponse:
    return ORJSONResponse(PAGE)
