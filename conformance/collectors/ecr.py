"""ECR: repositories (tag immutability, scanning, encryption) and their lifecycle policies."""

from __future__ import annotations

from typing import Any

from conformance.collectors.base import CollectContext, error_code, paginate, policy_json, resource, tag_dict, with_tags
from conformance.facts import Resource


def collect(ctx: CollectContext) -> list[Resource]:
    ecr = ctx.client("ecr")
    out: list[Resource] = []
    for repo in paginate(ecr, "describe_repositories", "repositories"):
        tags = tag_dict(ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"]).get("tags", []))
        if not ctx.in_scope(tags):
            continue
        name = repo["repositoryName"]
        encryption = repo.get("encryptionConfiguration") or {}
        values: dict[str, Any] = {
            "id": name,
            "name": name,
            "arn": repo["repositoryArn"],
            "registry_id": repo.get("registryId"),
            "repository_url": repo.get("repositoryUri"),
            "image_tag_mutability": repo.get("imageTagMutability"),
            "image_scanning_configuration": [
                {"scan_on_push": (repo.get("imageScanningConfiguration") or {}).get("scanOnPush", False)}
            ],
            "encryption_configuration": [
                {"encryption_type": encryption.get("encryptionType"), "kms_key": encryption.get("kmsKey", "")}
            ],
        }
        out.append(resource("aws_ecr_repository", with_tags(values, tags), "name"))
        try:
            policy = ecr.get_lifecycle_policy(repositoryName=name).get("lifecyclePolicyText")
        except Exception as exc:
            if error_code(exc) != "LifecyclePolicyNotFoundException":
                raise
            continue
        out.append(
            resource(
                "aws_ecr_lifecycle_policy",
                {"id": name, "repository": name, "registry_id": repo.get("registryId"), "policy": policy_json(policy)},
                "repository",
            )
        )
    return out
