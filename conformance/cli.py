"""`shopctl`: run the conformance suite, inspect the reference architecture, run the platform locally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from conformance.outcomes import Outcome
from conformance.targets import REGISTRY
from conformance.targets.base import ENVIRONMENTS
from reference import ReferenceError, load_architecture

PROJECT_ROOT = Path(__file__).resolve().parent.parent

app = typer.Typer(help="eks-shop: the EKS e-commerce platform that proves itself.", no_args_is_help=True)
conformance_app = typer.Typer(help="Check a deployment against every documented requirement.", no_args_is_help=True)
reference_app = typer.Typer(help="The intended architecture (reference/architecture.yaml).", no_args_is_help=True)
app.add_typer(conformance_app, name="conformance")
app.add_typer(reference_app, name="reference")
tenant_app = typer.Typer(help="Tenants (storefronts) of the local platform.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")

console = Console()
_STYLE = {
    Outcome.PASS.value: "green",
    Outcome.FAIL.value: "bold red",
    Outcome.ERROR.value: "bold magenta",
    Outcome.NOT_OBSERVABLE.value: "yellow",
    Outcome.WAIVED.value: "cyan",
}


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


@conformance_app.command("run")
def conformance_run(
    target: Annotated[str, typer.Option(help=f"where to observe: {', '.join(sorted(REGISTRY))}")] = "static",
    env: Annotated[str, typer.Option(help="environment: dev, staging or prod")] = "dev",
    plan: Annotated[Path | None, typer.Option(help="check this `terraform show -json` file instead")] = None,
    waivers: Annotated[Path | None, typer.Option(help="YAML file of waivers")] = None,
    report_dir: Annotated[Path, typer.Option(help="where reports are written")] = PROJECT_ROOT / "reports",
    requirement: Annotated[list[str] | None, typer.Option(help="only these requirement ids (repeatable)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show every scenario as it runs")] = False,
) -> None:
    """Run the Gherkin features against a target and print a per-requirement summary."""
    if target not in REGISTRY:
        _fail(f"--target {target!r} is not available; choose one of {sorted(REGISTRY)}")
    if env not in ENVIRONMENTS:
        _fail(f"--env {env!r}: expected one of {list(ENVIRONMENTS)}")
    import pytest  # imported late: `shopctl reference show` should not pay for it

    report_dir.mkdir(parents=True, exist_ok=True)
    args = [
        str(PROJECT_ROOT / "steps"),
        f"--rootdir={PROJECT_ROOT}",
        f"--target={target}",
        f"--env={env}",
        f"--report-dir={report_dir}",
        f"--junitxml={report_dir / f'junit-{target}-{env}.xml'}",
        f"--cucumberjson={report_dir / f'cucumber-{target}-{env}.json'}",
        "-p",
        "no:cacheprovider",
        "-v" if verbose else "-q",
        "--no-header",
        "-rfE",
        "--tb=line",
    ]
    if plan is not None:
        args.append(f"--plan={plan}")
    if waivers is not None:
        args.append(f"--waivers={waivers}")
    for requirement_id in requirement or []:
        args.append(f"--requirement={requirement_id}")
    console.rule(f"conformance: target [bold]{target}[/], environment [bold]{env}[/]")
    code = pytest.main(args)
    run_file = report_dir / f"conformance-{target}-{env}.json"
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR) or not run_file.is_file():
        raise typer.Exit(int(code) or 2)
    _print_summary(json.loads(run_file.read_text()), report_dir)
    raise typer.Exit(0 if code == pytest.ExitCode.OK else 1)


def _print_summary(run: dict[str, object], report_dir: Path) -> None:
    table = Table(title=f"Requirements on {run['target']}/{run['environment']}", show_lines=False)
    table.add_column("requirement")
    table.add_column("outcome")
    table.add_column("scenario")
    table.add_column("seed section")
    scenarios = run["scenarios"]
    assert isinstance(scenarios, list)
    outcomes = run["requirements"]
    assert isinstance(outcomes, dict)
    for requirement_id in sorted(outcomes):
        scenario = next(s for s in scenarios if requirement_id in s["requirements"])
        outcome = outcomes[requirement_id]
        table.add_row(
            requirement_id,
            f"[{_STYLE.get(outcome, 'white')}]{outcome}[/]",
            scenario["scenario"],
            ", ".join(scenario["seed_sections"]),
        )
    console.print(table)
    summary = run["summary"]
    assert isinstance(summary, dict)
    counts = ", ".join(f"[{_STYLE.get(k, 'white')}]{v} {k}[/]" for k, v in sorted(summary.items()))
    console.print(f"scenarios: {counts}")
    console.print(f"reports: {report_dir / 'conformance-report.md'} (matrix), junit and cucumber JSON beside it")


@conformance_app.command("mutate")
def conformance_mutate(
    one_at_a_time: Annotated[
        bool, typer.Option("--one-at-a-time", help="plan every mutant alone (slower; no batching)")
    ] = False,
    only: Annotated[list[str] | None, typer.Option(help="only these mutation ids (repeatable)")] = None,
) -> None:
    """Break copies of the real Terraform on purpose and show that each break turns its requirement red."""
    from conformance.mutations import load_catalog, run_mutations
    from conformance.outcomes import CheckError

    try:
        mutations = [m for m in load_catalog() if not only or m.id in only]
        report = run_mutations(
            mutations, PROJECT_ROOT / ".work", batch=not one_at_a_time, progress=lambda m: console.print(f"[dim]{m}[/]")
        )
    except CheckError as exc:
        _fail(str(exc))
        return
    table = Table(title="Mutations of the real Terraform")
    for column in ("mutation", "requirement", "killed", "detail"):
        table.add_column(column)
    for result in report.results:
        killed = "[green]yes[/]" if result.killed else "[bold red]NO[/]"
        table.add_row(result.mutation.id, result.mutation.requirement, killed, result.detail)
    console.print(table)
    console.print(
        f"kill rate: {report.kill_rate:.0%} ({len(report.results) - len(report.survivors())}/{len(report.results)})"
    )
    raise typer.Exit(0 if not report.survivors() else 1)


@reference_app.command("show")
def reference_show(
    path: Annotated[Path | None, typer.Option(help="architecture file")] = None,
) -> None:
    """Print the intended architecture."""
    try:
        arch = load_architecture(path) if path else load_architecture()
    except ReferenceError as exc:
        _fail(str(exc))
        return
    tree = Tree(f"[bold]{arch.name}[/] in {arch.region} across {', '.join(arch.availability_zones)}")
    services = tree.add("services")
    for name, svc in arch.services.items():
        calls = ", ".join(svc.calls) or "nothing"
        node = services.add(f"[bold]{name}[/] ({svc.protocol}:{svc.port}) {svc.role}; calls {calls}; store {svc.store}")
        for permission in svc.aws_permissions:
            node.add(f"IAM {permission.action} on {permission.resource}")
    stores = tree.add("data stores")
    for store_name, store in arch.data_stores.model_dump().items():
        stores.add(f"[bold]{store_name}[/] " + ", ".join(f"{k}={v}" for k, v in store.items()))
    network = tree.add(f"network {arch.network.vpc_cidr}")
    for tier, cidrs in arch.network.tiers.items():
        network.add(f"{tier}: {', '.join(cidrs)} (internet: {arch.network.internet_route[tier]})")
    eks = tree.add(f"EKS {arch.eks.version} (the seed's floor: {arch.eks.min_version})")
    for group_name, group in arch.eks.node_groups.items():
        eks.add(f"{group_name}: {'/'.join(group.instance_types)} {group.capacity_type} {group.min}-{group.max}")
    envs = tree.add("environments")
    for env_name, environment in arch.environments.items():
        envs.add(
            f"{env_name}: {environment.nat_gateways} NAT, budget ${environment.monthly_budget_usd:,.0f}/month "
            f"(+{environment.budget_margin_percent:.0f}%)"
        )
    tree.add(f"tenancy: {arch.tenancy.model}, resolved by {arch.tenancy.edge_resolution}")
    console.print(tree)


# ------------------------------------------------------------------------------------------- the local platform
# The runner lives with the services (services/runner); these commands are its front door.


def _runner(command: str, extra: list[str]) -> None:
    from services.runner.__main__ import main as runner_main

    raise typer.Exit(runner_main([command, "--root", str(PROJECT_ROOT / ".work" / "platform"), *extra]))


@app.command("up")
def platform_up(
    port: Annotated[list[str] | None, typer.Option(help="NAME=PORT (0 picks a free port); repeatable")] = None,
    no_seed: Annotated[bool, typer.Option("--no-seed", help="skip the demo catalogue")] = False,
) -> None:
    """Start the platform on this machine: PostgreSQL, Redis, the MongoDB-wire store, the AWS emulator, services."""
    extra = [f"--port={p}" for p in port or []] + (["--no-seed"] if no_seed else [])
    _runner("up", extra)


@app.command("status")
def platform_status() -> None:
    """What `shopctl up` started, checked live."""
    _runner("status", [])


@app.command("down")
def platform_down() -> None:
    """Stop exactly what `shopctl up` started and check nothing is left behind."""
    _runner("down", [])


@tenant_app.command("create")
def tenant_create(
    tenant_id: Annotated[str, typer.Argument(help="lower-case id, e.g. acme")],
    admin_email: Annotated[str, typer.Option(help="the tenant admin's e-mail")],
    display_name: Annotated[str | None, typer.Option(help="shown on the storefront")] = None,
    password_file: Annotated[
        Path | None, typer.Option(help="file holding the admin password (default: prompt)")
    ] = None,
    demo_catalogue: Annotated[bool, typer.Option(help="seed the demo catalogue")] = True,
) -> None:
    """Onboard a tenant on the running local platform: its admin user and, optionally, a demo catalogue."""
    from services.runner.config import RunnerConfig
    from services.runner.platform import RunnerError
    from services.runner.tenants import create_tenant

    if password_file is not None:
        try:
            password = password_file.read_text().strip()
        except OSError as exc:
            _fail(f"--password-file {password_file}: {exc.strerror}")
            return
    else:
        password = typer.prompt("admin password", hide_input=True, confirmation_prompt=True)
    try:
        created = create_tenant(
            RunnerConfig(root=PROJECT_ROOT / ".work" / "platform"),
            tenant_id,
            display_name or tenant_id,
            admin_email,
            password,
            demo_catalogue,
        )
    except RunnerError as exc:
        _fail(str(exc))
        return
    console.print(
        f"tenant [bold]{created.tenant_id}[/] created; admin user {created.admin_user_id}; {created.catalogue}"
    )


# ---------------------------------------------------------------------------------------------- the AWS emulator

emulator_app = typer.Typer(help="The embedded AWS emulator (moto with the project's shims).", no_args_is_help=True)
app.add_typer(emulator_app, name="emulator")
_EMULATOR_DIR = PROJECT_ROOT / ".work" / "emulator"


def _emulator_endpoint(endpoint: str | None) -> str:
    import os

    from conformance.emulator import DEFAULT_ENDPOINT

    return endpoint or os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT


@emulator_app.command("start")
def emulator_start(
    endpoint: Annotated[str | None, typer.Option(help="default: $AWS_ENDPOINT_URL or http://127.0.0.1:4566")] = None,
) -> None:
    """Start moto's server (with the shims) on the endpoint's port, unless something already answers there."""
    from conformance.emulator import ensure_emulator, write_state
    from conformance.outcomes import CheckError

    url = _emulator_endpoint(endpoint)
    try:
        started = ensure_emulator(url, _EMULATOR_DIR / "logs")
    except CheckError as exc:
        _fail(str(exc))
        return
    if started.process is None:
        console.print(f"an emulator already answers at {url}: nothing started")
        return
    write_state(_EMULATOR_DIR, started)
    console.print(f"emulator started at {started.endpoint} (pid {started.process.pid}, log {started.log_path})")


@emulator_app.command("stop")
def emulator_stop(
    endpoint: Annotated[str | None, typer.Option(help="default: $AWS_ENDPOINT_URL or http://127.0.0.1:4566")] = None,
) -> None:
    """Stop the emulator recorded by `shopctl emulator start` (or by a --target=localstack run with --keep)."""
    from conformance.emulator import stop_recorded

    console.print(stop_recorded(_EMULATOR_DIR, _emulator_endpoint(endpoint)))


@emulator_app.command("status")
def emulator_status(
    endpoint: Annotated[str | None, typer.Option(help="default: $AWS_ENDPOINT_URL or http://127.0.0.1:4566")] = None,
) -> None:
    """Say whether an emulator answers, which engine it is, and whether this project started it."""
    from conformance.emulator import answers, detect_engine, pid_alive, read_state

    url = _emulator_endpoint(endpoint)
    state = read_state(_EMULATOR_DIR, url)
    if state and state.get("pid") and pid_alive(int(state["pid"])):
        console.print(f"recorded: pid {state['pid']} at {state['endpoint']} (log {state.get('log')})")
    elif state:
        console.print(f"recorded emulator (pid {state.get('pid')}) is no longer running")
    if answers(url):
        console.print(f"[green]up[/]: {detect_engine(url)} answers at {url}")
    else:
        console.print(f"[yellow]down[/]: nothing answers at {url}")
        raise typer.Exit(1)


@conformance_app.command("drift")
def conformance_drift(
    env: Annotated[str, typer.Option(help="environment: dev, staging or prod")] = "dev",
    endpoint: Annotated[str | None, typer.Option(help="the emulator (default: $AWS_ENDPOINT_URL or :4566)")] = None,
) -> None:
    """Differences between the plan's facts and the live facts in the emulator, per resource and attribute."""
    from conformance.drift import drift, format_differences
    from conformance.outcomes import CheckError

    if env not in ENVIRONMENTS:
        _fail(f"--env {env!r}: expected one of {list(ENVIRONMENTS)}")
    try:
        differences, _ = drift(PROJECT_ROOT, env, endpoint, lambda m: console.print(f"[dim]{m}[/]"))
    except CheckError as exc:
        _fail(str(exc))
        return
    console.print(format_differences(differences), markup=False, highlight=False)
    raise typer.Exit(1 if differences else 0)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
