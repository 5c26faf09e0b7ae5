"""Which KMS key encrypts what: a key reference (ARN, id, alias, or a plan Ref) resolved to its aws_kms_key.

Keys carry the tag ``DataClass`` (docs/conventions.md), so a step can ask "is this the rds key" rather than
compare ARNs that a plan does not know yet.
"""

from __future__ import annotations

from typing import Any

from conformance.facts import Facts, Ref, Resource

KEY_TYPE = "aws_kms_key"


def kms_key(facts: Facts, value: Any) -> Resource | None:
    """The customer-managed key a reference points at; through an alias too. None for AWS-managed or unknown keys."""
    if isinstance(value, list):
        return None  # an ambiguous reference is not proof of a particular key
    if value in (None, ""):
        return None
    target = facts.resolve(value)
    if target is None and isinstance(value, str):
        target = next((k for k in facts.of_type(KEY_TYPE) if value in (k.get("arn"), k.get("key_id"))), None)
        alias = next(
            (a for a in facts.of_type("aws_kms_alias") if a.get("name") == value or a.get("arn") == value), None
        )
        if target is None and alias is not None:
            target = facts.resolve(alias.get("target_key_id"))
    if target is not None and target.type == "aws_kms_alias":
        target = facts.resolve(target.get("target_key_id"))
    return target if target is not None and target.type == KEY_TYPE else None


def key_class(facts: Facts, value: Any) -> str | None:
    key = kms_key(facts, value)
    return key.tags.get("DataClass") if key is not None else None


def describe_key(facts: Facts, value: Any) -> str:
    """How a violation shows the key that was found."""
    key = kms_key(facts, value)
    if key is not None:
        return f"{key.address} (DataClass={key.tags.get('DataClass')})"
    if isinstance(value, Ref):
        return f"{value.address}.{value.attribute}"
    if isinstance(value, list):
        return f"an ambiguous reference to {len(value)} resources"
    return "no customer-managed key" if value in (None, "") else str(value)
