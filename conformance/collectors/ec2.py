"""VPC and EC2: VPCs, subnets, gateways, route tables, endpoints, security groups, flow logs, launch templates."""

from __future__ import annotations

from typing import Any

from conformance.collectors.base import CollectContext, paginate, policy_json, resource, tag_dict, with_tags
from conformance.facts import Resource

# Terraform's aws_route_table.route block, from an EC2 Route.
_ROUTE_FIELDS = {
    "DestinationCidrBlock": "cidr_block",
    "DestinationIpv6CidrBlock": "ipv6_cidr_block",
    "DestinationPrefixListId": "destination_prefix_list_id",
    "GatewayId": "gateway_id",
    "NatGatewayId": "nat_gateway_id",
    "TransitGatewayId": "transit_gateway_id",
    "VpcPeeringConnectionId": "vpc_peering_connection_id",
    "NetworkInterfaceId": "network_interface_id",
    "EgressOnlyInternetGatewayId": "egress_only_gateway_id",
    "CarrierGatewayId": "carrier_gateway_id",
    "LocalGatewayId": "local_gateway_id",
}
_ROUTE_TARGETS = [v for v in _ROUTE_FIELDS.values() if v not in ("cidr_block", "ipv6_cidr_block")]


def _vpc_filter(vpc_ids: list[str]) -> list[dict[str, Any]]:
    return [{"Name": "vpc-id", "Values": vpc_ids}]


def _routes(table: dict[str, Any]) -> list[dict[str, Any]]:
    """Inline routes as Terraform keeps them: without the local route and the ones gateway endpoints add."""
    routes = []
    for route in table.get("Routes", []):
        gateway = route.get("GatewayId", "")
        if gateway == "local" or gateway.startswith("vpce-") or route.get("Origin") == "EnableVgwRoutePropagation":
            continue
        entry = {name: "" for name in _ROUTE_TARGETS}
        entry.update({"cidr_block": "", "ipv6_cidr_block": ""})
        for api_name, tf_name in _ROUTE_FIELDS.items():
            if route.get(api_name):
                entry[tf_name] = route[api_name]
        routes.append(entry)
    return routes


def _permissions(permissions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """aws_security_group ingress/egress blocks from IpPermissions."""
    blocks = []
    for perm in permissions:
        protocol = perm.get("IpProtocol", "-1")
        blocks.append(
            {
                "protocol": protocol,
                "from_port": perm.get("FromPort", 0),
                "to_port": perm.get("ToPort", 0),
                "cidr_blocks": [r["CidrIp"] for r in perm.get("IpRanges", [])],
                "ipv6_cidr_blocks": [r["CidrIpv6"] for r in perm.get("Ipv6Ranges", [])],
                "prefix_list_ids": [r["PrefixListId"] for r in perm.get("PrefixListIds", [])],
                "security_groups": [g["GroupId"] for g in perm.get("UserIdGroupPairs", [])],
                "self": False,
                "description": next(
                    (r.get("Description") for r in perm.get("IpRanges", []) if r.get("Description")), ""
                ),
            }
        )
    return blocks


def _sg_rule(rule: dict[str, Any]) -> Resource:
    kind = "aws_vpc_security_group_egress_rule" if rule.get("IsEgress") else "aws_vpc_security_group_ingress_rule"
    protocol = rule.get("IpProtocol", "-1")
    values: dict[str, Any] = {
        "id": rule["SecurityGroupRuleId"],
        "security_group_rule_id": rule["SecurityGroupRuleId"],
        "arn": rule.get("SecurityGroupRuleArn"),
        "security_group_id": rule.get("GroupId"),
        "ip_protocol": protocol,
        # Terraform leaves the port range empty for "all protocols".
        "from_port": None if protocol == "-1" else rule.get("FromPort"),
        "to_port": None if protocol == "-1" else rule.get("ToPort"),
        "cidr_ipv4": rule.get("CidrIpv4"),
        "cidr_ipv6": rule.get("CidrIpv6"),
        "prefix_list_id": rule.get("PrefixListId"),
        "referenced_security_group_id": (rule.get("ReferencedGroupInfo") or {}).get("GroupId"),
        "description": rule.get("Description"),
    }
    with_tags(values, tag_dict(rule.get("Tags")))
    return resource(kind, values, "security_group_rule_id")


def _launch_template(ec2: Any, template: dict[str, Any]) -> Resource:
    version = ec2.describe_launch_template_versions(
        LaunchTemplateId=template["LaunchTemplateId"], Versions=["$Default"]
    )["LaunchTemplateVersions"]
    data = version[0]["LaunchTemplateData"] if version else {}
    metadata = data.get("MetadataOptions") or {}
    values: dict[str, Any] = {
        "id": template["LaunchTemplateId"],
        "name": template["LaunchTemplateName"],
        "default_version": template.get("DefaultVersionNumber"),
        "latest_version": template.get("LatestVersionNumber"),
        "instance_type": data.get("InstanceType"),
        "image_id": data.get("ImageId"),
        "vpc_security_group_ids": data.get("SecurityGroupIds", []),
        "metadata_options": [
            {
                "http_endpoint": metadata.get("HttpEndpoint"),
                "http_tokens": metadata.get("HttpTokens"),
                "http_put_response_hop_limit": metadata.get("HttpPutResponseHopLimit"),
                "instance_metadata_tags": metadata.get("InstanceMetadataTags"),
            }
        ]
        if metadata
        else [],
        # The provider keeps these booleans as strings ("true") in launch templates.
        "block_device_mappings": [
            {
                "device_name": m.get("DeviceName"),
                "ebs": [
                    {
                        "encrypted": str(m["Ebs"].get("Encrypted", "")).lower(),
                        "delete_on_termination": str(m["Ebs"].get("DeleteOnTermination", "")).lower(),
                        "volume_size": m["Ebs"].get("VolumeSize"),
                        "volume_type": m["Ebs"].get("VolumeType"),
                        "kms_key_id": m["Ebs"].get("KmsKeyId"),
                    }
                ]
                if m.get("Ebs")
                else [],
            }
            for m in data.get("BlockDeviceMappings", [])
        ],
        "monitoring": [{"enabled": data["Monitoring"].get("Enabled")}] if data.get("Monitoring") else [],
    }
    with_tags(values, tag_dict(template.get("Tags")))
    return resource("aws_launch_template", values, "name")


def _instance(ec2: Any, instance: dict[str, Any]) -> Resource:
    metadata = instance.get("MetadataOptions") or {}
    root = instance.get("RootDeviceName")
    root_volume: dict[str, Any] = {}
    for mapping in instance.get("BlockDeviceMappings", []):
        if mapping.get("DeviceName") == root and mapping.get("Ebs", {}).get("VolumeId"):
            volumes = ec2.describe_volumes(VolumeIds=[mapping["Ebs"]["VolumeId"]])["Volumes"]
            root_volume = volumes[0] if volumes else {}
    profile = (instance.get("IamInstanceProfile") or {}).get("Arn", "")
    values: dict[str, Any] = {
        "id": instance["InstanceId"],
        "arn": None,
        "ami": instance.get("ImageId"),
        "instance_type": instance.get("InstanceType"),
        "subnet_id": instance.get("SubnetId"),
        "availability_zone": (instance.get("Placement") or {}).get("AvailabilityZone"),
        "vpc_security_group_ids": [g["GroupId"] for g in instance.get("SecurityGroups", [])],
        "iam_instance_profile": profile.rsplit("/", 1)[-1] if profile else "",
        "associate_public_ip_address": bool(instance.get("PublicIpAddress")),
        "public_ip": instance.get("PublicIpAddress", ""),
        "private_ip": instance.get("PrivateIpAddress"),
        "ebs_optimized": instance.get("EbsOptimized", False),
        "monitoring": (instance.get("Monitoring") or {}).get("State") == "enabled",
        "instance_state": (instance.get("State") or {}).get("Name"),
        "metadata_options": [
            {
                "http_endpoint": metadata.get("HttpEndpoint"),
                "http_tokens": metadata.get("HttpTokens"),
                "http_put_response_hop_limit": metadata.get("HttpPutResponseHopLimit"),
            }
        ]
        if metadata
        else [],
        "root_block_device": [
            {
                "encrypted": root_volume.get("Encrypted", False),
                "volume_size": root_volume.get("Size"),
                "volume_type": root_volume.get("VolumeType"),
                "kms_key_id": root_volume.get("KmsKeyId", ""),
            }
        ]
        if root_volume
        else [],
    }
    with_tags(values, tag_dict(instance.get("Tags")))
    return resource("aws_instance", values)


def collect(ctx: CollectContext) -> list[Resource]:
    ec2 = ctx.client("ec2")
    out: list[Resource] = []
    vpcs = [v for v in paginate(ec2, "describe_vpcs", "Vpcs") if ctx.in_scope(tag_dict(v.get("Tags")))]
    vpc_ids = [v["VpcId"] for v in vpcs]
    for vpc in vpcs:
        vpc_id = vpc["VpcId"]
        support = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")["EnableDnsSupport"]
        hostnames = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]
        values: dict[str, Any] = {
            "id": vpc_id,
            "arn": f"arn:aws:ec2:{ctx.region}:{vpc.get('OwnerId')}:vpc/{vpc_id}",
            "cidr_block": vpc["CidrBlock"],
            "enable_dns_support": support.get("Value"),
            "enable_dns_hostnames": hostnames.get("Value"),
            "instance_tenancy": vpc.get("InstanceTenancy"),
            "owner_id": vpc.get("OwnerId"),
            "dhcp_options_id": vpc.get("DhcpOptionsId"),
        }
        out.append(resource("aws_vpc", with_tags(values, tag_dict(vpc.get("Tags")))))
    if not vpc_ids:
        return out + _outside_vpcs(ctx, ec2)

    for subnet in paginate(ec2, "describe_subnets", "Subnets", Filters=_vpc_filter(vpc_ids)):
        values = {
            "id": subnet["SubnetId"],
            "arn": subnet.get("SubnetArn"),
            "vpc_id": subnet["VpcId"],
            "cidr_block": subnet["CidrBlock"],
            "availability_zone": subnet["AvailabilityZone"],
            "availability_zone_id": subnet.get("AvailabilityZoneId"),
            "map_public_ip_on_launch": subnet.get("MapPublicIpOnLaunch", False),
            "assign_ipv6_address_on_creation": subnet.get("AssignIpv6AddressOnCreation", False),
            "owner_id": subnet.get("OwnerId"),
        }
        out.append(resource("aws_subnet", with_tags(values, tag_dict(subnet.get("Tags")))))

    igw_filter = [{"Name": "attachment.vpc-id", "Values": vpc_ids}]
    for igw in paginate(ec2, "describe_internet_gateways", "InternetGateways", Filters=igw_filter):
        attachment = (igw.get("Attachments") or [{}])[0]
        values = {"id": igw["InternetGatewayId"], "vpc_id": attachment.get("VpcId"), "owner_id": igw.get("OwnerId")}
        out.append(resource("aws_internet_gateway", with_tags(values, tag_dict(igw.get("Tags")))))

    for nat in paginate(ec2, "describe_nat_gateways", "NatGateways", Filter=_vpc_filter(vpc_ids)):
        if nat.get("State") in ("deleted", "deleting", "failed"):
            continue
        address = (nat.get("NatGatewayAddresses") or [{}])[0]
        values = {
            "id": nat["NatGatewayId"],
            "subnet_id": nat.get("SubnetId"),
            "allocation_id": address.get("AllocationId"),
            "public_ip": address.get("PublicIp"),
            "private_ip": address.get("PrivateIp"),
            "network_interface_id": address.get("NetworkInterfaceId"),
            "connectivity_type": nat.get("ConnectivityType", "public"),
        }
        out.append(resource("aws_nat_gateway", with_tags(values, tag_dict(nat.get("Tags")))))

    for table in paginate(ec2, "describe_route_tables", "RouteTables", Filters=_vpc_filter(vpc_ids)):
        associations = table.get("Associations", [])
        values = {
            "id": table["RouteTableId"],
            "vpc_id": table["VpcId"],
            "owner_id": table.get("OwnerId"),
            "route": _routes(table),
            "main": any(a.get("Main") for a in associations),
            "propagating_vgws": [p["GatewayId"] for p in table.get("PropagatingVgws", [])],
        }
        out.append(resource("aws_route_table", with_tags(values, tag_dict(table.get("Tags")))))
        for association in associations:
            if association.get("Main"):
                continue
            assoc_values = {
                "id": association["RouteTableAssociationId"],
                "route_table_id": association["RouteTableId"],
                "subnet_id": association.get("SubnetId", ""),
                "gateway_id": association.get("GatewayId", ""),
            }
            out.append(resource("aws_route_table_association", assoc_values))

    for endpoint in paginate(ec2, "describe_vpc_endpoints", "VpcEndpoints", Filters=_vpc_filter(vpc_ids)):
        if endpoint.get("State", "").lower() in ("deleted", "deleting"):
            continue
        values = {
            "id": endpoint["VpcEndpointId"],
            "vpc_id": endpoint["VpcId"],
            "service_name": endpoint.get("ServiceName"),
            "vpc_endpoint_type": endpoint.get("VpcEndpointType"),
            "route_table_ids": endpoint.get("RouteTableIds", []),
            "subnet_ids": endpoint.get("SubnetIds", []),
            "security_group_ids": [g["GroupId"] for g in endpoint.get("Groups", [])],
            "private_dns_enabled": endpoint.get("PrivateDnsEnabled", False),
            "policy": policy_json(endpoint.get("PolicyDocument")),
            "state": endpoint.get("State"),
        }
        out.append(resource("aws_vpc_endpoint", with_tags(values, tag_dict(endpoint.get("Tags"))), "service_name"))

    group_ids = []
    for group in paginate(ec2, "describe_security_groups", "SecurityGroups", Filters=_vpc_filter(vpc_ids)):
        group_ids.append(group["GroupId"])
        values = {
            "id": group["GroupId"],
            "arn": f"arn:aws:ec2:{ctx.region}:{group.get('OwnerId')}:security-group/{group['GroupId']}",
            "name": group["GroupName"],
            "description": group.get("Description"),
            "vpc_id": group.get("VpcId"),
            "owner_id": group.get("OwnerId"),
            "ingress": _permissions(group.get("IpPermissions", [])),
            "egress": _permissions(group.get("IpPermissionsEgress", [])),
        }
        # The VPC's own "default" group is what Terraform manages as aws_default_security_group.
        kind = "aws_default_security_group" if group["GroupName"] == "default" else "aws_security_group"
        out.append(resource(kind, with_tags(values, tag_dict(group.get("Tags"))), "name"))
    if group_ids:
        rules = paginate(
            ec2,
            "describe_security_group_rules",
            "SecurityGroupRules",
            Filters=[{"Name": "group-id", "Values": group_ids}],
        )
        out += [_sg_rule(rule) for rule in rules]

    for flow in paginate(ec2, "describe_flow_logs", "FlowLogs", Filters=[{"Name": "resource-id", "Values": vpc_ids}]):
        values = {
            "id": flow["FlowLogId"],
            "vpc_id": flow.get("ResourceId"),
            "traffic_type": flow.get("TrafficType"),
            "log_destination_type": flow.get("LogDestinationType", "cloud-watch-logs"),
            "log_destination": flow.get("LogDestination") or "",
            "log_group_name": flow.get("LogGroupName", ""),
            "iam_role_arn": flow.get("DeliverLogsPermissionArn", ""),
            "max_aggregation_interval": flow.get("MaxAggregationInterval"),
            "log_format": flow.get("LogFormat"),
        }
        out.append(resource("aws_flow_log", with_tags(values, tag_dict(flow.get("Tags")))))

    instance_filter = [
        *_vpc_filter(vpc_ids),
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]},
    ]
    for reservation in paginate(ec2, "describe_instances", "Reservations", Filters=instance_filter):
        out += [_instance(ec2, i) for i in reservation.get("Instances", [])]
    return out + _outside_vpcs(ctx, ec2)


def _outside_vpcs(ctx: CollectContext, ec2: Any) -> list[Resource]:
    """Resources tied to the environment by their tags rather than a VPC: Elastic IPs, launch templates."""
    out: list[Resource] = []
    for address in ec2.describe_addresses().get("Addresses", []):
        tags = tag_dict(address.get("Tags"))
        if not ctx.in_scope(tags):
            continue
        values = {
            "id": address.get("AllocationId"),
            "allocation_id": address.get("AllocationId"),
            "public_ip": address.get("PublicIp"),
            "domain": address.get("Domain"),
            "association_id": address.get("AssociationId", ""),
            "network_interface": address.get("NetworkInterfaceId", ""),
        }
        out.append(resource("aws_eip", with_tags(values, tags)))
    for template in paginate(ec2, "describe_launch_templates", "LaunchTemplates"):
        if ctx.in_scope(tag_dict(template.get("Tags"))):
            out.append(_launch_template(ec2, template))
    return out
