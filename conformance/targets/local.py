"""The local target: the five services running on this machine, brought up by the suite and torn down after.

``prepare()`` starts a private platform with ``services.runner`` (every port a free one, root
``.work/local-target/<pid>-<random>``) so it never collides with a developer's ``shopctl up`` or another test run,
then onboards two storefronts (``acme`` and ``globex``), each with an admin user and the demo catalogue.
``observe()`` produces the ``services`` source only: ``Facts.metadata["services"]`` is a :class:`Shop` (where the
gateway, the frontend and the gRPC services listen, the storefronts and their admin credentials, a handle to stop
and start one component). Terraform, AWS and Kubernetes evidence does not exist here, so every infrastructure and
workload requirement reports "not observable". Credentials stay in memory; nothing secret is logged.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from conformance.facts import Facts, Resource
from conformance.targets.base import Target, register

TENANTS = ("acme", "globex")
SERVICES_SOURCE = "services"
NOT_HERE = "the local target runs the services as processes on this machine"
ALL_PORTS_FREE = {
    name: 0 for name in ("postgres", "redis", "mongo", "aws", "catalog", "users", "orders", "gateway", "frontend")
}


class ComponentControl(Protocol):
    """Stop and start one component of the deployment (resilience scenarios) and tell its process identity."""

    def stop(self, name: str) -> None: ...

    def start(self, name: str) -> None: ...

    def identity(self, name: str) -> str: ...


@dataclass(frozen=True)
class Storefront:
    """One tenant and its admin user. The password lives only in memory (repr hides it)."""

    tenant: str
    admin_email: str
    admin_password: str = field(repr=False)


@dataclass(frozen=True)
class Shop:
    """What the ``services`` source tells steps: where the shop listens and how to act on it.

    ``signing_key`` (optional) returns the users service's current ES256 key as ``(kid, private key)``: only a
    target that owns the deployment's key material offers it (it lets a check mint an *expired but genuinely
    signed* token). ``control`` (optional) stops and starts one component.
    """

    gateway_url: str
    frontend_url: str
    grpc: dict[str, str]
    storefronts: tuple[Storefront, ...]
    control: ComponentControl | None = None
    signing_key: Callable[[], tuple[str, Any]] | None = None

    def storefront(self, tenant: str) -> Storefront:
        for store in self.storefronts:
            if store.tenant == tenant:
                return store
        raise KeyError(f"no storefront {tenant!r}; known: {[s.tenant for s in self.storefronts]}")


class RunnerControl:
    """ComponentControl over ``services.runner`` (the same spawn/stop code as ``shopctl up``)."""

    def __init__(self, config: Any) -> None:
        self.config = config

    def stop(self, name: str) -> None:
        from services.runner import stop_component

        stop_component(self.config, name, crash=True)

    def start(self, name: str) -> None:
        from services.runner import start_component

        start_component(self.config, name)

    def identity(self, name: str) -> str:
        from services.runner.state import State

        state = State.load(self.config.state_file)
        comp = state.components[name] if state is not None else None
        return "" if comp is None else f"pid {comp.pid} started {comp.start_ticks}"


def load_signing_key(root: Path) -> tuple[str, Any]:
    """The users service's active signing key, read as the users service reads it (its database + jwt-keys)."""
    from services.common.pg import Database
    from services.common.settings import Secret
    from services.users.keys import KeyRing

    secrets_dir = root / "secrets" / "users"
    db = Database((secrets_dir / "database-url").read_text().strip(), min_size=1, max_size=1, name="conformance")
    db.open()
    try:
        ring = KeyRing(
            db, Secret((secrets_dir / "jwt-keys").read_text().strip()), rotation_seconds=1e9, overlap_seconds=1e9
        )
        ring.refresh_if_stale(0)
        key = ring.signing_key()
    finally:
        db.close()
    return key.kid, key.private_key


@register
class LocalTarget(Target):
    name = "local"
    description = "the five services on this machine (services.runner, free ports), two storefronts"
    sources = frozenset({SERVICES_SOURCE})

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.root = self.context.work_dir / "local-target" / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.config: Any = None
        self.shop: Shop | None = None
        self.components: dict[str, Any] = {}
        self.error: str | None = None

    def _runner_config(self) -> Any:
        from services.runner import RunnerConfig

        def progress(event: Any) -> None:
            # Only the milestones: per-component chatter would drown the test output.
            if event.component == "platform" or event.phase == "failed":
                self.context.progress(f"local platform: {event.phase} {event.message}".strip())

        # demo_tenant = acme: a request without X-Tenant lands on a real storefront, as `shopctl up` does for
        # "demo"; the runner's own demo seeding is off because create_tenant seeds each storefront.
        return RunnerConfig(
            root=self.root, ports=dict(ALL_PORTS_FREE), demo_tenant=TENANTS[0], seed_demo=False, progress=progress
        )

    def prepare(self) -> None:
        from services.runner import RunnerError, up

        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # PostgreSQL runs as the postgres user and must reach <root>/pg
        self.config = self._runner_config()
        self.context.progress(f"local platform: starting under {self.root} on free ports")
        atexit.register(self._teardown_at_exit)
        try:
            platform = up(self.config)
            self.components = dict(platform.components)
            self.shop = self._onboard(platform)
        except RunnerError as exc:
            self.error = str(exc)
            self.context.progress(f"error: {str(exc).splitlines()[0]}")

    def _onboard(self, platform: Any) -> Shop:
        from services.runner.tenants import create_tenant

        storefronts = []
        for tenant in TENANTS:
            store = Storefront(tenant, f"admin@{tenant}.example.com", secrets.token_urlsafe(18))
            created = create_tenant(
                self.config, tenant, tenant.capitalize(), store.admin_email, store.admin_password, demo_catalogue=True
            )
            self.context.progress(f"storefront {tenant}: {created.catalogue}")
            storefronts.append(store)
        root = self.root
        return Shop(
            gateway_url=platform.addr("gateway"),
            frontend_url=platform.addr("frontend"),
            grpc={name: platform.addr(name) for name in ("catalog", "users", "orders")},
            storefronts=tuple(storefronts),
            control=RunnerControl(self.config),
            signing_key=lambda: load_signing_key(root),
        )

    def observe(self) -> Facts:
        facts = Facts(target=self.name, environment=self.context.environment)
        for source in ("terraform", "aws", "kubernetes"):
            facts.unavailable[source] = f"{NOT_HERE}; it has no {source} evidence"
        if self.shop is None:
            facts.errors[SERVICES_SOURCE] = self.error or "the local platform was not prepared"
            return facts
        facts.sources.add(SERVICES_SOURCE)
        facts.metadata[SERVICES_SOURCE] = self.shop
        facts.add(
            Resource("local/process", f"local.{name}", {"port": comp.port, "url": comp.url, "kind": comp.kind})
            for name, comp in self.components.items()
        )
        return facts

    def teardown(self) -> None:
        from services.runner import down

        if self.config is None:
            return
        report = down(self.config)
        self.config = None
        if report.clean:
            shutil.rmtree(self.root, ignore_errors=True)
            self.context.progress("local platform: stopped")
        else:
            self.context.progress(f"local platform: left behind {report.leftovers}; root kept at {self.root}")

    def _teardown_at_exit(self) -> None:
        # An interrupted run (Ctrl-C before the session fixture finalises) must not leave processes behind.
        if self.config is not None and not self.context.keep:
            with contextlib.suppress(Exception):
                self.teardown()
