"""The static target: a Terraform plan and the rendered Kubernetes manifests. No cloud, no cluster."""

from __future__ import annotations

from pathlib import Path

from conformance.emulator import Emulator, start_moto
from conformance.facts import Facts
from conformance.manifests import KubectlMissing, render_overlay, to_resources
from conformance.outcomes import CheckError
from conformance.plan import load_plan, plan_resources, plan_variables
from conformance.targets.base import Target, register
from conformance.terraform import TerraformMissing, TerraformRunner


@register
class StaticTarget(Target):
    name = "static"
    description = "terraform plan JSON (planned offline against the embedded emulator) + rendered manifests"
    sources = frozenset({"terraform", "kubernetes"})

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._emulator: Emulator | None = None
        self.plan_path: Path | None = None
        self.terraform_problem: str | None = None
        self.terraform_error: str | None = None

    def _start_emulator(self) -> str:
        # Plans need an API only for data sources; a private emulator (on a port the launcher picks and proves is
        # its own) keeps parallel runs apart.
        self._emulator = start_moto(None, self.context.work_dir / "logs")
        return self._emulator.endpoint

    def prepare(self) -> None:
        ctx = self.context
        if ctx.plan_file is not None:
            self.plan_path = ctx.plan_file
            return
        runner = TerraformRunner(ctx.infra_dir / "terraform", ctx.work_dir / "terraform", ctx.progress)
        try:
            self.plan_path = runner.plan(ctx.environment, self._start_emulator)
        except TerraformMissing as exc:
            self.terraform_problem = str(exc)
            ctx.progress(f"not observable: {exc}")
        except CheckError as exc:
            self.terraform_error = str(exc)
            ctx.progress(f"error: {exc}")
        finally:
            if self._emulator is not None:
                self._emulator.stop()
                self._emulator = None

    def observe(self) -> Facts:
        facts = Facts(target=self.name, environment=self.context.environment)
        if self.plan_path is not None:
            plan = load_plan(self.plan_path)
            facts.add(plan_resources(plan))
            facts.sources.add("terraform")
            facts.metadata["variables"] = plan_variables(plan)
            facts.metadata["plan_file"] = str(self.plan_path)
        elif self.terraform_error is not None:
            facts.errors["terraform"] = self.terraform_error
        else:
            facts.unavailable["terraform"] = self.terraform_problem or "no plan was produced"
        overlay = self.context.infra_dir / "kubernetes" / "overlays" / self.context.environment
        if not overlay.is_dir():
            facts.unavailable["kubernetes"] = f"no kustomize overlay at {overlay}"
            return facts
        try:
            facts.add(to_resources(render_overlay(overlay)))
            facts.sources.add("kubernetes")
        except KubectlMissing as exc:
            facts.unavailable["kubernetes"] = str(exc)
        except CheckError as exc:
            facts.errors["kubernetes"] = str(exc)
        return facts
