"""Unique RDS resource ids.

moto gives every DB instance the same hard-coded ``DbiResourceId`` (``db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U``). The AWS
provider finds an instance by that id (filter ``dbi-resource-id``) and refuses an answer with several matches
("couldn't find resource"): as soon as DocumentDB instances exist beside PostgreSQL, reading the database fails.
The shim gives each instance its own id, in AWS's format.
"""

from __future__ import annotations

import random
import string
from typing import Any

GAP = "every DB instance has the same DbiResourceId"
MOTO_CONSTANT = "db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U"


def new_resource_id() -> str:
    return "db-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=26))


def apply() -> None:
    from moto.rds import models

    original = models.DBInstance.__init__
    if getattr(original, "__shimmed__", False):
        return

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if getattr(self, "dbi_resource_id", None) == MOTO_CONSTANT:
            self.dbi_resource_id = new_resource_id()

    __init__.__shimmed__ = True  # type: ignore[attr-defined]
    models.DBInstance.__init__ = __init__  # type: ignore[method-assign]
