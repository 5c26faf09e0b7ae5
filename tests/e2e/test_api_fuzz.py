"""Schemathesis against the gateway's own OpenAPI 3.1: no 5xx, and every response matches the documented schema.

Every operation is fuzzed anonymously and, when it declares security, with a valid token too (a shopper's; the
admin routes with the tenant admin's), in positive (valid per schema) and negative (invalid) modes. Generation
is derandomised and bounded so a CI run takes about a minute and the same cases run every time (for the same
schema). The test does not stop at the first failure: it collects one reproducible case per (operation, auth,
check) and reports all, each with a curl command (token replaced by $TOKEN).

Known red at the time of writing (reported, not fixed here: the fixes belong to users/catalog/common): a NUL
character in the register or sign-in e-mail or in the search query answers 502; see NUL_CASES below.
Fixed in the gateway after this fuzzer found them: every 4xx documented as application/json HTTPValidationError
while problem+json is sent (services/gateway/problems.py document_problems); PATCH /v1/admin/products with an
expected_version above int64 answered 500 (services/gateway/models.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.conftest import Shop

pytestmark = pytest.mark.slow

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed: pip install -e '.[dev]'")

import requests  # noqa: E402 - a dependency of schemathesis, imported after the skip above
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)
from schemathesis.core.failures import Failure, FailureGroup  # noqa: E402

# Examples per operation, per auth and per mode. Small on purpose: the whole test stays around a minute on two
# shared cores; the derandomised generator makes the run repeatable, so a red run is red again locally.
MAX_EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 6}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
REQUEST_TIMEOUT_S = 15


@dataclass
class Finding:
    operation: str
    auth: str
    mode: str
    check: str
    status: int | None
    message: str
    curl: str
    count: int = 1

    def render(self) -> str:
        head = f"{self.operation} [{self.auth}, {self.mode}] {self.check}"
        return f"{head} (status {self.status}, seen {self.count}x)\n    {self.message}\n    repro: {self.curl}"


def _failure_titles(exc: BaseException) -> list[tuple[str, str]]:
    """(check title, message) for each failure in what validate_response raised."""
    if isinstance(exc, BaseExceptionGroup):
        return [item for e in exc.exceptions for item in _failure_titles(e)]
    if isinstance(exc, Failure):
        return [(exc.title, " ".join(exc.message.split())[:400])]
    return [(type(exc).__name__, str(exc)[:400])]


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    auth: str,
    headers: dict[str, str],
    base_url: str,
    http: requests.Session,
    record: Callable[[Finding], None],
    statuses: Counter[tuple[str, int]],
    undocumented: dict[str, set[int]],
) -> int:
    calls = 0
    documented = {str(code) for code in operation.definition.raw.get("responses", {})}
    # The repro shows a placeholder, never the token itself (CI logs are public).
    shown = {**headers, "Authorization": "Bearer $TOKEN"} if "Authorization" in headers else headers

    # Fixed X-Tenant in the generated case: a random tenant would only ever meet "unknown tenant" and never the
    # handlers; the Authorization header goes in at call time so the token is never mutated by the generator.
    strategy = operation.as_strategy(generation_mode=mode, headers={"X-Tenant": headers["X-Tenant"]})

    @settings(
        max_examples=MAX_EXAMPLES[mode],
        derandomize=True,  # deterministic seed: the same cases on every run
        database=None,  # nothing stored between runs (and no .hypothesis/ folder written into the repo)
        deadline=None,  # request latency is not what is under test here
        phases=[Phase.explicit, Phase.generate],  # no shrinking: it would multiply the requests; we keep the case
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        try:
            response = case.call(base_url=base_url, session=http, headers=headers, timeout=REQUEST_TIMEOUT_S)
            statuses[(auth, response.status_code // 100)] += 1
            if str(response.status_code) not in documented:
                undocumented.setdefault(operation.label, set()).add(response.status_code)
        except requests.RequestException as exc:
            record(
                Finding(
                    operation.label,
                    auth,
                    mode.value,
                    "request failed",
                    None,
                    str(exc)[:300],
                    case.as_curl_command(headers=shown),
                )
            )
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as exc:  # FailureGroup is a BaseExceptionGroup, not an Exception
            for title, message in _failure_titles(exc):
                detail = message or " ".join(response.text.split())[:300]
                record(
                    Finding(
                        operation.label,
                        auth,
                        mode.value,
                        title,
                        response.status_code,
                        detail,
                        case.as_curl_command(headers=shown),
                    )
                )

    run()
    return calls


@pytest.fixture(scope="module")
def fuzz_shop(shop: Shop) -> Shop:
    # Its own storefront: positive admin cases create products with random names, stock and currencies, which
    # would otherwise turn up in the browser test's catalogue and the load test's carts (mixed currencies: 422).
    return shop.onboard("fuzz")


def test_gateway_openapi_fuzz(fuzz_shop: Shop) -> None:
    shop = fuzz_shop
    started = time.monotonic()
    base = {"X-Tenant": shop.tenant}
    schema = schemathesis.openapi.from_url(f"{shop.gateway_url}/v1/openapi.json", headers=base, timeout=10)
    # Repros must be complete (X-Session-Id, Idempotency-Key); the one secret, the token, is replaced above.
    schema.config.output.sanitization.enabled = False
    _, shopper = shop.register("fuzz")
    admin = shop.sign_in(shop.admin_email)

    findings: dict[tuple[str, str, str, str], Finding] = {}

    def record(finding: Finding) -> None:
        key = (finding.operation, finding.auth, finding.mode, finding.check)
        if key in findings:
            findings[key].count += 1
        else:
            findings[key] = finding

    calls = 0
    timings: dict[str, float] = {}
    statuses: Counter[tuple[str, int]] = Counter()
    undocumented: dict[str, set[int]] = {}
    operations = []
    for result in schema.get_all_operations():
        operations.append(result.ok())  # a schema error here is itself a finding: let it raise
    assert len(operations) >= 15, [op.label for op in operations]
    with requests.Session() as http:
        for operation in operations:
            secured = bool(operation.definition.raw.get("security"))
            token = admin if "/admin/" in operation.path else shopper
            auths = {"anonymous": base, **({"token": {**base, "Authorization": f"Bearer {token}"}} if secured else {})}
            op_started = time.monotonic()
            for auth, headers in auths.items():
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    calls += _fuzz(
                        operation, mode, auth, headers, shop.gateway_url, http, record, statuses, undocumented
                    )
            timings[operation.label] = time.monotonic() - op_started

    elapsed = time.monotonic() - started
    print(
        f"\nschemathesis: {len(operations)} operations, {calls} requests in {elapsed:.1f}s, "
        f"{len(findings)} distinct failures"
    )
    print("responses by auth and class: " + ", ".join(f"{a} {c}xx: {n}" for (a, c), n in sorted(statuses.items())))
    # Informational, not a failure (status_code_conformance is not among CHECKS): codes the schema does not list.
    listed = "; ".join(f"{op} {sorted(codes)}" for op, codes in sorted(undocumented.items()))
    print(f"undocumented status codes: {listed}")
    slowest = sorted(timings.items(), key=lambda kv: -kv[1])[:5]
    print("slowest operations: " + ", ".join(f"{label} {seconds:.1f}s" for label, seconds in slowest))
    report = "\n".join(f.render() for f in sorted(findings.values(), key=lambda f: (f.operation, f.auth, f.check)))
    # The token pass must really be signed in (a rejected token would fuzz nothing but the 401 path).
    assert statuses[("token", 2)] > 0, statuses
    assert not findings, f"{len(findings)} failing (operation, auth, mode, check) combinations:\n{report}"


# Found by the fuzzer above and pinned here so each entry point is named: a NUL character in a text input reaches
# PostgreSQL, which refuses it (psycopg.DataError "text fields cannot contain NUL (0x00) bytes"); the service does
# not map that error, so the gateway answers 502 "the <service> service failed". Expected: 422 naming the field.
# common.errors.require_text refuses NUL since c52f779 (display_name, category, product name pass); still red at
# the time of writing: services/common/errors.py require_email (register email; _EMAIL_RE lets \x00 through),
# services/users/servicer.py SignIn (email only stripped and lower-cased), services/catalog/domain.py search_query.
NUL = "a\u0000b"
NUL_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("register-email", "POST /v1/auth/register", {"json": {"email": f"{NUL}@example.com", "password": "x" * 12}}),
    (
        "register-name",
        "POST /v1/auth/register",
        {"json": {"email": "nul-name@example.com", "password": "x" * 12, "display_name": NUL}},
    ),
    ("sign-in-email", "POST /v1/auth/sign-in", {"json": {"email": f"{NUL}@example.com", "password": "x" * 12}}),
    ("search-q", "GET /v1/products/search", {"params": {"q": NUL}}),
    ("list-category", "GET /v1/products", {"params": {"category": NUL}}),
    (
        "admin-create-name",
        "POST /v1/admin/products",
        {
            "json": {
                "sku": "NUL-1",
                "name": NUL,
                "description": "",
                "category": "bags",
                "initial_stock": 1,
                "price": {"amount_minor": 100, "currency": "USD"},
            }
        },
    ),
]


@pytest.mark.parametrize(("label", "operation", "request_kwargs"), NUL_CASES, ids=[c[0] for c in NUL_CASES])
def test_nul_character_in_text_input_is_a_client_error(
    fuzz_shop: Shop, label: str, operation: str, request_kwargs: dict[str, Any]
) -> None:
    shop = fuzz_shop
    method, path = operation.split(" ", 1)
    token = shop.sign_in(shop.admin_email) if "/admin/" in path else None
    with shop.api(token) as api:
        r = api.request(method, path, **request_kwargs)
    assert r.status_code < 500, f"{operation} with a NUL character ({label}): {r.status_code} {r.text[:300]}"


def test_out_of_range_expected_version_is_a_client_error(fuzz_shop: Shop) -> None:
    # Found by the fuzzer: expected_version above int64 made the gateway's protobuf request raise (500). Fixed in
    # services/gateway/models.py (bounded to int64); pinned here because the fuzzer meets it only by chance.
    admin = fuzz_shop.sign_in(fuzz_shop.admin_email)
    with fuzz_shop.api(admin) as api:
        product = api.get("/v1/products", params={"limit": 1}).json()["items"][0]
        r = api.patch(f"/v1/admin/products/{product['id']}", json={"name": "x", "expected_version": 2**64})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "body.expected_version", r.text
