"""The kind target against recorded API responses, served by a tiny Kubernetes-speaking HTTP server.

tests/fixtures/kind/ holds the list responses of a cluster running the dev overlay (plus CoreDNS), in the API's shape:
items without kind/apiVersion, server metadata and managedFields, status, API-server defaults; the External Secrets
APIs answer 404 (operator not installed). The server speaks just enough of the API (GET list endpoints, a Status
object on 404/403) for the official kubernetes client, which the target uses unchanged through a generated
kubeconfig. The tests prove the collector is read-only, that the facts equal those of the static overlay, and that
every workload scenario gives the same verdict on the recorded cluster as on the static overlay, good and bad.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conformance.facts import Facts
from conformance.manifests import load_documents, object_address, render_overlay, to_resources
from conformance.outcomes import Outcome
from conformance.targets import REGISTRY, RunContext
from conformance.targets.kind import KINDS, KindTarget, kubeconfig_api
from reference import Architecture, load_architecture
from tests.engine import bdd_runner
from tests.engine.test_workload_requirements import KUBERNETES_FEATURES, _pairs, _requirements

pytest.importorskip("kubernetes")
pytestmark = [
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed"),
    # The client calls a urllib3 API that warns about its own deprecation on every error response.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

REPO = Path(__file__).resolve().parents[2]
RECORDED = REPO / "tests" / "fixtures" / "kind"
TOKEN = "recorded-cluster-token"  # a fake bearer token the fake API server expects


def recorded() -> dict[str, dict[str, Any]]:
    """API path -> recorded list response."""
    lists = {}
    for path in RECORDED.glob("*.json"):
        listing = json.loads(path.read_text())
        kind = next(k for k in KINDS if f"{k.kind}List" == listing["kind"])
        lists[kind.path] = listing
    return lists


def with_objects(lists: Mapping[str, dict[str, Any]], objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The recorded lists with ``objects`` substituted by address (or added), as if applied to the cluster."""
    result: dict[str, dict[str, Any]] = json.loads(json.dumps(lists))
    for obj in objects:
        kind = next(k for k in KINDS if k.kind == obj["kind"])
        listing = result.setdefault(
            kind.path, {"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "items": []}
        )
        item = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
        address = object_address(obj)
        items = [i for i in listing["items"] if object_address({"kind": kind.kind, **i}) != address]
        listing["items"] = [*items, item]
    return result


class FakeApiServer:
    """GET-only Kubernetes list endpoints over HTTP; records every request it sees."""

    def __init__(self, lists: Mapping[str, dict[str, Any]], status: int | None = None) -> None:
        self.lists = dict(lists)
        self.requests: list[tuple[str, str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, code: int, body: Mapping[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self) -> None:
                server.requests.append((self.command, self.path, self.headers.get("Authorization")))

            def do_GET(self) -> None:
                self._record()
                path = self.path.split("?", 1)[0]
                if status is not None:
                    self._reply(status, _status(status, "forbidden: recorded refusal"))
                elif path in server.lists:
                    self._reply(200, server.lists[path])
                else:
                    self._reply(404, _status(404, "the server could not find the requested resource"))

            def do_POST(self) -> None:  # anything but GET is a test failure: the target must be read-only
                self._record()
                self._reply(405, _status(405, "read-only fake"))

            do_PUT = do_PATCH = do_DELETE = do_POST

            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _status(code: int, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code}


def write_kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "recorded", "cluster": {"server": server}}],
                "users": [{"name": "reader", "user": {"token": TOKEN}}],
                "contexts": [{"name": "kind-recorded", "context": {"cluster": "recorded", "user": "reader"}}],
                "current-context": "kind-recorded",
            }
        )
    )
    return path


def observe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: str) -> Facts:
    """Run the registered kind target as the pytest plugin does, against ``server``."""
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", server)))
    target = REGISTRY["kind"](RunContext(environment="dev", project_root=REPO, work_dir=tmp_path))
    target.prepare()
    facts = target.observe()
    target.teardown()
    return facts


@pytest.fixture(scope="module")
def architecture() -> Architecture:
    return load_architecture(REPO / "reference" / "architecture.yaml")


@pytest.fixture(scope="module")
def overlay() -> list[dict[str, Any]]:
    return render_overlay(REPO / "infra" / "kubernetes" / "overlays" / "dev")


@pytest.fixture(scope="module")
def scenarios() -> dict[str, bdd_runner.Scenario]:
    return bdd_runner.scenarios(KUBERNETES_FEATURES)


@pytest.fixture
def cluster() -> Iterator[FakeApiServer]:
    with FakeApiServer(recorded()) as server:
        yield server


def static_facts(overlay: list[dict[str, Any]], objects: list[dict[str, Any]] = ()) -> Facts:  # type: ignore[assignment]
    """The static target's view of the same deployment, without Terraform (so the comparison is like for like)."""
    replaced = {object_address(o): o for o in objects}
    merged = [replaced.pop(object_address(o), o) for o in overlay] + list(replaced.values())
    facts = Facts(target="static", environment="dev", sources={"kubernetes"}, unavailable={"terraform": "not here"})
    facts.add(to_resources(merged))
    return facts


# ------------------------------------------------------------------------------------------------ the collector


def test_kind_target_is_registered_and_observes_kubernetes_only() -> None:
    assert REGISTRY["kind"] is KindTarget
    assert KindTarget.sources == frozenset({"kubernetes"})


def test_reads_every_kind_with_list_gets_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster: FakeApiServer
) -> None:
    facts = observe(tmp_path, monkeypatch, cluster.url)
    assert facts.sources == {"kubernetes"}
    assert {method for method, _path, _auth in cluster.requests} == {"GET"}
    assert sorted(path for _m, path, _a in cluster.requests) == sorted(k.path for k in KINDS)
    assert {auth for _m, _p, auth in cluster.requests} == {f"Bearer {TOKEN}"}
    assert facts.metadata["kinds_not_served"] == [
        "ExternalSecret (external-secrets.io/v1beta1)",
        "ClusterSecretStore (external-secrets.io/v1beta1)",
    ]
    assert "kind-recorded" in facts.metadata["cluster"]
    assert "terraform" in facts.unavailable


def test_objects_look_like_the_manifests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster: FakeApiServer, overlay: list[dict[str, Any]]
) -> None:
    facts = observe(tmp_path, monkeypatch, cluster.url)
    live = {r.address: r for r in facts}
    rendered = {object_address(o) for o in overlay if o["kind"] in {k.kind for k in KINDS}}
    rendered -= {a for a in rendered if a.startswith(("ExternalSecret/", "ClusterSecretStore/"))}
    assert rendered <= set(live)  # every applied object is read back (the cluster has CoreDNS besides)
    deployment = live["Deployment/ecommerce/catalog"]
    assert deployment.values["kind"] == "Deployment"
    assert deployment.values["apiVersion"] == "apps/v1"
    assert "status" not in deployment.values
    assert "managedFields" not in deployment.values["metadata"]
    assert deployment.get("spec.template.spec.containers.0.startupProbe.grpc.port") == 50051


# ------------------------------------------------------------------------------------------------ same verdicts


def test_every_scenario_gives_the_same_verdict_as_the_static_overlay(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cluster: FakeApiServer,
    overlay: list[dict[str, Any]],
    architecture: Architecture,
    scenarios: dict[str, bdd_runner.Scenario],
) -> None:
    live = observe(tmp_path, monkeypatch, cluster.url)
    static = static_facts(overlay)
    verdicts = {
        requirement: (bdd_runner.run(s, live, architecture).outcome, bdd_runner.run(s, static, architecture).outcome)
        for requirement, s in scenarios.items()
    }
    assert {r: v for r, v in verdicts.items() if v[0] is not v[1]} == {}
    # Cross-artifact scenarios need Terraform, which neither view has here; all others pass.
    assert {r for r, (outcome, _) in verdicts.items() if outcome is Outcome.NOT_OBSERVABLE} == {
        "REQ-HPA-007",
        "REQ-IRSA-101",
        "REQ-IRSA-102",
        "REQ-IRSA-103",
    }
    assert {outcome for outcome, _ in verdicts.values()} == {Outcome.PASS, Outcome.NOT_OBSERVABLE}


BAD_KUBERNETES_CASES = [p for p in _pairs() if not any(r.startswith("REQ-IRSA") for r in _requirements(p[2]))]


@pytest.mark.parametrize(("name", "good", "bad"), BAD_KUBERNETES_CASES, ids=[p[0] for p in BAD_KUBERNETES_CASES])
def test_a_bad_object_applied_to_the_cluster_turns_the_same_scenario_red(
    name: str,
    good: Path,
    bad: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    overlay: list[dict[str, Any]],
    architecture: Architecture,
    scenarios: dict[str, bdd_runner.Scenario],
) -> None:
    objects = load_documents(bad.read_text(), str(bad))
    with FakeApiServer(with_objects(recorded(), objects)) as server:
        live = observe(tmp_path, monkeypatch, server.url)
    for requirement in _requirements(bad):
        on_cluster = bdd_runner.run(scenarios[requirement], live, architecture)
        on_static = bdd_runner.run(scenarios[requirement], static_facts(overlay, objects), architecture)
        assert on_cluster.outcome is on_static.outcome is Outcome.FAIL, (name, on_cluster.message)


# ------------------------------------------------------------------------------------------------ failures


def test_no_kubeconfig_is_not_observable_with_a_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, architecture: Architecture, scenarios: Any
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    target = KindTarget(RunContext(environment="dev", project_root=REPO, work_dir=tmp_path))
    target.prepare()
    facts = target.observe()
    assert "kubeconfig" in facts.unavailable["kubernetes"]
    assert "kind create cluster" in facts.unavailable["kubernetes"]
    result = bdd_runner.run(scenarios["REQ-POD-003"], facts, architecture)
    assert result.outcome is Outcome.NOT_OBSERVABLE


def test_unreachable_cluster_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, architecture: Architecture, scenarios: Any
) -> None:
    with FakeApiServer({}) as server:
        url = server.url  # the port is free again once the server is gone
    facts = observe(tmp_path, monkeypatch, url)
    assert "not reachable" in facts.errors["kubernetes"]
    assert bdd_runner.run(scenarios["REQ-POD-003"], facts, architecture).outcome is Outcome.ERROR


def test_refused_reads_are_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeApiServer({}, status=403) as server:
        facts = observe(tmp_path, monkeypatch, server.url)
    assert "403" in facts.errors["kubernetes"]


def test_kubeconfig_api_names_the_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:1")))
    _api, description = kubeconfig_api()
    assert description == "context kind-recorded at http://127.0.0.1:1"
