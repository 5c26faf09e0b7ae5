"""CloudWatch Logs: log groups (retention, KMS key, class)."""

from __future__ import annotations

from typing import Any

from conformance.collectors.base import CollectContext, paginate, resource, with_tags
from conformance.facts import Resource


def collect(ctx: CollectContext) -> list[Resource]:
    logs = ctx.client("logs")
    out: list[Resource] = []
    for group in paginate(logs, "describe_log_groups", "logGroups"):
        arn = str(group.get("arn", "")).removesuffix(":*")
        tags = logs.list_tags_log_group(logGroupName=group["logGroupName"]).get("tags", {})
        if not ctx.in_scope(tags):
            continue
        values: dict[str, Any] = {
            "id": group["logGroupName"],
            "name": group["logGroupName"],
            "arn": arn,
            "retention_in_days": group.get("retentionInDays", 0),
            "kms_key_id": group.get("kmsKeyId", ""),
            "log_group_class": group.get("logGroupClass", "STANDARD"),
        }
        out.append(resource("aws_cloudwatch_log_group", with_tags(values, tags), "name"))
    return out
