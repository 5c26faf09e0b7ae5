"""services/Dockerfile, checked statically against the platform it must match (no Docker engine needed).

No machine of this project can build an image, so the Dockerfile is read by the small parser below and its
resolved image for each service of reference/architecture.yaml (``--build-arg SERVICE=<name>``) is held to:
  - the pyproject extra ``[<name>]`` it installs exists, and the build stage installs exactly that extra;
  - every COPY/ADD source from the build context exists in the repository;
  - USER and the created user/group are the Deployment's runAsUser/runAsGroup/fsGroup;
  - EXPOSE and SHOP_GRPC_PORT/SHOP_HTTP_PORT are the reference port (plus the metrics port for gRPC services) and
    the Deployment's containerPorts;
  - the ENTRYPOINT is ``python -m services.<name>``, that package has a __main__, and it is the Deployment's command;
  - the runtime stages install nothing (no pip, no package manager, no compiler) and share the build's base image;
  - read-only root filesystem: HOME/TMPDIR on /tmp (mounted by the Deployment), byte-code compiled at build time,
    the service imported at build time;
  - TLS to AWS-managed stores: the RDS CA bundle where a ConfigMap asks for verified TLS, wired to libpq
    (PGSSLROOTCERT) or to the orders settings (SHOP_MONGO_TLS, the CA file path of services/orders/settings.py);
  - the build commands for each service are in the Dockerfile's header and in docs/deployment-guide.md.
Every problem names the Dockerfile line, the instruction, what was expected and what was found; the tests at the
end feed broken copies of the Dockerfile to show each check can fail. ``test_wheel_carries_service_data_files``
builds the wheel from exactly what the Dockerfile copies and checks the data files the build stage checks.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from reference import load_architecture
from services.common.settings import DEFAULT_METRICS_PORT
from services.orders.settings import OrdersSettings

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "services" / "Dockerfile"
DOCKERFILE_REL = "services/Dockerfile"
DEPLOYMENT_GUIDE = REPO / "docs" / "deployment-guide.md"
K8S_SERVICES = REPO / "infra" / "kubernetes" / "base" / "services"
# The path services/orders/settings.py reads the RDS CA bundle from; the libpq services are pointed at the same file.
RDS_CA_PATH = OrdersSettings().mongo_tls_ca_file
# Instructions whose arguments Docker expands with ARG/ENV values (RUN is expanded by the shell, to the same effect
# for the ${NAME} forms used here); exec-form ENTRYPOINT/CMD are never expanded.
EXPANDED = {"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR", "ARG", "RUN"}
# The build stage's install of the service's extra.
PIP_INSTALL = re.compile(r"\bpip3?\b.*\binstall\b")
# What must not run in a runtime stage: an installer or a compiler leaves tools (and caches) in the image.
INSTALLS = re.compile(
    r"\bpip3?\b[^&;|]*\binstall\b|\bapt(-get)?\b[^&;|]*\binstall\b|\bapk\b[^&;|]*\badd\b|\b(dnf|yum|microdnf)\b"
    r"|\b(gcc|g\+\+|clang|cc|make|build-essential)\b"
)


# -- a small Dockerfile parser ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    line: int  # 1-based line where the instruction starts
    keyword: str  # upper case
    flags: tuple[tuple[str, str], ...]  # --from=build, --chmod=0444, in order
    value: str  # the arguments after the flags, continuation lines joined by a space

    def flag(self, name: str) -> str | None:
        return next((v for k, v in self.flags if k == name), None)

    def exec_form(self) -> list[str] | None:
        if not self.value.startswith("["):
            return None
        parsed = json.loads(self.value)
        return [str(item) for item in parsed] if isinstance(parsed, list) else None

    def where(self) -> str:
        text = f"{self.keyword} {self.value}"
        return f"{DOCKERFILE_REL}:{self.line}: {text if len(text) <= 72 else text[:69] + '...'}"


@dataclass
class Stage:
    line: int
    base: str  # unexpanded image or stage name
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    global_args: list[Instruction]  # the ARGs before the first FROM
    stages: list[Stage]


def parse_dockerfile(text: str) -> Dockerfile:
    """Instructions with their first line number; comments and parser directives dropped; ``\\`` continuations
    joined (comment lines inside a continuation are dropped, as Docker does). Heredocs are refused."""
    logical: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):  # also inside a continuation
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        logical.append((start, " ".join(part for part in pending if part)))
        pending = []
    if pending:
        raise ValueError(f"{DOCKERFILE_REL}:{start}: the last instruction ends with a line continuation")

    global_args: list[Instruction] = []
    stages: list[Stage] = []
    for number, line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags: list[tuple[str, str]] = []
        rest = rest.strip()
        while rest.startswith("--"):
            token, _, rest = rest.partition(" ")
            name, _, value = token[2:].partition("=")
            flags.append((name, value))
            rest = rest.strip()
        if re.search(r"<<-?\s*['\"]?[A-Za-z_]", rest) and keyword in {"RUN", "COPY", "ADD"}:
            raise ValueError(f"{DOCKERFILE_REL}:{number}: heredocs are not supported by this parser")
        instruction = Instruction(number, keyword, tuple(flags), rest)
        if keyword == "FROM":
            words = rest.split()
            stage_name = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(number, words[0], stage_name, []))
        elif not stages:
            if keyword != "ARG":
                raise ValueError(f"{DOCKERFILE_REL}:{number}: only ARG may come before the first FROM, found {keyword}")
            global_args.append(instruction)
        else:
            stages[-1].instructions.append(instruction)
    return Dockerfile(global_args, stages)


_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<op>[-+])(?P<word>[^}]*))?\}|(?P<bare>[A-Za-z_]\w*))"
)


def expand(text: str, scope: Mapping[str, str]) -> str:
    """Docker's variable substitution: $NAME, ${NAME}, ${NAME:-word}, ${NAME:+word}; unset is empty."""

    def one(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        value = scope.get(name, "")
        if match.group("op") == "-":
            return value or match.group("word")
        if match.group("op") == "+":
            return match.group("word") if value else ""
        return value

    return _VAR.sub(one, text)


def arg_declarations(instruction: Instruction) -> Iterator[tuple[str, str | None]]:
    for word in shlex.split(instruction.value):
        name, eq, default = word.partition("=")
        yield name, (default if eq else None)


def env_pairs(value: str) -> list[tuple[str, str]]:
    words = shlex.split(value)
    if words and "=" not in words[0]:  # the legacy ``ENV NAME value`` form
        return [(words[0], " ".join(words[1:]))]
    return [(word.partition("=")[0], word.partition("=")[2]) for word in words]


# -- the image a build produces --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expanded:
    instruction: Instruction
    text: str  # the arguments after substitution (the value as written for ENTRYPOINT and CMD)


@dataclass
class ResolvedStage:
    stage: Stage
    base: str  # expanded
    parent: ResolvedStage | None  # the stage this one is FROM, if it is a stage
    instructions: list[Expanded]
    env: dict[str, tuple[str, Instruction]]  # everything in effect at the end of the stage, inherited included


@dataclass
class Image:
    """What ``docker build --build-arg SERVICE=<service>`` would produce, as far as a static reading can tell."""

    dockerfile: Dockerfile
    stages: dict[str, ResolvedStage]  # by name
    final: ResolvedStage
    global_defaults: dict[str, tuple[str | None, Instruction]]

    @property
    def chain(self) -> list[ResolvedStage]:
        """The final stage and the stages it is built FROM, up to the one FROM an external image."""
        out: list[ResolvedStage] = []
        stage: ResolvedStage | None = self.final
        while stage is not None:
            out.append(stage)
            stage = stage.parent
        return out

    @property
    def source_stages(self) -> list[ResolvedStage]:
        """The stages the chain copies from (COPY --from=<stage>), with the stages those are built FROM."""
        seen: dict[int, ResolvedStage] = {}
        todo = list(self.chain)
        chain_ids = {id(s) for s in todo}
        while todo:
            current = todo.pop()
            for item in current.instructions:
                source = item.instruction.flag("from")
                if item.instruction.keyword == "COPY" and source and source in self.stages:
                    stage: ResolvedStage | None = self.stages[source]
                    while stage is not None and id(stage) not in seen and id(stage) not in chain_ids:
                        seen[id(stage)] = stage
                        todo.append(stage)
                        stage = stage.parent
        return list(seen.values())

    def instructions(self, keyword: str, stages: list[ResolvedStage] | None = None) -> list[Expanded]:
        """The instructions of that keyword along the chain (or the given stages), first built first."""
        ordered = list(reversed(self.chain)) if stages is None else stages
        return [item for stage in ordered for item in stage.instructions if item.instruction.keyword == keyword]

    def last(self, keyword: str) -> Expanded | None:
        found = self.instructions(keyword)
        return found[-1] if found else None

    @property
    def env(self) -> dict[str, tuple[str, Instruction]]:
        return self.final.env


def resolve(dockerfile: Dockerfile, build_args: Mapping[str, str]) -> Image:
    global_scope: dict[str, str] = {}
    global_defaults: dict[str, tuple[str | None, Instruction]] = {}
    for instruction in dockerfile.global_args:
        for name, default in arg_declarations(instruction):
            global_defaults[name] = (default, instruction)
            value = build_args.get(name, expand(default, global_scope) if default is not None else None)
            if value is not None:
                global_scope[name] = value
    resolved: dict[str, ResolvedStage] = {}
    by_index: list[ResolvedStage] = []
    for stage in dockerfile.stages:
        base = expand(stage.base, global_scope)
        parent = resolved.get(base.lower())
        scope: dict[str, str] = {}
        env: dict[str, tuple[str, Instruction]] = dict(parent.env) if parent else {}
        scope.update({k: v for k, (v, _) in env.items()})
        items: list[Expanded] = []
        for instruction in stage.instructions:
            literal = instruction.keyword not in EXPANDED  # ENTRYPOINT, CMD, ...
            items.append(Expanded(instruction, instruction.value if literal else expand(instruction.value, scope)))
            if instruction.keyword == "ARG":
                for name, default in arg_declarations(instruction):
                    value = build_args.get(name)
                    if value is None:
                        value = expand(default, scope) if default is not None else global_scope.get(name)
                    if value is not None:
                        scope[name] = value
            elif instruction.keyword == "ENV":
                for name, value in env_pairs(instruction.value):
                    env[name] = (expand(value, scope), instruction)
                    scope[name] = env[name][0]
        current = ResolvedStage(stage, base, parent, items, env)
        by_index.append(current)
        if stage.name:
            resolved[stage.name] = current
    if not by_index:
        raise ValueError(f"{DOCKERFILE_REL}: no FROM")
    return Image(dockerfile, resolved, by_index[-1], global_defaults)


# -- the platform the image must match -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceFacts:
    name: str
    protocol: str
    port: int
    deployment: dict[str, Any]
    configmap: dict[str, str]

    @property
    def container(self) -> dict[str, Any]:
        containers = self.deployment["spec"]["template"]["spec"]["containers"]
        return next(c for c in containers if c["name"] == self.name)

    @property
    def pod_security(self) -> dict[str, Any]:
        return dict(self.deployment["spec"]["template"]["spec"].get("securityContext") or {})

    @property
    def image_ports(self) -> set[int]:
        return {self.port, DEFAULT_METRICS_PORT} if self.protocol == "grpc" else {self.port}

    @property
    def deployment_path(self) -> str:
        return f"infra/kubernetes/base/services/{self.name}/deployment.yaml"


@dataclass(frozen=True)
class Platform:
    repo: Path
    extras: Mapping[str, list[str]]
    services: Mapping[str, ServiceFacts]


def _kind(path: Path, kind: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
    found = [d for d in docs if d.get("kind") == kind]
    assert len(found) == 1, f"{path.relative_to(REPO)}: expected one {kind}, found {len(found)}"
    return found[0]


@cache
def platform() -> Platform:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    services: dict[str, ServiceFacts] = {}
    for name, spec in load_architecture().services.items():
        directory = K8S_SERVICES / name
        services[name] = ServiceFacts(
            name=name,
            protocol=spec.protocol,
            port=spec.port,
            deployment=_kind(directory / "deployment.yaml", "Deployment"),
            configmap={
                k: str(v) for k, v in (_kind(directory / "configmap.yaml", "ConfigMap").get("data") or {}).items()
            },
        )
    return Platform(REPO, pyproject["project"]["optional-dependencies"], services)


# -- the checks: each returns problems, each problem names the line, what was expected and what was found -----------


def _problem(at: Instruction | Stage, what: str, expected: object, found: object) -> str:
    where = at.where() if isinstance(at, Instruction) else f"{DOCKERFILE_REL}:{at.line}: FROM {at.base}"
    return f"{where}: {what}: expected {expected}, found {found}"


# Where a missing instruction is reported: the stage it belongs in.


def _final_from(image: Image) -> Stage:
    return image.dockerfile.stages[-1]


def _service_stage(image: Image) -> Stage:
    """The stage the final FROM selects (svc-<name>), or the final stage."""
    return (image.final.parent or image.final).stage


def _runtime_root(image: Image) -> Stage:
    """The first runtime stage: the one FROM the base image that the final image is built on."""
    return image.chain[-1].stage


def _build_stage(image: Image) -> Stage:
    for stage in image.source_stages:
        if any(PIP_INSTALL.search(item.text) for item in stage.instructions):
            return stage.stage
    return _final_from(image)


def check_stage_selection(image: Image, svc: ServiceFacts, plat: Platform) -> list[str]:
    """The final FROM picks the service's stage, and SERVICE has no default (a forgotten argument fails the build)."""
    problems: list[str] = []
    final_from = _final_from(image)
    if image.final.parent is None:
        problems.append(
            _problem(final_from, "the final FROM must name a stage of this file", "a stage", image.final.base)
        )
    default = image.global_defaults.get("SERVICE")
    if default is None:
        problems.append(_problem(final_from, "global ARG SERVICE", "ARG SERVICE before the first FROM", "none"))
    elif default[0] is not None:
        problems.append(_problem(default[1], "ARG SERVICE default", "no default", repr(default[0])))
    return problems


def check_extra(image: Image, svc: ServiceFacts, plat: Platform) -> list[str]:
    problems: list[str] = []
    installs = [item for item in image.instructions("RUN", image.source_stages) if PIP_INSTALL.search(item.text)]
    if not installs:
        return [_problem(_final_from(image), "no stage copied into the image runs pip install", "one", "none")]
    for item in installs:
        extras = re.findall(r"\"?\.\[([^\]]+)\]\"?", item.text)
        if extras != [svc.name]:
            problems.append(
                _problem(item.instruction, "pip install installs the service's extra", f'".[{svc.name}]"', extras)
            )
        for extra in extras:
            if extra not in plat.extras:
                problems.append(
                    _problem(
                        item.instruction,
                        "the extra must exist in pyproject.toml [project.optional-dependencies]",
                        f"[{extra}] among {sorted(plat.extras)}",
                        "no such extra",
                    )
                )
    return problems


def check_copy_sources(image: Image, svc: ServiceFacts, plat: Platform) -> list[str]:
    problems: list[str] = []
    for stage in [*reversed(image.chain), *image.source_stages]:
        for item in stage.instructions:
            ins = item.instruction
            if ins.keyword not in {"COPY", "ADD"} or ins.flag("from"):
                continue
            words = ins.exec_form() or shlex.split(item.text)
            for source in words[:-1]:
                if re.match(r"^[a-z]+://", source):
                    continue  # a URL (ADD): fetched by the builder
                if not (plat.repo / source).exists():
                    problems.append(
                        _problem(ins, "COPY source in the build context", f"{source} in the repository", "no such path")
                    )
    return problems


def check_user(image: Image, svc: ServiceFacts, plat: Platform) -> list[str]:
    problems: list[str] = []
    pod, container = svc.pod_security, svc.container.get("securityContext") or {}
    uid = container.get("runAsUser", pod.get("runAsUser"))
    gid = container.get("runAsGroup", pod.get("runAsGroup"))
    fs_group = pod.get("fsGroup")
    ctx = f"{svc.deployment_path} securityContext"
    user = image.last("USER")
    if user is None:
        problems.append(_problem(_runtime_root(image), "USER", f"{uid}:{gid} ({ctx})", "no USER (root)"))
    else:
        found_uid, _, found_gid = user.text.partition(":")
        if found_uid != str(uid):
            problems.append(_problem(user.instruction, "USER uid", f"{uid} (runAsUser of {ctx})", found_uid))
        if found_gid != str(gid):
            problems.append(_problem(user.instruction, "USER gid", f"{gid} (runAsGroup of {ctx})", found_gid or "none"))
    if fs_group != gid:
        problems.append(f"{ctx}: fsGroup: expected {gid} (runAsGroup, the image's group), found {fs_group}")
    # The user and group the runtime creates, if it does, carry the same numbers (a name for the uid).
    for item in image.instructions("RUN"):
        for pattern, expected, what, key in (
            (r"\bgroupadd\b[^&;|]*?--gid[= ](\S+)", gid, "groupadd --gid", "runAsGroup"),
            (r"\buseradd\b[^&;|]*?--uid[= ](\S+)", uid, "useradd --uid", "runAsUser"),
            (r"\buseradd\b[^&;|]*?--gid[= ](\S+)", gid, "useradd --gid", "runAsGroup"),
        ):
            match = re.search(pattern, item.text)
            if match and match.group(1) != str(expected):
                problems.append(_problem(item.instruction, what, f"{expected} ({key} of {ctx})", match.group(1)))
    return problems


def check_ports(image: Image, svc: ServiceFacts, plat: Platform) -> list[str]:
    problems: list[str] = []
    container_ports = {int(p["containerPort"]) for p in svc.container.get("ports", [])}
    ref = f"reference services.{svc.name}.port {svc.port}" + (
        f" and metrics {DEFAULT_METRICS_PORT}" if svc.protocol == "grpc" else ""
    )
    if container_ports != svc.image_ports:
        problems.append(
            f"{svc.deployment_path}: containerPort: expected {sorted(svc.image_ports)} ({ref}), found "
            f"{sorted(container_ports)}"
        )
    exposes = image.instructions("EXPOSE")
    exposed = {int(word.split("/")[0]) for item in exposes for word in item.text.split()}
    if exposed != svc.image_ports:
        at: Instruction | Stage = exposes[-1].instruction if exposes else _service_stage(image)
        problems.append(
            _problem(
                at,
                "EXPOSE",
                f"{sorted(svc.image_ports)} ({ref}; containerPort of {svc.deployment_path})",
                sorted(exposed),
            )
        )
    expected_env = (
        {"SHOP_GRPC_PORT": str(svc.port), "SHOP_HTTP_PORT": str(DEFAULT_METRICS_PORT)}
        if svc.protocol == "grpc"
        else {"SHOP_HTTP_PORT": str(svc.port), "SHOP_GRPC_PORT": None}
    )
    for name, expected in expected_env.items():
        found = image.env.get(name)
        if (found[0] if found else None) == expected:
            continue
        at = found[1] if found else _service_stage(image)
        problems.append(
            _problem(at, f"ENV {name}", expected or "unset (an HTTP service)", found[0] if found else "unset")
        )
    config_port = svc.configmap.get("SHOP_GRPC_PORT" if svc.protocol == "grpc" else "SHOP_HTTP_PORT")
    if config_port is not None and config_port != str(svc.port):
        problems.append(
            f"infra/kubernetes/base/services/{svc.name}/configmap.yaml: port: expected {svc.port}, found {config_port}"
        )
    return problems


def check_entrypoint(image: Image, svc: ServiceFacts, plat: Platform) -> list[str]:
    problems: list[str] = []
    expected = ["python", "-m", f"services.{svc.name}"]
    entrypoint = image.last("ENTRYPOINT")
    if entrypoint is None:
        return [_problem(_service_stage(image), "ENTRYPOINT", expected, "none")]
    found = entrypoint.instruction.exec_form()
    if found != expected:
        problems.append(
            _problem(entrypoint.instruction, "ENTRYPOINT (exec form)", json.dumps(expected), json.dumps(found))
        )
    if found and len(found) >= 3 and found[1] == "-m":
        module = found[2]
        main = plat.repo / Path(*module.split(".")) / "__main__.py"
        if not main.is_file():
            problems.append(
                _problem(entrypoint.instruction, f"{module} runs with -m", f"{main.relative_to(plat.repo)}", "none")
            )
    command = svc.container.get("command")
    if command is not None and command != found:
        what = f"ENTRYPOINT is the command of {svc.deployment_path}"
        problems.append(_problem(entrypoint.instruction, what, json.dumps(command), json.dumps(found)))
    cmd = image.last("CMD")
    if cmd is not None and command is not None and svc.container.get("args") != cmd.instruction.exec_form():
        # A Deployment's `command` without `args` drops the image's CMD: the image would not run what the pod runs.
        what = f"CMD is the args of {svc.deployment_path}"
        problems.append(_problem(cmd.instruction, what, json.dumps(svc.container.get("args")), cmd.text))
    return problems


def check_runtime_installs_nothing(image: Image, svc: ServiceFacts, plat: Platform) -> list[str]:
    problems: list[str] = []
    for item in image.instructions("RUN"):
        match = INSTALLS.search(item.text)
        if match:
            problems.append(
                _problem(
                    item.instruction,
                    "a runtime stage installs or compiles (do it in the build stage and copy the result)",
                    "no installer or compiler",
                    repr(match.group(0)),
                )
            )
    for item in image.instructions("COPY"):
        if item.instruction.flag("from") and re.search(r"(^|/)\.?cache\b", item.text):
            problems.append(_problem(item.instruction, "COPY --from of a cache", "no cache in the image", item.text))
    roots = {stage.base for stage in [*image.chain, *image.source_stages] if stage.parent is None}
    if len(roots) != 1:
        problems.append(
            _problem(
                _runtime_root(image),
                "one base image for build and runtime (the venv's python links to the base's)",
                "one image",
                sorted(roots),
            )
        )
    for root in roots:
        if ":" not in root.rsplit("/", 1)[-1] or root.endswith(":latest"):
            default = image.global_defaults.get("PYTHON_IMAGE")
            at = default[1] if default else _runtime_root(image)
            problems.append(_problem(at, "the base image is pinned", "a tag other than latest (or a digest)", root))
    return problems


def check_read_only_root(image: Image, svc: ServiceFacts, plat: Platform) -> list[str]:
    problems: list[str] = []
    if not (svc.container.get("securityContext") or {}).get("readOnlyRootFilesystem"):
        return problems
    mounts = {m["mountPath"] for m in svc.container.get("volumeMounts", [])}
    if "/tmp" not in mounts:
        problems.append(f"{svc.deployment_path}: volumeMounts: expected /tmp (HOME, TMPDIR), found {sorted(mounts)}")
    for name in ("HOME", "TMPDIR"):
        found = image.env.get(name)
        if not found or found[0] != "/tmp":
            at = found[1] if found else _runtime_root(image)
            problems.append(
                _problem(at, f"ENV {name} (read-only root filesystem)", "/tmp", found[0] if found else "unset")
            )
    build_runs = image.instructions("RUN", image.source_stages)
    if not any(re.search(r"\bcompileall\b", item.text) for item in build_runs):
        problems.append(_problem(_build_stage(image), "byte-code compiled at build time", "RUN ... compileall", "none"))
    imports = [m for item in build_runs for m in re.findall(r"\bimport\s+([\w.]+(?:\s*,\s*[\w.]+)*)", item.text)]
    modules = {name.strip() for group in imports for name in group.split(",")}
    if f"services.{svc.name}.__main__" not in modules:
        problems.append(
            _problem(
                _build_stage(image),
                "the service is imported at build time",
                f"import services.{svc.name}.__main__",
                sorted(modules),
            )
        )
    for module in sorted(m for m in modules if m.startswith(f"services.{svc.name}.")):
        path = plat.repo / Path(*module.split("."))
        if not (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()):
            problems.append(_problem(_build_stage(image), "the build's import check", f"a module {module}", "no file"))
    return problems


def check_ca_bundle(image: Image, svc: ServiceFacts, plat: Platform) -> list[str]:
    """Verified TLS to an AWS-managed store needs the RDS CA bundle in the image and the client pointed at it."""
    problems: list[str] = []
    config = f"infra/kubernetes/base/services/{svc.name}/configmap.yaml"
    needs: list[tuple[str, str]] = []  # (variable, value) the image must set
    database_url = svc.configmap.get("SHOP_DATABASE_URL", "")
    if re.search(r"sslmode=verify-(full|ca)", database_url) and "sslrootcert=" not in database_url:
        needs.append(("PGSSLROOTCERT", RDS_CA_PATH))  # libpq's root certificate, else ~/.postgresql/root.crt
    if re.search(r"[?&](tls|ssl)=true", svc.configmap.get("SHOP_MONGO_URL", "")):
        needs.append(("SHOP_MONGO_TLS", "true"))  # services/orders/settings.py: the CA file only with this on
    if not needs:
        return problems
    adds = [
        item
        for item in [*image.instructions("ADD"), *image.instructions("COPY")]
        if (item.instruction.exec_form() or shlex.split(item.text))[-1] == RDS_CA_PATH
    ]
    if not adds:
        problems.append(
            _problem(
                _service_stage(image),
                f"the RDS CA bundle ({config} asks for verified TLS)",
                f"ADD ... {RDS_CA_PATH}",
                "no such file",
            )
        )
    for item in adds:
        mode = item.instruction.flag("chmod")
        if mode is None or not re.fullmatch(r"0?[0-7]{2}[4-7]", mode):
            problems.append(
                _problem(
                    item.instruction,
                    "the bundle is readable by the service's uid (ADD of a URL creates a 0600 root file)",
                    "--chmod=0444",
                    mode,
                )
            )
    for name, value in needs:
        found = image.env.get(name)
        if not found or found[0] != value:
            at = found[1] if found else _service_stage(image)
            problems.append(
                _problem(at, f"ENV {name} ({config} asks for verified TLS)", value, found[0] if found else "unset")
            )
    ca_file = image.env.get("SHOP_MONGO_TLS_CA_FILE")
    if ca_file and ca_file[0] != RDS_CA_PATH:
        problems.append(_problem(ca_file[1], "ENV SHOP_MONGO_TLS_CA_FILE", RDS_CA_PATH, ca_file[0]))
    return problems


CHECKS: tuple[Callable[[Image, ServiceFacts, Platform], list[str]], ...] = (
    check_stage_selection,
    check_extra,
    check_copy_sources,
    check_user,
    check_ports,
    check_entrypoint,
    check_runtime_installs_nothing,
    check_read_only_root,
    check_ca_bundle,
)


def problems_for(text: str, service: str, plat: Platform | None = None) -> list[str]:
    plat = plat or platform()
    image = resolve(parse_dockerfile(text), {"SERVICE": service})
    return [problem for check in CHECKS for problem in check(image, plat.services[service], plat)]


SERVICES = sorted(load_architecture().services)


# -- the Dockerfile as it is -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_image_matches_the_platform(service: str) -> None:
    problems = problems_for(DOCKERFILE.read_text(encoding="utf-8"), service)
    assert not problems, f"{service}:\n" + "\n".join(problems)


def test_one_dockerfile_for_every_service() -> None:
    per_service = sorted(str(p.relative_to(REPO)) for p in (REPO / "services").glob("*/Dockerfile"))
    assert per_service == [], f"one Dockerfile ({DOCKERFILE_REL}) for every service, found also {per_service}"
    stages = {s.name for s in parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")).stages if s.name}
    assert {f"svc-{name}" for name in SERVICES} <= stages, f"a svc-<name> stage per service, found {sorted(stages)}"


@pytest.mark.parametrize("document", [DOCKERFILE, DEPLOYMENT_GUIDE], ids=lambda p: p.name)
def test_build_commands_are_documented(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    missing = [
        name
        for name in SERVICES
        if not re.search(
            rf"docker build --build-arg SERVICE={name} +-f {DOCKERFILE_REL} +-t \S+/eks-shop/{name}:", text
        )
    ]
    assert not missing, f"{document.relative_to(REPO)}: no `docker build` command for {missing}"


@pytest.mark.slow
def test_wheel_carries_service_data_files(tmp_path: Path) -> None:
    """The wheel built from what the Dockerfile copies holds every data file of every service (what the build
    stage checks after pip install): SQL migrations, templates, static files."""
    image = resolve(parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")), {"SERVICE": "catalog"})
    build = next(s for s in image.source_stages if any(i.instruction.keyword == "COPY" for i in s.instructions))
    context = tmp_path / "context"
    for item in build.instructions:
        if item.instruction.keyword != "COPY" or item.instruction.flag("from"):
            continue
        for source in shlex.split(item.instruction.value)[:-1]:
            for name in SERVICES if "${SERVICE}" in source else [""]:
                path = expand(source, {"SERVICE": name})
                origin, target = REPO / path, context / path
                target.parent.mkdir(parents=True, exist_ok=True)
                if origin.is_dir():
                    shutil.copytree(origin, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(origin, target)
    out = tmp_path / "wheel"
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    built = subprocess.run(
        [*pip, str(context), "-w", str(out)], capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False
    )
    assert built.returncode == 0, f"pip wheel failed:\n{built.stdout}{built.stderr}"
    (wheel,) = out.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    def missing() -> list[str]:
        return [
            str(path.relative_to(context))
            for name in SERVICES
            for path in sorted((context / "services" / name).rglob("*"))
            if path.is_file() and path.suffix not in {".py", ".pyc", ".md"}
            if str(path.relative_to(context)) not in names
        ]

    assert not missing(), f"not in the wheel (add to pyproject.toml [tool.setuptools.package-data]): {missing()}"
    assert {"services/catalog/migrations/0001_catalog.sql", "services/users/migrations/0001_users.sql"} <= names
    # The check can fail: a data file the wheel does not carry is reported.
    (context / "services" / "users" / "migrations" / "0099_extra.txt").write_text("x", encoding="utf-8")
    assert missing() == ["services/users/migrations/0099_extra.txt"]


# -- each check can fail: broken copies of the Dockerfile ------------------------------------------------------------


def _break(old: str, new: str) -> str:
    """The Dockerfile with the first ``old`` replaced by ``new``."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is no longer in {DOCKERFILE_REL}: update the broken copy"
    return text.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return text.count("\n", 0, text.index(needle)) + 1


# (id, old, new, service, the line the problem must name (a needle of the broken copy), fragments it must contain)
BROKEN: list[tuple[str, str, str, str, str, list[str]]] = [
    (
        "wrong uid",
        "USER 10001:10001",
        "USER 10002:10001",
        "catalog",
        "USER 10002",
        ["USER uid", "expected 10001", "found 10002"],
    ),
    (
        "wrong gid",
        "USER 10001:10001",
        "USER 10001:0",
        "users",
        "USER 10001:0",
        ["USER gid", "expected 10001", "found 0"],
    ),
    (
        "useradd uid",
        "--uid 10001",
        "--uid 1000 ",
        "orders",
        "RUN groupadd",
        ["useradd --uid", "expected 10001", "found 1000"],
    ),
    (
        "missing COPY source",
        "COPY services/common/ services/common/",
        "COPY services/commons/ services/common/",
        "gateway",
        "COPY services/commons/",
        ["COPY source", "expected services/commons/ in the repository", "found no such path"],
    ),
    (
        "wrong port",
        "EXPOSE 50051 9090",
        "EXPOSE 50061 9090",
        "catalog",
        "EXPOSE 50061",
        ["EXPOSE", "expected [9090, 50051]", "found [9090, 50061]"],
    ),
    (
        "wrong port env",
        "ENV SHOP_HTTP_PORT=8080",
        "ENV SHOP_HTTP_PORT=8081",
        "frontend",
        "ENV SHOP_HTTP_PORT=8081",
        ["ENV SHOP_HTTP_PORT", "expected 8080", "found 8081"],
    ),
    (
        "wrong extra",
        '".[${SERVICE}]"',
        '".[services]"',
        "users",
        "RUN python -m venv --without-pip",  # where the RUN starts
        ["installs the service's extra", 'expected ".[users]"', "found ['services']"],
    ),
    (
        "entrypoint module",
        '"services.orders"]',
        '"services.order"]',
        "orders",
        '"services.order"]',
        ["ENTRYPOINT (exec form)", 'expected ["python", "-m", "services.orders"]', '"services.order"]'],
    ),
    (
        "entrypoint without __main__",
        '"services.orders"]',
        '"services.order"]',
        "orders",
        '"services.order"]',
        ["services.order runs with -m", "expected services/order/__main__.py", "found none"],
    ),
    (
        "runtime pip install",
        "USER 10001:10001",
        "RUN pip install --no-cache-dir requests\nUSER 10001:10001",
        "gateway",
        "RUN pip install --no-cache-dir",
        ["installs or compiles", "expected no installer or compiler", "found 'pip install'"],
    ),
    (
        "runtime compiler",
        "USER 10001:10001",
        "RUN apt-get update && apt-get install -y gcc\nUSER 10001:10001",
        "catalog",
        "RUN apt-get update",
        ["installs or compiles", "found 'apt-get install'"],
    ),
    (
        "wrong CA for libpq",
        "ENV PGSSLROOTCERT=/etc/ssl/certs/rds-global-bundle.pem",
        "ENV PGSSLROOTCERT=/etc/ssl/certs/ca-certificates.crt",
        "users",
        "ENV PGSSLROOTCERT",
        [
            "ENV PGSSLROOTCERT",
            "expected /etc/ssl/certs/rds-global-bundle.pem",
            "found /etc/ssl/certs/ca-certificates.crt",
        ],
    ),
    (
        "CA unreadable",
        "ADD --chmod=0444 https://",
        "ADD https://",
        "orders",
        "ADD https://",
        ["readable by the service's uid", "expected --chmod=0444", "found None"],
    ),
    (
        "orders TLS off",
        " SHOP_MONGO_TLS=true",
        "",
        "orders",
        "FROM rds-ca AS svc-orders",
        ["ENV SHOP_MONGO_TLS", "expected true", "found unset"],
    ),
    (
        "HOME not /tmp",
        "HOME=/tmp \\\n",
        "HOME=/home/shop \\\n",
        "frontend",
        "ENV PATH=",
        ["ENV HOME", "expected /tmp", "found /home/shop"],
    ),
    (
        "SERVICE default",
        "ARG SERVICE\n",
        "ARG SERVICE=catalog\n",
        "catalog",
        "ARG SERVICE=catalog",
        ["ARG SERVICE default", "expected no default", "found 'catalog'"],
    ),
    (
        "no import check",
        "import services.${SERVICE}.__main__, ",
        "import ",
        "catalog",
        "FROM ${PYTHON_IMAGE} AS build",
        ["imported at build time", "expected import services.catalog.__main__", "found ['os', 'services.catalog',"],
    ),
    (
        "service without a stage",
        "AS svc-users",
        "AS svc-user",
        "users",
        "FROM svc-${SERVICE}",
        ["the final FROM must name a stage of this file", "found svc-users"],
    ),
    (
        "different runtime base",
        "FROM ${PYTHON_IMAGE} AS runtime",
        "FROM python:3.12-slim-bookworm AS runtime",
        "users",
        "FROM python:3.12-slim-bookworm AS runtime",
        ["one base image", "found ['python:3.11-slim-bookworm', 'python:3.12-slim-bookworm']"],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "service", "needle", "fragments"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_each_check_fails_on_a_broken_dockerfile(
    old: str, new: str, service: str, needle: str, fragments: list[str]
) -> None:
    text = _break(old, new)
    problems = problems_for(text, service)
    matching = [p for p in problems if all(fragment in p for fragment in fragments)]
    assert matching, f"no problem with {fragments} for {service}; problems:\n" + "\n".join(problems)
    assert matching[0].startswith(f"{DOCKERFILE_REL}:{_line_of(text, needle)}: "), matching[0]


def test_broken_stage_is_that_service_only() -> None:
    """A wrong port in catalog's stage is catalog's problem only: the final stage is selected per service."""
    text = _break("EXPOSE 50051 9090", "EXPOSE 50061 9090")
    assert problems_for(text, "catalog")
    assert problems_for(text, "users") == []


def test_platform_drift_is_reported() -> None:
    """The other side can drift too: a Deployment's runAsUser, a containerPort, an extra removed from pyproject."""
    plat = platform()
    text = DOCKERFILE.read_text(encoding="utf-8")
    svc = plat.services["catalog"]
    deployment = json.loads(json.dumps(svc.deployment))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["runAsUser"] = 2000
    container["ports"][0]["containerPort"] = 50055
    extras = {k: v for k, v in plat.extras.items() if k != "catalog"}
    drifted = Platform(plat.repo, extras, {**plat.services, "catalog": replace(svc, deployment=deployment)})
    problems = problems_for(text, "catalog", drifted)
    expected = [
        f"{DOCKERFILE_REL}:{_line_of(text, 'USER 10001:10001')}: USER 10001:10001: USER uid: expected 2000",
        f"{svc.deployment_path}: containerPort: expected [9090, 50051] (reference services.catalog.port 50051 and "
        "metrics 9090), found [9090, 50055]",
        f"{DOCKERFILE_REL}:{_line_of(text, 'RUN python -m venv --without-pip')}: ",
    ]
    for prefix in expected:
        assert any(p.startswith(prefix) for p in problems), f"{prefix!r} not in:\n" + "\n".join(problems)
    assert any("the extra must exist in pyproject.toml" in p and "found no such extra" in p for p in problems)


def test_parser_reads_continuations_and_comments() -> None:
    parsed = parse_dockerfile(
        "# syntax=docker/dockerfile:1\nARG A=1\nFROM img:${A} AS one\n# c\nRUN a \\\n  # inside\n  && b\n"
        'COPY --from=one --chmod=0444 x /y\nENTRYPOINT ["python", "-m", "m"]\n'
    )
    (stage,) = parsed.stages
    assert (stage.name, stage.base, stage.line) == ("one", "img:${A}", 3)
    run, copy, entrypoint = stage.instructions
    assert (run.line, run.value) == (5, "a && b")
    assert (copy.flag("from"), copy.flag("chmod"), copy.value) == ("one", "0444", "x /y")
    assert entrypoint.exec_form() == ["python", "-m", "m"]
    assert expand("a${X}b$Y${Z:-z}${X:+w}", {"X": "1", "Y": "2"}) == "a1b2zw"
    with pytest.raises(ValueError, match="heredocs"):
        parse_dockerfile("FROM x\nRUN <<EOF\nls\nEOF\n")
