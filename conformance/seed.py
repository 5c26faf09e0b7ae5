"""The seed README's sections, so that every requirement can be traced to the words it comes from.

Scenarios carry a tag ``@seed:<slug>`` where the slug is a heading of ``docs/seed.md`` (the platform's original
description) lower-cased with every run of other characters turned into one hyphen, e.g. ``### Networking`` ->
``networking``, ``### IAM Roles for Service Accounts (IRSA)`` -> ``iam-roles-for-service-accounts-irsa``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SEED_PATH = Path(__file__).resolve().parent.parent / "docs" / "seed.md"


def slugify(heading: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


@functools.cache
def sections(path: Path = SEED_PATH) -> dict[str, str]:
    """slug -> heading text (without the emoji the seed decorates some headings with)."""
    result: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#{2,4}\s+(.*)$", line)
        if match:
            heading = re.sub(r"^[^\w(]+", "", match.group(1)).strip()
            result.setdefault(slugify(heading), heading)
    return result


COVERAGE_PATH = Path(__file__).with_name("seed_coverage.yaml")


@dataclass(frozen=True)
class SeedStatement:
    """One requirement as the seed words it, and the requirement ids whose scenarios check it."""

    section: str
    statement: str
    requirements: tuple[str, ...]
    reason: str = ""  # why no scenario can check it, when requirements is empty


@functools.cache
def coverage(path: Path = COVERAGE_PATH) -> tuple[SeedStatement, ...]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(
        SeedStatement(e["section"], e["statement"], tuple(e.get("requirements", ())), e.get("reason", ""))
        for e in raw["coverage"]
    )
