"""IAM policy documents as statements, whichever way the facts carry them.

A policy attribute (``assume_role_policy``, ``policy``) may be:

* a JSON string (a plan with a literal or ``jsonencode`` policy; a live read-back), possibly URL-encoded as the IAM
  API returns it;
* a mapping (the policy already decoded, as boto3 returns ``AssumeRolePolicyDocument``);
* a :class:`~conformance.facts.Ref` to a ``data.aws_iam_policy_document`` (the plan cannot render its ``json``
  before apply), whose ``statement`` blocks are in the facts.

:func:`policy_statements` returns :class:`Statement` objects in one shape for all three. Values the plan cannot know
(an OIDC provider ARN, a condition variable built from the issuer URL) stay as they are (``Ref``/``Unknown`` or the
plan's "known after apply" text), so callers decide how to treat them.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.facts import Facts, Ref, Unknown

POLICY_DOCUMENT_TYPE = "data.aws_iam_policy_document"


class PolicyNotReadable(ValueError):
    """The value is not a policy this module can read; the message says what was found."""


@dataclass(frozen=True)
class Condition:
    test: str  # StringEquals, StringLike, ...
    variable: Any  # "oidc.eks...:sub", or an unknown value in a plan
    values: tuple[Any, ...]

    @property
    def key(self) -> str | None:
        """The condition key's last segment (``sub``, ``aud``) when the variable is known."""
        if isinstance(self.variable, str) and not _is_unknown_text(self.variable):
            return self.variable.rsplit(":", 1)[-1]
        return None


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[Any, ...] = ()
    not_resources: tuple[Any, ...] = ()
    # principal type ("AWS", "Federated", "Service", "*") -> identifiers
    principals: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    conditions: tuple[Condition, ...] = ()
    sid: str | None = None


def _is_unknown_text(value: str) -> bool:
    # plan_resources renders unknown nested values as this text (see Unknown.__str__ / Ref.__str__).
    return value.startswith("(known after apply")


def _strings(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


def policy_statements(facts: Facts, value: Any) -> list[Statement]:
    """The statements of a policy attribute; raises :class:`PolicyNotReadable` saying why when it cannot."""
    if isinstance(value, (Ref, Unknown)):
        return _from_reference(facts, value)
    if isinstance(value, Mapping):
        return _from_json_document(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("%7B") or text.startswith("%7b"):
            text = urllib.parse.unquote(text)
        if _is_unknown_text(text):
            raise PolicyNotReadable(f"the policy is known only after apply and has no traceable source: {text}")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyNotReadable(f"not a JSON policy document: {exc}") from exc
        if not isinstance(document, Mapping):
            raise PolicyNotReadable(f"a policy document is a JSON object, found {type(document).__name__}")
        return _from_json_document(document)
    raise PolicyNotReadable(f"no policy: found {value!r}")


def _from_reference(facts: Facts, value: Ref | Unknown) -> list[Statement]:
    if isinstance(value, Unknown):
        raise PolicyNotReadable(f"the policy is known only after apply and has no traceable source: {value}")
    source = facts.resolve(value)
    if source is None:
        raise PolicyNotReadable(f"the policy refers to {value.address}, which is not in the facts")
    if source.type != POLICY_DOCUMENT_TYPE:
        raise PolicyNotReadable(f"the policy refers to {source.address} ({source.type}), not a policy document")
    blocks = source.get("statement")
    if not isinstance(blocks, list):
        raise PolicyNotReadable(f"{source.address} has no statement blocks")
    statements = [_from_block(block) for block in blocks if isinstance(block, Mapping)]
    # source_policy_documents / override_policy_documents merge other JSON documents in; read the literal ones.
    for key in ("source_policy_documents", "override_policy_documents"):
        for document in source.get(key) or []:
            if isinstance(document, str) and not _is_unknown_text(document):
                statements += policy_statements(facts, document)
    return statements


def _from_block(block: Mapping[str, Any]) -> Statement:
    """A ``statement`` block of ``data.aws_iam_policy_document`` (Terraform attribute names)."""
    principals: dict[str, tuple[Any, ...]] = {}
    for principal in block.get("principals") or []:
        kind = str(principal.get("type"))
        principals[kind] = principals.get(kind, ()) + _strings(principal.get("identifiers"))
    conditions = tuple(
        Condition(str(c.get("test")), c.get("variable"), _strings(c.get("values")))
        for c in block.get("condition") or []
        if isinstance(c, Mapping)
    )
    return Statement(
        effect=str(block.get("effect") or "Allow"),  # the data source defaults effect to Allow
        actions=_strings(block.get("actions")),
        not_actions=_strings(block.get("not_actions")),
        resources=_strings(block.get("resources")),
        not_resources=_strings(block.get("not_resources")),
        principals=principals,
        conditions=conditions,
        sid=block.get("sid") or None,
    )


def _from_json_document(document: Mapping[str, Any]) -> list[Statement]:
    raw = document.get("Statement")
    items: Sequence[Any] = [raw] if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
    if not items:
        raise PolicyNotReadable("the policy document has no Statement")
    return [_from_json_statement(item) for item in items if isinstance(item, Mapping)]


def _from_json_statement(item: Mapping[str, Any]) -> Statement:
    principal = item.get("Principal")
    principals: dict[str, tuple[Any, ...]] = {}
    if principal == "*":
        principals["*"] = ("*",)
    elif isinstance(principal, Mapping):
        principals = {str(kind): _strings(ids) for kind, ids in principal.items()}
    conditions = tuple(
        Condition(str(test), variable, _strings(values))
        for test, pairs in (item.get("Condition") or {}).items()
        if isinstance(pairs, Mapping)
        for variable, values in pairs.items()
    )
    return Statement(
        effect=str(item.get("Effect")),
        actions=_strings(item.get("Action")),
        not_actions=_strings(item.get("NotAction")),
        resources=_strings(item.get("Resource")),
        not_resources=_strings(item.get("NotResource")),
        principals=principals,
        conditions=conditions,
        sid=item.get("Sid"),
    )


def role_name_from_arn(arn: str) -> str | None:
    """``arn:aws:iam::123456789012:role/path/name`` -> ``name`` (IAM role names are the last path segment)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    return parts[5].rsplit("/", 1)[-1] or None
