"""The target interface: prepare a deployment, observe it into facts, tear it down.

A target observes one environment of the platform. What it cannot observe it declares in ``Facts.unavailable``
(source -> reason) rather than failing, so the report shows how far each environment is proven.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from conformance.facts import Facts

Progress = Callable[[str], None]

ENVIRONMENTS = ("dev", "staging", "prod")


@dataclass
class RunContext:
    """Everything a target needs to know about the run."""

    environment: str
    project_root: Path
    work_dir: Path
    plan_file: Path | None = None
    endpoint: str | None = None
    keep: bool = False
    progress: Progress = field(default=lambda _message: None)

    @property
    def infra_dir(self) -> Path:
        return self.project_root / "infra"


class Target(abc.ABC):
    """Base class of the targets; subclasses register themselves by ``name``."""

    name: ClassVar[str]
    description: ClassVar[str]
    # The evidence this target produces when everything it needs is present.
    sources: ClassVar[frozenset[str]]

    def __init__(self, context: RunContext) -> None:
        self.context = context

    def prepare(self) -> None:
        """Bring up or locate the deployment (plan, apply, start services). Default: nothing to do."""

    @abc.abstractmethod
    def observe(self) -> Facts:
        """Read the deployment into facts; record in ``Facts.unavailable`` what could not be read and why."""

    def teardown(self) -> None:
        """Undo what prepare() did. Default: nothing to undo."""


REGISTRY: dict[str, type[Target]] = {}


def register(cls: type[Target]) -> type[Target]:
    REGISTRY[cls.name] = cls
    return cls
