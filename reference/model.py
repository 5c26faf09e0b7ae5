"""Typed model of `architecture.yaml`: the intended architecture that deployments are checked against.

The models are strict (unknown keys are refused) so that a typo in the reference cannot silently drop a
requirement. Loading errors name the file, the key path, what was expected and what was found.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_PATH = Path(__file__).with_name("architecture.yaml")

ServiceName = Literal["frontend", "gateway", "catalog", "orders", "users"]
StoreName = Literal["postgresql", "redis", "documentdb"]
Tier = Literal["public", "app", "data", "endpoint"]
EnvironmentName = Literal["dev", "staging", "prod"]


class ReferenceError(Exception):
    """The reference file is missing or malformed; the message is meant for a person."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Permission(_Strict):
    action: str = Field(pattern=r"^[a-z0-9-]+:[A-Za-z*]+$")
    resource: str


class Autoscaling(_Strict):
    min: int = Field(ge=1)
    max: int = Field(ge=1)
    cpu_target_percent: int = Field(gt=0, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class Service(_Strict):
    role: str
    replaces: str
    protocol: Literal["http", "grpc"]
    port: int = Field(gt=0, lt=65536)
    calls: list[ServiceName]
    store: StoreName | None
    database: str | None = None
    namespace: str
    service_account: str
    aws_permissions: list[Permission]
    autoscaling: Autoscaling


class TenantIsolation(_Strict):
    postgresql: Literal["row-level-security"]
    documentdb: Literal["tenant-key"]
    redis: Literal["key-prefix"]


class Tenancy(_Strict):
    model: Literal["pool", "silo", "bridge"]
    tenant_id_pattern: str
    edge_resolution: Literal["host", "header"]
    local_header: str
    token_claim: str
    grpc_metadata_key: str
    isolation: TenantIsolation

    @field_validator("tenant_id_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class PostgreSQL(_Strict):
    engine: Literal["postgres"]
    version: str
    instance_class: str
    multi_az: bool
    backup_retention_days: int = Field(ge=1, le=35)
    encryption_at_rest: bool
    encryption_in_transit: bool
    port: int


class Redis(_Strict):
    engine: Literal["redis"]
    version: str
    node_type: str
    cluster_mode: bool
    shards: int = Field(ge=1)
    replicas_per_shard: int = Field(ge=0)
    automatic_failover: bool
    encryption_at_rest: bool
    encryption_in_transit: bool
    port: int


class DocumentDB(_Strict):
    engine: Literal["docdb"]
    version: str
    instance_class: str
    instances: int = Field(ge=1)
    backup_retention_days: int = Field(ge=1, le=35)
    encryption_at_rest: bool
    encryption_in_transit: bool
    port: int


class DataStores(_Strict):
    postgresql: PostgreSQL
    redis: Redis
    documentdb: DocumentDB


class Network(_Strict):
    vpc_cidr: str
    tiers: dict[Tier, list[str]]
    internet_route: dict[Tier, Literal["igw", "nat", "none"]]
    vpc_endpoints: list[str]

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        ipaddress.ip_network(value)  # raises ValueError with the bad text
        return value

    @model_validator(mode="after")
    def _subnets_inside_vpc(self) -> Network:
        vpc = ipaddress.ip_network(self.vpc_cidr)
        seen: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]] = []
        for tier, cidrs in self.tiers.items():
            for cidr in cidrs:
                network = ipaddress.ip_network(cidr)  # raises ValueError with the bad text
                if not network.subnet_of(vpc):  # type: ignore[arg-type]
                    raise ValueError(f"subnet {cidr} of tier {tier} is outside the VPC {self.vpc_cidr}")
                for other_tier, other in seen:
                    if network.overlaps(other):
                        raise ValueError(f"subnet {cidr} of tier {tier} overlaps {other} of tier {other_tier}")
                seen.append((tier, network))
        missing = sorted(set(self.tiers) - set(self.internet_route))
        if missing:
            raise ValueError(f"internet_route names no route for the tiers {missing}; expected igw, nat or none")
        return self


class NodeGroup(_Strict):
    instance_types: list[str] = Field(min_length=1)
    capacity_type: Literal["ON_DEMAND", "SPOT"]
    min: int = Field(ge=0)
    max: int = Field(ge=1)
    desired: int = Field(ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> NodeGroup:
        if not self.min <= self.desired <= self.max:
            raise ValueError(f"need min <= desired <= max, found {self.min} <= {self.desired} <= {self.max}")
        return self


MINOR_VERSION = r"^1\.\d+$"


def minor(version: str) -> tuple[int, int] | None:
    """``"1.35"`` -> ``(1, 35)``; None for anything that is not ``<major>.<minor>``."""
    match = re.fullmatch(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


SupportPhase = Literal["unreleased", "standard", "extended", "ended"]


class EksVersion(_Strict):
    """One Kubernetes minor on EKS: standard support from its release, then extended support (billed extra), then
    EKS upgrades the cluster itself. Each date is the day AWS names; support lasts through that day (AWS: a version
    enters extended support once it is *past* its end-of-standard-support date)."""

    released: dt.date
    standard_support_until: dt.date
    extended_support_until: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> EksVersion:
        if not self.released < self.standard_support_until < self.extended_support_until:
            raise ValueError(
                "need released < standard_support_until < extended_support_until, found "
                f"{self.released} < {self.standard_support_until} < {self.extended_support_until}"
            )
        return self

    def phase(self, day: dt.date) -> SupportPhase:
        if day < self.released:
            return "unreleased"
        if day <= self.standard_support_until:
            return "standard"
        if day <= self.extended_support_until:
            return "extended"
        return "ended"


@dataclass(frozen=True)
class VersionSupport:
    """Where a Kubernetes version stands in the EKS calendar on a given day."""

    version: str
    day: dt.date
    phase: SupportPhase
    calendar: EksVersion

    @property
    def standard(self) -> bool:
        return self.phase == "standard"


class Eks(_Strict):
    # The seed's floor ("Version: 1.29 (or latest stable)"): no environment may ask for less.
    min_version: str = Field(pattern=MINOR_VERSION)
    # The version the reference runs: the newest minor in EKS standard support when it was chosen.
    version: str = Field(pattern=MINOR_VERSION)
    # minor -> its EKS lifecycle dates. A version the cluster runs must be listed, so the calendar is kept current.
    versions: dict[str, EksVersion] = Field(min_length=1)
    control_plane_log_types: list[str]
    node_groups: dict[str, NodeGroup]
    fargate_profiles: list[str]
    addons: list[str]

    @field_validator("versions", mode="before")
    @classmethod
    def _minors(cls, value: Any) -> Any:
        # YAML reads an unquoted 1.30 as the number 1.3: refuse non-string keys rather than misfile a version.
        if isinstance(value, dict):
            bad = [key for key in value if not isinstance(key, str) or not re.match(MINOR_VERSION, key)]
            if bad:
                raise ValueError(f'minors must be quoted strings "<major>.<minor>" (e.g. "1.30"), found {bad!r}')
        return value

    @model_validator(mode="after")
    def _calendar(self) -> Eks:
        ordered = sorted(self.versions.items(), key=lambda item: minor(item[0]) or (0, 0))
        for (older, early), (newer, late) in itertools.pairwise(ordered):
            if not early.released < late.released:
                raise ValueError(
                    f"versions.{newer} is released ({late.released}) no later than versions.{older} ({early.released})"
                )
        if self.version not in self.versions:
            raise ValueError(f"version {self.version} is not in the calendar eks.versions ({sorted(self.versions)})")
        if (minor(self.version) or (0, 0)) < (minor(self.min_version) or (0, 0)):
            raise ValueError(f"version {self.version} is below min_version {self.min_version}")
        return self

    def support(self, version: str, day: dt.date) -> VersionSupport | None:
        """The version's support phase on ``day``; None when the calendar does not list it (update the calendar)."""
        parsed = minor(str(version))
        entry = next((v for k, v in self.versions.items() if minor(k) == parsed), None) if parsed else None
        if entry is None:
            return None
        return VersionSupport(str(version), day, entry.phase(day), entry)


class Secrets(_Strict):
    rotation_days: int = Field(ge=1, le=365)
    kms_encrypted: bool


class PodSecurity(_Strict):
    standard: Literal["privileged", "baseline", "restricted"]
    read_only_root_filesystem: bool
    run_as_non_root: bool


class Observability(_Strict):
    dashboards: list[str]
    log_retention_days: int
    tracing: str


class BudgetAllowance(_Strict):
    """A cost the seed's estimate leaves out although another seed section requires the component."""

    item: str
    usd: float = Field(gt=0)
    seed: str


class Environment(_Strict):
    nat_gateways: int = Field(ge=1, le=3)
    deletion_protection: bool
    monthly_budget_usd: float = Field(gt=0)
    budget_margin_percent: float = Field(ge=0)
    budget_allowances: list[BudgetAllowance] = Field(default_factory=list)
    # Redis topology when it differs from data_stores.redis (dev runs the seed's three-node estimate).
    redis_shards: int | None = Field(default=None, ge=1)
    redis_replicas_per_shard: int | None = Field(default=None, ge=1)

    @property
    def budget_usd(self) -> float:
        """The budget the estimate is held to before the margin: the stated figure plus its allowances."""
        return self.monthly_budget_usd + sum(a.usd for a in self.budget_allowances)


class Architecture(_Strict):
    name: str
    region: str
    availability_zones: list[str] = Field(min_length=1)
    tenancy: Tenancy
    services: dict[ServiceName, Service]
    data_stores: DataStores
    network: Network
    eks: Eks
    platform_addons: list[str]
    secrets: Secrets
    pod_security: PodSecurity
    observability: Observability
    environments: dict[EnvironmentName, Environment]

    @model_validator(mode="after")
    def _consistent(self) -> Architecture:
        for name, service in self.services.items():
            unknown = [callee for callee in service.calls if callee not in self.services]
            if unknown:
                raise ValueError(f"services.{name}.calls names unknown services {unknown}")
        for tier, cidrs in self.network.tiers.items():
            if len(cidrs) != len(self.availability_zones):
                raise ValueError(
                    f"network.tiers.{tier} has {len(cidrs)} subnets, expected one per availability zone "
                    f"({len(self.availability_zones)})"
                )
        return self

    def redis_topology(self, environment: str) -> tuple[int, int]:
        """(shards, replicas per shard) of an environment."""
        env = self.environments[environment]  # type: ignore[index]
        spec = self.data_stores.redis
        return (env.redis_shards or spec.shards, env.redis_replicas_per_shard or spec.replicas_per_shard)

    def call_edges(self) -> set[tuple[str, str]]:
        """The allowed service-to-service calls, as (caller, callee) pairs."""
        return {(caller, callee) for caller, svc in self.services.items() for callee in svc.calls}


def _format_location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "<top level>"


def _lookup(data: Any, loc: tuple[int | str, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return "<missing>"
    return data


def load_architecture(path: Path | str = DEFAULT_PATH) -> Architecture:
    """Load and validate the reference; raise ReferenceError naming file, key path, expected and found."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReferenceError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ReferenceError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ReferenceError(f"{path}: expected a mapping at the top level, found {type(raw).__name__}")
    try:
        return Architecture.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            found = _lookup(raw, loc)
            lines.append(f"  {_format_location(loc)}: {error['msg'].removeprefix('Value error, ')}; found {found!r}")
        raise ReferenceError(f"{path}: {len(lines)} problem(s)\n" + "\n".join(lines)) from exc
