"""The localstack target: ``terraform apply`` of an environment into an AWS emulator, every fact read back live.

The emulator is whatever answers at ``--endpoint`` / ``AWS_ENDPOINT_URL`` (default http://127.0.0.1:4566): a user's
LocalStack, or the project's own moto server, which is started (with the shims of :mod:`conformance.shims`) when
nothing answers. The engine is detected, and the services it cannot emulate are "not observable" there.

Apply happens once per run, also under pytest-xdist (a file lock and a marker carrying the run id); the last worker
to finish cleans up: an emulator this run started is stopped (moto keeps state in memory, so that is the whole
clean-up, in a second), one that was already running gets a ``terraform destroy``. ``--keep`` leaves everything.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3

from conformance import emulator as emu
from conformance.collectors import SERVICES, CollectContext, collect_all, service_of
from conformance.facts import Facts
from conformance.live import terraform_aliases, to_facts, with_terraform_addresses
from conformance.outcomes import CheckError
from conformance.targets.base import Target, register
from conformance.terraform import TerraformMissing, TerraformRunner, _locked

REGION = "us-east-1"  # the override file pins the provider to it; the emulator's account lives there


def run_id() -> str:
    # pytest-xdist gives every worker of one run the same id: the apply is shared by them, not repeated.
    return os.environ.get("PYTEST_XDIST_TESTRUNUID") or _PROCESS_RUN_ID


_PROCESS_RUN_ID = uuid.uuid4().hex


def emulator_session() -> boto3.session.Session:
    """A session with the emulator's public dummy credentials, never the user's real ones."""
    return boto3.session.Session(
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - the emulator's well-known dummy credential
        region_name=REGION,
    )


def tolerable_failures(message: str, unserved: Mapping[str, str]) -> bool:
    """An apply that failed only on resources the engine cannot serve (LocalStack community: RDS, EKS...)."""
    addresses = re.findall(r"with (\S+),", message)
    if not addresses:
        return False
    for address in addresses:
        resource_type = next((p for p in address.split(".") if p.startswith("aws_")), "")
        resource_type = resource_type.split("[")[0]
        if service_of(resource_type) not in unserved:
            return False
    return True


@register
class LocalStackTarget(Target):
    name = "localstack"
    description = "terraform apply into an AWS emulator (LocalStack, or the embedded moto), read back with boto3"
    sources = frozenset({"aws"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint = self.context.endpoint or os.environ.get("AWS_ENDPOINT_URL") or emu.DEFAULT_ENDPOINT
        self.engine = "unknown"
        self.state: dict[str, Any] = {}
        self.problem: str | None = None  # not observable (no Terraform)
        self.error: str | None = None  # apply or emulator failure
        self.unserved: dict[str, str] = {}
        self._joined = False
        self.apply_failures: list[str] = []
        self._started_emulator = False

    # --------------------------------------------------------------------------------------------- plumbing
    @property
    def live_root(self) -> Path:
        return self.context.work_dir / "terraform" / "live"

    @property
    def emulator_dir(self) -> Path:
        return self.context.work_dir / "emulator"

    def runner(self) -> TerraformRunner:
        ctx = self.context
        return TerraformRunner(ctx.infra_dir / "terraform", ctx.work_dir / "terraform", ctx.progress)

    def _marker(self) -> Path:
        return self.live_root / f"{self.context.environment}.run.json"

    def _read_marker(self) -> dict[str, Any]:
        try:
            data = json.loads(self._marker().read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_marker(self, data: Mapping[str, Any]) -> None:
        self._marker().parent.mkdir(parents=True, exist_ok=True)
        self._marker().write_text(json.dumps(data))

    # --------------------------------------------------------------------------------------------- lifecycle
    def _start_or_find_emulator(self) -> None:
        if emu.any_port(self.endpoint):
            # A private emulator on a free port: the workers of one run share the one the first worker started.
            marker = self._read_marker()
            if marker.get("emulator_run") == run_id() and marker.get("emulator_endpoint"):
                self.endpoint = str(marker["emulator_endpoint"])
        started = emu.ensure_emulator(self.endpoint, self.emulator_dir / "logs")
        self.endpoint = started.endpoint  # the port actually used when the launcher chose it
        if started.process is not None:
            self._started_emulator = True
            self.context.progress(f"started the embedded AWS emulator (moto + shims) at {started.endpoint}")
            emu.write_state(self.emulator_dir, started)
            marker = self._read_marker()
            marker.update(emulator_run=run_id(), emulator_pid=started.process.pid, emulator_endpoint=started.endpoint)
            self._write_marker(marker)
        # The moto this run started is moto by construction; anything else is asked.
        self.engine = emu.MOTO if started.process is not None else emu.detect_engine(self.endpoint)
        recorded = emu.read_state(self.emulator_dir, self.endpoint) or {}
        if self.engine == emu.MOTO and started.process is None and recorded.get("endpoint") != self.endpoint:
            self.context.progress(
                f"warning: a moto at {self.endpoint} was not started by this project (`shopctl emulator start`); "
                "without the project's shims an apply fails on DocumentDB, ElastiCache and EKS add-ons"
            )
        self.unserved = emu.unavailable_services(self.engine, self.endpoint, tuple(SERVICES))
        self.context.progress(f"emulator engine at {self.endpoint}: {self.engine}")

    def prepare(self) -> None:
        lock = self.live_root / f"{self.context.environment}.lock"
        try:
            with _locked(lock):
                self._start_or_find_emulator()
                marker = self._read_marker()
                users = int(marker.get("users", 0)) if marker.get("run") == run_id() else 0
                runner = self.runner()
                if marker.get("run") == run_id() and marker.get("applied") and marker.get("endpoint") == self.endpoint:
                    self.context.progress("already applied in this run: reading the shared state")
                    self.state = runner.state(self.context.environment)
                else:
                    self.state = self._apply(runner)
                    marker.update(run=run_id(), applied=True, endpoint=self.endpoint)
                marker.update(run=run_id(), users=users + 1)
                self._write_marker(marker)
                self._joined = True
        except TerraformMissing as exc:
            self.problem = str(exc)
            self.context.progress(f"not observable: {exc}")
        except CheckError as exc:
            self.error = str(exc)
            self.context.progress(f"error: {exc}")

    def _apply(self, runner: TerraformRunner) -> dict[str, Any]:
        env = self.context.environment
        try:
            return runner.apply(env, self.endpoint, plan_first=bool(self.unserved))
        except TerraformMissing:
            raise
        except CheckError as exc:
            if self.engine != emu.LOCALSTACK and not (self.unserved and tolerable_failures(str(exc), self.unserved)):
                raise
            # LocalStack community lacks whole services (and some operations): what it could not create is
            # reported per type as not observable there (uncreated_types), never as a pass or a failure.
            self.apply_failures = re.findall(r"with (\S+),", str(exc))
            self.context.progress(
                f"{self.engine} could not create {len(self.apply_failures)} resource(s) "
                f"({', '.join(self.apply_failures[:6])}...): their types stay not observable"
            )
            return runner.state(env)

    def observe(self) -> Facts:
        env = self.context.environment
        if self.problem is not None or self.error is not None:
            facts = Facts(target=self.name, environment=env)
            if self.problem is not None:
                facts.unavailable["aws"] = self.problem
            else:
                facts.errors["aws"] = str(self.error)
            return facts
        ctx = CollectContext(
            session=emulator_session(),
            region=REGION,
            environment=env,
            endpoint=self.endpoint,
            cluster_name=_output(self.state, "cluster_name"),
        )
        collection = collect_all(ctx, skip=self.unserved, lenient=self.engine == emu.LOCALSTACK)
        collection.unavailable.update(self.uncreated_types())
        resources, matched = with_terraform_addresses(collection.resources, self.state)
        collection.resources = resources
        facts = to_facts(self.name, env, collection)
        facts.metadata.update(
            terraform_aliases=terraform_aliases(resources, self.state),
            engine=self.engine,
            endpoint=self.endpoint,
            terraform_addresses_matched=matched,
            state_resources=sum(1 for _ in _managed(self.state)),
        )
        return facts

    def uncreated_types(self) -> dict[str, str]:
        """On an engine that lacks services, a type is observable only if every planned resource of it exists.

        Resources that depend on what the engine cannot create (IRSA roles on the EKS OIDC provider...) are never
        applied; judging the type on the rest would give a verdict on part of the facts.
        """
        if not self.unserved:
            return {}
        planned = self.runner().planned_addresses(self.context.environment)
        return {
            resource_type: (
                f"{len(addresses)} planned {resource_type} could not be created on {self.engine} "
                f"(they depend on {', '.join(sorted(self.unserved))}), e.g. {addresses[0]}"
            )
            for resource_type, addresses in _uncreated(planned, self.state).items()
        }

    def teardown(self) -> None:
        if not self._joined:
            # The apply failed: nothing to share, but an emulator this run started is still ours to stop.
            if self._started_emulator and not self.context.keep:
                self.context.progress(emu.stop_recorded(self.emulator_dir, self.endpoint))
            return
        env = self.context.environment
        with _locked(self.live_root / f"{env}.lock"):
            marker = self._read_marker()
            users = max(int(marker.get("users", 1)) - 1, 0)
            marker["users"] = users
            self._write_marker(marker)
            if users > 0 or self.context.keep:
                return
            runner = self.runner()
            if marker.get("emulator_run") == run_id():
                # Our own moto: its state lives in its memory, stopping it is the complete clean-up.
                self.context.progress(emu.stop_recorded(self.emulator_dir, self.endpoint))
                runner.forget(env)
            else:
                try:
                    runner.destroy(env, self.endpoint)
                except CheckError as exc:
                    self.context.progress(f"destroy failed (resources may remain in the emulator): {exc}")
            self._marker().unlink(missing_ok=True)


def _uncreated(planned: Mapping[str, str], state: Mapping[str, Any]) -> dict[str, list[str]]:
    """Type -> planned addresses the apply did not create."""
    created = {str(item["address"]) for item in _managed(state)}
    missing: dict[str, list[str]] = {}
    for address, resource_type in planned.items():
        if address not in created:
            missing.setdefault(resource_type, []).append(address)
    return missing


def _managed(state: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    from conformance.live import state_resources

    return list(state_resources(state))


def _output(state: Mapping[str, Any], name: str) -> str | None:
    outputs = (state.get("values") or {}).get("outputs") or {}
    value = (outputs.get(name) or {}).get("value")
    return value if isinstance(value, str) else None


def attach(target: LocalStackTarget) -> bool:
    """Observe what a previous apply left in the emulator, without applying again (an apply would undo drift).

    Returns False when nothing is applied (no state or no emulator answering).
    """
    env = target.context.environment
    runner = target.runner()
    if not emu.answers(target.endpoint):
        return False
    target.state = runner.state(env)
    if not target.state:
        return False
    target.engine = emu.detect_engine(target.endpoint)
    target.unserved = emu.unavailable_services(target.engine, target.endpoint, tuple(SERVICES))
    return True
