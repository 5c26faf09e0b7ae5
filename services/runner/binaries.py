"""Locate the system binaries the runner needs; a missing one is one clear line naming its Debian package."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

_PG_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")
PACKAGES = {
    "pg_ctl": "postgresql-15 (apt-get install -y postgresql-15)",
    "initdb": "postgresql-15 (apt-get install -y postgresql-15)",
    "redis-server": "redis-server (apt-get install -y redis-server)",
    "nx-27017": "the Python package nx-27017 (pip install -e '.[dev]')",
}


class MissingBinary(RuntimeError):
    pass


def find(name: str) -> str:
    if name in ("pg_ctl", "initdb"):
        for d in _PG_DIRS:
            candidate = Path(d) / name
            if candidate.exists():
                return str(candidate)
    if name == "nx-27017":
        local = Path(sys.executable).with_name("nx-27017")
        if local.exists():
            return str(local)
    found = shutil.which(name)
    if not found:
        raise MissingBinary(f"{name} not found: install {PACKAGES.get(name, name)} (scripts/setup.sh does it)")
    return found
