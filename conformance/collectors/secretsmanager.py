"""Secrets Manager: secrets (encryption key, policy) and their rotation. Secret values are never read."""

from __future__ import annotations

from typing import Any

from conformance.collectors.base import CollectContext, error_code, paginate, policy_json, resource, tag_dict, with_tags
from conformance.facts import Resource


def collect(ctx: CollectContext) -> list[Resource]:
    sm = ctx.client("secretsmanager")
    out: list[Resource] = []
    for secret in paginate(sm, "list_secrets", "SecretList"):
        tags = tag_dict(secret.get("Tags"))
        if not ctx.in_scope(tags) or secret.get("DeletedDate"):
            continue
        arn = secret["ARN"]
        try:
            policy = sm.get_resource_policy(SecretId=arn).get("ResourcePolicy")
        except Exception as exc:
            if error_code(exc) not in ("ResourceNotFoundException", "NotImplemented", ""):
                raise
            policy = None
        values: dict[str, Any] = {
            "id": arn,
            "arn": arn,
            "name": secret["Name"],
            "description": secret.get("Description", ""),
            "kms_key_id": secret.get("KmsKeyId", ""),
            "policy": policy_json(policy) or "",
            "replica": [
                {"region": r.get("Region"), "kms_key_id": r.get("KmsKeyId")}
                for r in secret.get("ReplicationStatus", [])
            ],
        }
        out.append(resource("aws_secretsmanager_secret", with_tags(values, tags), "name"))
        lambda_arn = secret.get("RotationLambdaARN")
        # A cancelled rotation keeps its Lambda and rules but rotates nothing: only an enabled one is a rotation.
        if secret.get("RotationEnabled"):
            rules = secret.get("RotationRules") or {}
            rotation = {
                "id": arn,
                "secret_id": arn,
                "rotation_enabled": bool(secret.get("RotationEnabled")),
                "rotation_lambda_arn": lambda_arn or "",
                "rotation_rules": [
                    {
                        "automatically_after_days": rules.get("AutomaticallyAfterDays"),
                        "schedule_expression": rules.get("ScheduleExpression"),
                        "duration": rules.get("Duration"),
                    }
                ],
            }
            out.append(resource("aws_secretsmanager_secret_rotation", rotation, "secret_id"))
    return out
