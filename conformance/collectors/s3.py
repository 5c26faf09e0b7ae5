"""S3: buckets and the settings Terraform keeps as separate resources (public access block, encryption...)."""

from __future__ import annotations

import re
from typing import Any

from conformance.collectors.base import CollectContext, error_code, policy_json, resource, tag_dict, with_tags
from conformance.facts import Resource

_MISSING = {
    "NoSuchTagSet",
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchBucketPolicy",
    "OwnershipControlsNotFoundError",
    "NoSuchLifecycleConfiguration",
}


def _get(call: Any, **kwargs: Any) -> dict[str, Any] | None:
    try:
        result: dict[str, Any] = call(**kwargs)
    except Exception as exc:
        if error_code(exc) in _MISSING:
            return None
        raise
    return result


def _snake(name: str) -> str:
    # KMSMasterKeyID -> kms_master_key_id: acronyms stay one word.
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _block(value: Any) -> Any:
    """An API structure as Terraform nests it: snake_case keys, nested structures as one-element lists."""
    if isinstance(value, dict):
        return {_snake(k): ([_block(v)] if isinstance(v, dict) else _block(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_block(v) for v in value]
    return value


def collect(ctx: CollectContext) -> list[Resource]:
    s3 = ctx.client("s3")
    out: list[Resource] = []
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        tagging = _get(s3.get_bucket_tagging, Bucket=name)
        tags = tag_dict((tagging or {}).get("TagSet", []))
        if not ctx.in_scope(tags):
            continue
        values: dict[str, Any] = {"id": name, "bucket": name, "arn": f"arn:aws:s3:::{name}", "region": ctx.region}
        out.append(resource("aws_s3_bucket", with_tags(values, tags), "bucket"))
        block = _get(s3.get_public_access_block, Bucket=name)
        if block is not None:
            config = block["PublicAccessBlockConfiguration"]
            out.append(
                resource(
                    "aws_s3_bucket_public_access_block",
                    {"id": name, "bucket": name, **{_snake(k): v for k, v in config.items()}},
                    "bucket",
                )
            )
        encryption = _get(s3.get_bucket_encryption, Bucket=name)
        if encryption is not None:
            rules = encryption["ServerSideEncryptionConfiguration"].get("Rules", [])
            out.append(
                resource(
                    "aws_s3_bucket_server_side_encryption_configuration",
                    {"id": name, "bucket": name, "rule": _block(rules)},
                    "bucket",
                )
            )
        versioning = s3.get_bucket_versioning(Bucket=name)
        if versioning.get("Status"):
            out.append(
                resource(
                    "aws_s3_bucket_versioning",
                    {
                        "id": name,
                        "bucket": name,
                        "versioning_configuration": [
                            {"status": versioning.get("Status"), "mfa_delete": versioning.get("MFADelete", "")}
                        ],
                    },
                    "bucket",
                )
            )
        policy = _get(s3.get_bucket_policy, Bucket=name)
        if policy is not None:
            out.append(
                resource(
                    "aws_s3_bucket_policy",
                    {"id": name, "bucket": name, "policy": policy_json(policy["Policy"])},
                    "bucket",
                )
            )
        ownership = _get(s3.get_bucket_ownership_controls, Bucket=name)
        if ownership is not None:
            rules = ownership["OwnershipControls"].get("Rules", [])
            out.append(
                resource(
                    "aws_s3_bucket_ownership_controls", {"id": name, "bucket": name, "rule": _block(rules)}, "bucket"
                )
            )
        lifecycle = _get(s3.get_bucket_lifecycle_configuration, Bucket=name)
        if lifecycle is not None:
            out.append(
                resource(
                    "aws_s3_bucket_lifecycle_configuration",
                    {"id": name, "bucket": name, "rule": _block(lifecycle.get("Rules", []))},
                    "bucket",
                )
            )
    return out
