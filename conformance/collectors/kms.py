"""KMS: customer-managed keys (rotation, policy, spec) and their aliases."""

from __future__ import annotations

from typing import Any

from conformance.collectors.base import CollectContext, paginate, policy_json, resource, tag_dict, with_tags
from conformance.facts import Resource


def collect(ctx: CollectContext) -> list[Resource]:
    kms = ctx.client("kms")
    out: list[Resource] = []
    keys: dict[str, dict[str, Any]] = {}
    for key in paginate(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") == "AWS" or meta.get("KeyState") in ("PendingDeletion", "PendingReplicaDeletion"):
            continue
        tags = tag_dict(kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", []))
        if not ctx.in_scope(tags):
            continue
        rotation = kms.get_key_rotation_status(KeyId=key["KeyId"])
        values: dict[str, Any] = {
            "id": meta["KeyId"],
            "key_id": meta["KeyId"],
            "arn": meta["Arn"],
            "description": meta.get("Description", ""),
            "key_usage": meta.get("KeyUsage"),
            "customer_master_key_spec": meta.get("KeySpec") or meta.get("CustomerMasterKeySpec"),
            "is_enabled": meta.get("Enabled"),
            "multi_region": meta.get("MultiRegion", False),
            "enable_key_rotation": rotation.get("KeyRotationEnabled", False),
            "rotation_period_in_days": rotation.get("RotationPeriodInDays"),
            "policy": policy_json(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default").get("Policy")),
        }
        keys[meta["KeyId"]] = values
        out.append(resource("aws_kms_key", with_tags(values, tags)))
    for alias in paginate(kms, "list_aliases", "Aliases"):
        target = alias.get("TargetKeyId")
        if target not in keys:
            continue
        values = {
            "id": alias["AliasName"],
            "name": alias["AliasName"],
            "arn": alias.get("AliasArn"),
            "target_key_id": target,
            "target_key_arn": keys[target]["arn"],
        }
        out.append(resource("aws_kms_alias", values, "name"))
    return out
