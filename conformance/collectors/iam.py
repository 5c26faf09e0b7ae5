"""IAM: roles with their trust policy, inline policies and attachments; OIDC providers; instance profiles.

Policies become the separate records Terraform has (aws_iam_role_policy, aws_iam_role_policy_attachment) and are
also kept inline on the role (inline_policy, managed_policy_arns) as the provider's read of a role shows them.
Customer-managed policies attached to a role are read too (aws_iam_policy), so a wildcard attached later is seen.
"""

from __future__ import annotations

from typing import Any

from conformance.collectors.base import CollectContext, paginate, policy_json, resource, tag_dict, with_tags
from conformance.facts import Resource


def _role(ctx: CollectContext, iam: Any, role: dict[str, Any], tags: dict[str, str]) -> list[Resource]:
    name = role["RoleName"]
    out: list[Resource] = []
    inline = []
    for policy_name in paginate(iam, "list_role_policies", "PolicyNames", RoleName=name):
        document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        policy = policy_json(document)
        inline.append({"name": policy_name, "policy": policy})
        out.append(
            resource(
                "aws_iam_role_policy",
                {"id": f"{name}:{policy_name}", "role": name, "name": policy_name, "policy": policy},
                "id",
            )
        )
    attached = [p["PolicyArn"] for p in paginate(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name)]
    for arn in attached:
        out.append(
            resource(
                "aws_iam_role_policy_attachment",
                {"id": f"{name}/{arn}", "role": name, "policy_arn": arn},
                "id",
            )
        )
    boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn", "")
    values: dict[str, Any] = {
        "id": name,
        "name": name,
        "arn": role["Arn"],
        "path": role.get("Path", "/"),
        "unique_id": role.get("RoleId"),
        "description": role.get("Description", ""),
        "max_session_duration": role.get("MaxSessionDuration", 3600),
        "permissions_boundary": boundary,
        "assume_role_policy": policy_json(role.get("AssumeRolePolicyDocument")),
        "inline_policy": inline,
        "managed_policy_arns": sorted(attached),
    }
    out.insert(0, resource("aws_iam_role", with_tags(values, tags), "name"))
    return out


def _customer_policy(iam: Any, arn: str) -> Resource | None:
    if ":aws:policy/" in arn:
        return None  # AWS managed: not part of the deployment (and identical in every account)
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    values: dict[str, Any] = {
        "id": arn,
        "arn": arn,
        "name": policy["PolicyName"],
        "path": policy.get("Path", "/"),
        "policy": policy_json(version.get("Document")),
    }
    tags = tag_dict(iam.list_policy_tags(PolicyArn=arn).get("Tags", []))
    return resource("aws_iam_policy", with_tags(values, tags), "name")


def collect(ctx: CollectContext) -> list[Resource]:
    iam = ctx.client("iam")
    out: list[Resource] = []
    role_names = set()
    attached_arns: set[str] = set()
    for role in paginate(iam, "list_roles", "Roles"):
        if role.get("Path", "/").startswith("/aws-service-role/"):
            continue  # service-linked roles belong to AWS, not to the deployment
        tags = tag_dict(iam.list_role_tags(RoleName=role["RoleName"]).get("Tags", []))
        if not ctx.in_scope(tags):
            continue
        role_names.add(role["RoleName"])
        # ListRoles omits nothing we need except tags, but GetRole is what the provider reads: use it.
        full = iam.get_role(RoleName=role["RoleName"])["Role"]
        records = _role(ctx, iam, full, tags)
        out += records
        attached_arns |= {str(r.get("policy_arn")) for r in records if r.type == "aws_iam_role_policy_attachment"}
    for arn in sorted(attached_arns):
        policy = _customer_policy(iam, arn)
        if policy is not None:
            out.append(policy)

    for provider in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", []):
        arn = provider["Arn"]
        detail = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        tags = tag_dict(detail.get("Tags", []))
        if not ctx.in_scope(tags):
            continue
        values: dict[str, Any] = {
            "id": arn,
            "arn": arn,
            "url": str(detail.get("Url", "")).removeprefix("https://"),
            "client_id_list": detail.get("ClientIDList", []),
            "thumbprint_list": detail.get("ThumbprintList", []),
        }
        out.append(resource("aws_iam_openid_connect_provider", with_tags(values, tags), "url"))

    profiles: list[Resource] = []
    for profile in paginate(iam, "list_instance_profiles", "InstanceProfiles"):
        roles = [r["RoleName"] for r in profile.get("Roles", [])]
        if not any(r in role_names for r in roles):
            continue
        values = {
            "id": profile["InstanceProfileName"],
            "name": profile["InstanceProfileName"],
            "arn": profile["Arn"],
            "path": profile.get("Path", "/"),
            "role": roles[0] if roles else "",
        }
        profiles.append(resource("aws_iam_instance_profile", with_tags(values, tag_dict(profile.get("Tags"))), "name"))
    # A profile and its role usually share a name, which is both their Terraform ids: listed first, the profile is
    # what an id lookup of that name finds (aws_instance.iam_instance_profile); roles are found by name anyway.
    return profiles + out
