"""Steps about identity (features/iam-irsa.feature): IRSA trusts, service and add-on permissions, wildcards.

Terraform-shaped facts, so plan and live account alike."""

from __future__ import annotations

import re
from typing import Any

from pytest_bdd import parsers, then

from conformance.checks import expect_each, fail_if, select
from conformance.facts import Facts, Ref, Resource, Unknown
from conformance.outcomes import CheckError, Violation
from conformance.views.iam import PolicyNotReadable, Statement, policy_statements
from conformance.views.irsa import (
    POLICY_TYPES,
    irsa_roles,
    managed_policy_arns,
    permission_statements,
    subject,
    trust_of,
)
from reference import Architecture

# Managed policies that amount to "everything": attaching one is the same as a "*" on "*" statement.
ADMIN_POLICIES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
# Actions that read data or change capacity: on "*" they must carry a condition that scopes them.
SENSITIVE_ACTIONS = re.compile(
    r"^(secretsmanager:GetSecretValue|s3:(Get|Put|Delete)Object.*|kms:(Decrypt|Encrypt|GenerateDataKey.*|ReEncrypt.*|CreateGrant)"
    r"|logs:PutLogEvents|route53:ChangeResourceRecordSets|autoscaling:(SetDesiredCapacity|TerminateInstanceInAutoScalingGroup)"
    r"|iam:(PassRole|CreateServiceLinkedRole))$"
)  # fmt: skip


def _marker(infra: Facts) -> str:
    return f"<{infra.target}:{infra.environment}>"


def _irsa(infra: Facts) -> list[Resource]:
    roles = irsa_roles(infra)
    if not roles:
        select(infra, "aws_iam_role", lambda _r: False, "IAM roles assumable with web identity (IRSA)")
    return roles


def _provider_refs(infra: Facts) -> set[Any]:
    providers = infra.of_type("aws_iam_openid_connect_provider")
    return {Ref(p.address, "arn") for p in providers} | {
        p.get("arn") for p in providers if isinstance(p.get("arn"), str)
    }


# --------------------------------------------------------------------------------------------------------------- trust


@then("every IRSA role trusts only the cluster's OIDC provider")
def trust_principal(infra: Facts) -> None:
    allowed = _provider_refs(infra)
    expect_each(
        _irsa(infra),
        "assume_role_policy principals",
        "the cluster's OIDC provider only",
        read=lambda r: list(trust_of(infra, r).principals),
        ok=lambda principals: bool(principals) and all(p in allowed for p in principals),
    )


@then(
    parsers.parse(
        "every IRSA role's trust requires StringEquals on exactly one service account subject"
        ' and the "{audience}" audience'
    )
)
def trust_conditions(infra: Facts, audience: str) -> None:
    violations = []
    for role in _irsa(infra):
        trust = trust_of(infra, role)
        subjects = [s for s in trust.subjects if isinstance(s, str)]
        if not trust.exact or len(subjects) != 1 or len(trust.subjects) != 1:
            violations.append(
                Violation(
                    role.address,
                    "trust :sub (StringEquals)",
                    "exactly one system:serviceaccount:<ns>:<sa>",
                    list(trust.subjects) or "no sub condition",
                )
            )
        if list(trust.audiences) != [audience]:
            violations.append(
                Violation(
                    role.address, "trust :aud (StringEquals)", audience, list(trust.audiences) or "no aud condition"
                )
            )
        if trust.statements != 1:
            violations.append(Violation(role.address, "trust statements", 1, trust.statements))
    fail_if(violations, "IRSA trusts are not scoped to one service account")


@then("no two IRSA roles trust the same service account, and no role trusts two")
def no_shared_roles(infra: Facts) -> None:
    owners: dict[str, list[str]] = {}
    violations = []
    for role in _irsa(infra):
        subjects = trust_of(infra, role).subjects
        if len(subjects) > 1:
            violations.append(Violation(role.address, "trusted service accounts", 1, list(subjects)))
        for sub in subjects:
            owners.setdefault(str(sub), []).append(role.address)
    violations += [
        Violation(address, "trusted service account", f"{sub} trusted by this role only", addresses)
        for sub, addresses in owners.items()
        if len(addresses) > 1
        for address in addresses
    ]
    fail_if(violations, "a role is shared between service accounts")


# --------------------------------------------------------------------------------------------------------- permissions


def _wildcard(action: str) -> bool:
    return action == "*" or action.endswith(":*")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []  # a plan leaves undeclared blocks unknown


def _policy_documents(infra: Facts) -> list[tuple[str, Any]]:
    documents = [(p.address, p.get("policy")) for t in POLICY_TYPES for p in infra.of_type(t)]
    documents += [
        (r.address, b.get("policy"))
        for r in infra.of_type("aws_iam_role")
        for b in _as_list(r.get("inline_policy"))
        if isinstance(b, dict)
    ]
    return documents


@then(parsers.parse('no IAM policy allows "*" actions on "*" resources'))
def no_star_star(infra: Facts) -> None:
    documents = _policy_documents(infra)
    if not documents:
        select(infra, "aws_iam_role_policy", what="IAM policies")
    violations = []
    for address, document in documents:
        try:
            statements = policy_statements(infra, document)
        except PolicyNotReadable as exc:
            raise CheckError(f"{address}: cannot read the policy: {exc}") from exc
        for statement in statements:
            if statement.effect != "Allow" or ("*" not in statement.resources and not statement.not_resources):
                continue
            broad = [a for a in statement.actions if isinstance(a, str) and _wildcard(a)]
            if statement.not_actions:
                broad.append(f"NotAction {list(statement.not_actions)}")
            if broad:
                violations.append(
                    Violation(address, f"statement {statement.sid or ''}".strip(), "no wildcard action on *", broad)
                )
    for attachment in infra.of_type("aws_iam_role_policy_attachment", "aws_iam_policy_attachment"):
        arn = attachment.get("policy_arn")
        if isinstance(arn, str) and arn.rsplit("/", 1)[-1] in ADMIN_POLICIES:
            violations.append(Violation(attachment.address, "policy_arn", "no administrator policy", arn))
    fail_if(violations, "a policy allows everything")


# The reference's secrets whose value a database service manages itself (manage_master_user_password): the
# "<engine>-<service>" name prefix => the resource types that hold such a managed master secret.
MANAGED_SECRET_ENGINES: dict[str, tuple[str, ...]] = {
    "documentdb": ("aws_docdb_cluster",),
    "postgres": ("aws_db_instance", "aws_rds_cluster"),
}


def _managed_secret_arns(infra: Facts, value: str) -> list[Any] | None:
    """The managed master secret ARNs of the databases that can hold the reference secret ``value``, or None when
    ``value`` is no database's master secret. An ARN is a string (live) or a value known only after apply (plan)."""
    types = MANAGED_SECRET_ENGINES.get(value.split("-")[0])
    if types is None:
        return None
    return [
        database.get("master_user_secret.0.secret_arn")
        for database in infra.of_type(*types)
        if database.get("manage_master_user_password") is True
    ]


def _reference_match(
    kind: str, value: str, resource: Any, service: str, environment: str, infra: Facts | None = None
) -> bool:
    """Does a policy's resource stand for the reference's ``<kind>:<value>``? (see the feature's description)"""
    if kind == "*":
        return bool(resource == "*")
    managed = _managed_secret_arns(infra, value) if kind == "secret" and infra is not None else None
    if managed and service in value.split("-")[1:]:
        # The reference's <engine>-<service> secret is the master secret the database manages (rds!cluster-<id>),
        # named by its exact ARN. Live, the ARN must be that secret's. In a plan it is known only after apply and
        # the policy document's dynamic statements cannot be traced: accepted there, as dbuser and bucket are.
        if isinstance(resource, str) and not resource.startswith("(known after apply"):
            return resource in managed
        return isinstance(resource, (Ref, Unknown, str))
    if isinstance(resource, (Ref, Unknown)) or (
        isinstance(resource, str) and resource.startswith("(known after apply")
    ):
        # Known only after apply: an RDS DbiResourceId or a bucket ARN. Accepted for those kinds only.
        return kind in ("dbuser", "bucket")
    if not isinstance(resource, str):
        return False
    if kind == "secret":
        match = re.search(rf":secret:eks-shop/{re.escape(environment)}/([^*]+?)(-\?{{6}})?$", resource)
        if match is None:
            return False
        path = match.group(1)
        return path.split("/")[0] == service and set(value.split("-")) <= set(re.split(r"[/-]", path))
    if kind == "dbuser":
        return (
            ":rds-db:" in resource
            and ":dbuser:" in resource
            and resource.endswith(f"/{value}")
            and "*" not in resource.rsplit(":", 1)[-1].split("/")[0]
        )
    if kind == "bucket":
        return (
            resource.startswith("arn:aws:s3:::")
            and resource.endswith(f"/{value}")
            and "*" not in resource.split(":::")[1].split("/")[0]
        )
    return False


def _grants(statements: list[tuple[str, Statement]]) -> list[tuple[str, str, Any]]:
    return [
        (address, action, resource) for address, s in statements for action in s.actions for resource in s.resources
    ]


@then("every service has an IRSA role for its service account in its namespace")
def service_roles_exist(infra: Facts, architecture: Architecture) -> None:
    roles = _irsa(infra)
    violations = []
    for name, service in architecture.services.items():
        sub = subject(service.namespace, service.service_account)
        if not [r for r in roles if sub in trust_of(infra, r).subjects]:
            violations.append(Violation(f"<role of {name}>", "trust :sub", sub, "no role"))
    fail_if(violations, "services without their own IRSA role")


@then("every service role's permissions equal the reference's aws_permissions")
def service_permissions(infra: Facts, architecture: Architecture) -> None:
    violations = []
    for name, service in architecture.services.items():
        sub = subject(service.namespace, service.service_account)
        for role in [r for r in _irsa(infra) if sub in trust_of(infra, r).subjects]:
            try:
                statements = permission_statements(infra, role)
            except PolicyNotReadable as exc:
                raise CheckError(f"{role.address}: cannot read its policy: {exc}") from exc
            violations += _compare_permissions(infra, role, name, service.aws_permissions, statements)
            violations += [
                Violation(role.address, "managed policies", "none", arn) for arn in managed_policy_arns(infra, role)
            ]
    fail_if(violations, "service permissions differ from the reference's")


def _compare_permissions(
    infra: Facts, role: Resource, name: str, wanted: list[Any], statements: list[tuple[str, Statement]]
) -> list[Violation]:
    violations = []
    for address, statement in statements:
        if statement.effect != "Allow" or statement.not_actions or statement.not_resources:
            violations.append(
                Violation(address, f"statement {statement.sid}", "Allow with Action and Resource", statement.effect)
            )
    grants = _grants(statements)
    for address, action, resource in grants:
        allowed = [
            p
            for p in wanted
            if p.action == action and _reference_match(*_split(p.resource), resource, name, infra.environment, infra)
        ]
        if not allowed:
            violations.append(
                Violation(
                    address,
                    "grant",
                    [f"{p.action} on {p.resource}" for p in wanted] or "no permission",
                    f"{action} on {resource}",
                )
            )
    for permission in wanted:
        if not any(
            a == permission.action and _reference_match(*_split(permission.resource), r, name, infra.environment, infra)
            for _, a, r in grants
        ):
            violations.append(
                Violation(role.address, "grant", f"{permission.action} on {permission.resource}", "missing")
            )
    return violations


def _split(resource: str) -> tuple[str, str]:
    kind, _, value = resource.partition(":")
    return (kind, value) if value else ("*", "*")


# ---------------------------------------------------------------------------------------------------------- add-ons


def _role_for(infra: Facts, service_account: str) -> list[Resource]:
    namespace, name = service_account.split("/", 1)
    return [r for r in _irsa(infra) if subject(namespace, name) in trust_of(infra, r).subjects]


def _services_of(infra: Facts, role: Resource) -> set[str]:
    services = {str(a).split(":", 1)[0] for _, s in permission_statements(infra, role) for a in s.actions}
    for arn in managed_policy_arns(infra, role):
        if isinstance(arn, str) and "AmazonEBSCSIDriverPolicy" in arn:
            services.add("ec2")  # the managed EBS CSI policy is ec2 volume and snapshot calls only
        elif isinstance(arn, str):
            services.add(f"managed:{arn.rsplit('/', 1)[-1]}")
    return services


@then("the add-on roles are exactly these, each trusting its service account and using only its services:")
def addon_roles(infra: Facts, datatable: list[list[str]]) -> None:
    header, *rows = datatable
    violations = []
    addon_role_addresses = set()
    for row in rows:
        entry = dict(zip(header, (cell.strip() for cell in row), strict=True))
        roles = _role_for(infra, entry["service account"])
        if len(roles) != 1:
            violations.append(
                Violation(
                    f"<role of {entry['addon']}>",
                    "roles trusting " + entry["service account"],
                    1,
                    [r.address for r in roles],
                )
            )
        allowed = {s.strip() for s in entry["services"].split(",")}
        for role in roles:
            addon_role_addresses.add(role.address)
            if role.tags.get("Addon") != entry["addon"]:
                violations.append(Violation(role.address, "tags.Addon", entry["addon"], role.tags.get("Addon")))
            extra = sorted(_services_of(infra, role) - allowed)
            if extra:
                violations.append(Violation(role.address, "AWS services in its policies", sorted(allowed), extra))
    for role in _irsa(infra):
        if "Addon" in role.tags and role.address not in addon_role_addresses:
            violations.append(Violation(role.address, "add-on", "one of the listed add-ons", role.tags.get("Addon")))
    fail_if(violations, "add-on roles are missing, shared or broader than their add-on")


@then(parsers.parse('no add-on role grants data access or scaling on "*" resources without a condition'))
def addon_conditions(infra: Facts) -> None:
    roles = [r for r in _irsa(infra) if "Addon" in r.tags]
    if not roles:
        select(infra, "aws_iam_role", lambda r: "Addon" in r.tags, "add-on roles")
    violations = []
    for role in roles:
        for address, statement in permission_statements(infra, role):
            if "*" not in statement.resources or statement.conditions:
                continue
            sensitive = [a for a in statement.actions if isinstance(a, str) and SENSITIVE_ACTIONS.match(a)]
            if sensitive:
                violations.append(
                    Violation(address, f"statement {statement.sid}", "a condition or scoped resources", sensitive)
                )
    fail_if(violations, "add-on roles hold unscoped sensitive permissions")
