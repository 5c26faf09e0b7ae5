"""Route 53: hosted zones and their records (apex NS/SOA excepted: AWS creates those)."""

from __future__ import annotations

from typing import Any

from conformance.collectors.base import CollectContext, paginate, resource, tag_dict, with_tags
from conformance.facts import Resource


def collect(ctx: CollectContext) -> list[Resource]:
    r53 = ctx.client("route53")
    out: list[Resource] = []
    for zone in paginate(r53, "list_hosted_zones", "HostedZones"):
        zone_id = zone["Id"].rsplit("/", 1)[-1]
        tags = tag_dict(
            r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)["ResourceTagSet"].get("Tags", [])
        )
        if not ctx.in_scope(tags):
            continue
        name = zone["Name"].rstrip(".")
        detail = r53.get_hosted_zone(Id=zone_id)
        values: dict[str, Any] = {
            "id": zone_id,
            "zone_id": zone_id,
            "name": name,
            "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
            "comment": (zone.get("Config") or {}).get("Comment", ""),
            "name_servers": (detail.get("DelegationSet") or {}).get("NameServers", []),
            "vpc": [{"vpc_id": v.get("VPCId"), "vpc_region": v.get("VPCRegion")} for v in detail.get("VPCs", [])],
        }
        out.append(resource("aws_route53_zone", with_tags(values, tags), "name"))
        for record in paginate(r53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone_id):
            record_name = record["Name"].rstrip(".")
            if record["Type"] in ("NS", "SOA") and record_name == name:
                continue
            alias = record.get("AliasTarget")
            values = {
                "id": f"{zone_id}_{record_name}_{record['Type']}",
                "zone_id": zone_id,
                "name": record_name,
                "fqdn": record_name,
                "type": record["Type"],
                "ttl": record.get("TTL"),
                "records": [r["Value"] for r in record.get("ResourceRecords", [])],
                "alias": [
                    {
                        "name": alias.get("DNSName", "").rstrip("."),
                        "zone_id": alias.get("HostedZoneId"),
                        "evaluate_target_health": alias.get("EvaluateTargetHealth"),
                    }
                ]
                if alias
                else [],
            }
            out.append(resource("aws_route53_record", values, "id"))
    return out
