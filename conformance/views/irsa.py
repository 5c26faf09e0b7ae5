"""IRSA relations on facts: which roles are web-identity roles, whom they trust, what they may do.

Policy parsing itself is :func:`conformance.views.iam.policy_statements`; this module only relates roles to their
trust, inline policies and managed attachments. In a plan, a trust's condition keys (``<issuer>:sub``) are unknown
because the issuer exists only after the cluster: a condition is then recognised by its value
(``system:serviceaccount:...`` is a subject, ``sts.amazonaws.com`` the audience).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.facts import Facts, Ref, Resource
from conformance.views.iam import Condition, PolicyNotReadable, Statement, policy_statements

WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
SUBJECT_PREFIX = "system:serviceaccount:"
POLICY_TYPES = ("aws_iam_role_policy", "aws_iam_policy", "aws_iam_user_policy", "aws_iam_group_policy")


def trust_statements(facts: Facts, role: Resource) -> list[Statement]:
    try:
        return policy_statements(facts, role.get("assume_role_policy"))
    except PolicyNotReadable:
        return []


def is_irsa_role(facts: Facts, role: Resource) -> bool:
    return any(WEB_IDENTITY in s.actions for s in trust_statements(facts, role))


def irsa_roles(facts: Facts) -> list[Resource]:
    return [r for r in facts.of_type("aws_iam_role") if is_irsa_role(facts, r)]


def condition_kind(condition: Condition) -> str | None:
    """``sub`` or ``aud``: from the key when known, else from the value's shape (a plan's unknown issuer)."""
    if condition.key in ("sub", "aud"):
        return condition.key
    if condition.variable is None or not isinstance(condition.variable, str) or condition.key is None:
        values = [v for v in condition.values if isinstance(v, str)]
        if values and all(v.startswith(SUBJECT_PREFIX) for v in values):
            return "sub"
        if values and all(v == "sts.amazonaws.com" for v in values):
            return "aud"
    return None


@dataclass(frozen=True)
class Trust:
    """What an IRSA trust allows: its subjects and audiences, and whether they are exact (StringEquals)."""

    subjects: tuple[Any, ...]
    audiences: tuple[Any, ...]
    exact: bool
    principals: tuple[Any, ...]
    statements: int


def trust_of(facts: Facts, role: Resource) -> Trust:
    statements = [s for s in trust_statements(facts, role) if s.effect == "Allow"]
    subjects: list[Any] = []
    audiences: list[Any] = []
    principals: list[Any] = []
    exact = True
    for statement in statements:
        principals += list(statement.principals.get("Federated", ())) + list(statement.principals.get("*", ()))
        principals += list(statement.principals.get("AWS", ()))
        for condition in statement.conditions:
            kind = condition_kind(condition)
            if kind is None:
                continue
            if condition.test != "StringEquals" or any("*" in str(v) or "?" in str(v) for v in condition.values):
                exact = False
            (subjects if kind == "sub" else audiences).extend(condition.values)
        if not any(condition_kind(c) == "sub" for c in statement.conditions):
            exact = False  # a statement without a subject condition lets any service account of the cluster in
    return Trust(tuple(subjects), tuple(audiences), exact, tuple(principals), len(statements))


def subject(namespace: str, service_account: str) -> str:
    return f"{SUBJECT_PREFIX}{namespace}:{service_account}"


def role_for_subject(facts: Facts, sub: str) -> list[Resource]:
    return [r for r in irsa_roles(facts) if sub in trust_of(facts, r).subjects]


def _names_role(facts: Facts, value: Any, role: Resource, holder: Resource) -> bool:
    """Does a ``role`` attribute point at this role? An ambiguous plan reference falls back to the holder's key."""
    if isinstance(value, list):
        return isinstance(role.get("name"), str) and f'"{role.get("name")}' in holder.address
    if isinstance(value, Ref):
        return value.address == role.address
    return value in (role.get("name"), role.get("id"), role.get("arn"))


def inline_policies(facts: Facts, role: Resource) -> list[Resource]:
    return [p for p in facts.of_type("aws_iam_role_policy") if _names_role(facts, p.get("role"), role, p)]


def managed_policy_arns(facts: Facts, role: Resource) -> list[Any]:
    attached = [
        a.get("policy_arn")
        for a in facts.of_type("aws_iam_role_policy_attachment")
        if _names_role(facts, a.get("role"), role, a)
    ]
    declared = role.get("managed_policy_arns")
    attached += list(declared) if isinstance(declared, list) else []
    return attached


def permission_statements(facts: Facts, role: Resource) -> list[tuple[str, Statement]]:
    """(policy address, statement) for the role's inline policies; unreadable policies raise PolicyNotReadable."""
    found = []
    for policy in inline_policies(facts, role):
        found += [(policy.address, s) for s in policy_statements(facts, policy.get("policy"))]
    blocks = role.get("inline_policy")
    for block in blocks if isinstance(blocks, list) else []:  # a plan leaves an undeclared block unknown
        if isinstance(block, dict) and block.get("policy"):
            found += [(role.address, s) for s in policy_statements(facts, block["policy"])]
    return found


def role_of_arn(facts: Facts, value: Any) -> list[Resource]:
    """The role(s) an ARN attribute names; a plan reference that could not be narrowed gives all candidates."""
    values = value if isinstance(value, list) else [value]
    roles = [facts.resolve(v) for v in values if v not in (None, "")]
    return [r for r in roles if r is not None and r.type == "aws_iam_role"]


def role_named(facts: Facts, value: Any) -> Resource | None:
    """The role a ``role`` attribute names: by reference, id or (known at plan time) name."""
    found = facts.resolve(value)
    if found is not None and found.type == "aws_iam_role":
        return found
    return next((r for r in facts.of_type("aws_iam_role") if isinstance(value, str) and r.get("name") == value), None)
