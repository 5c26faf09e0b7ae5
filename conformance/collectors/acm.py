"""ACM: certificates; an issued certificate also stands for its aws_acm_certificate_validation."""

from __future__ import annotations

from typing import Any

from conformance.collectors.base import CollectContext, paginate, resource, tag_dict, with_tags
from conformance.facts import Resource


def collect(ctx: CollectContext) -> list[Resource]:
    acm = ctx.client("acm")
    out: list[Resource] = []
    for summary in paginate(acm, "list_certificates", "CertificateSummaryList"):
        arn = summary["CertificateArn"]
        tags = tag_dict(acm.list_tags_for_certificate(CertificateArn=arn).get("Tags", []))
        if not ctx.in_scope(tags):
            continue
        cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
        options = cert.get("DomainValidationOptions", [])
        values: dict[str, Any] = {
            "id": arn,
            "arn": arn,
            "domain_name": cert.get("DomainName"),
            "subject_alternative_names": cert.get("SubjectAlternativeNames", []),
            "validation_method": (options[0].get("ValidationMethod") if options else None) or "DNS",
            "status": cert.get("Status"),
            "key_algorithm": cert.get("KeyAlgorithm"),
            "type": cert.get("Type"),
        }
        out.append(resource("aws_acm_certificate", with_tags(values, tags), "domain_name"))
        if cert.get("Status") == "ISSUED":
            # Validation is not an AWS object: Terraform's resource only waits for ISSUED. An issued certificate
            # is the live evidence of it.
            records = [o["ResourceRecord"]["Name"].rstrip(".") for o in options if o.get("ResourceRecord")]
            out.append(
                resource(
                    "aws_acm_certificate_validation",
                    {"id": arn, "certificate_arn": arn, "validation_record_fqdns": records},
                    "certificate_arn",
                )
            )
    return out
