"""Every shim of the embedded emulator: the gap still exists in plain moto, and the shimmed server fills it.

Each test first calls plain moto (``python -m moto.server``): if moto starts to accept the request on its own, the
"gap" half fails and tells us the shim can go (or must change). Then the same call against the shimmed server
(``python -m conformance.emulator_server``) must succeed and answer what AWS answers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from conformance.emulator import Emulator, start_moto
from services.runner.moto_launcher import start_moto_server

# What plain moto answers for a gap: an AWS error, or an HTML 500 page botocore cannot parse.
GAP = (ClientError, BotoCoreError, ResponseParserError)

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # two moto servers


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Stock moto's server, started exactly as its documentation says (no settings, no shims).

    Through the project's one launcher (``python -m moto.server -H 127.0.0.1 -p PORT``), which accepts only its own
    child as the server: with a bare "wait until the port answers", a gap test could talk to another test's
    (shimmed) emulator that took the free port first, and pass or fail for the wrong reason.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTO_")}
    log_dir = tmp_path_factory.mktemp("plain")
    server = start_moto_server(None, lambda port: log_dir / f"moto-{port}.log", env=env)
    emulator = Emulator(server.endpoint, server.process, server.log_path)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def shimmed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    server = _start(tmp_path_factory.mktemp("shimmed"), shims=True)
    yield server
    server.stop()


def _start(log_dir: Path, shims: bool) -> Emulator:
    return start_moto(None, log_dir, shims=shims)


def client(server: Emulator, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _network(server: Emulator) -> list[str]:
    ec2 = client(server, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in enumerate("ab")
    ]


# --------------------------------------------------------------------------------------------------- docdb-engine


def _docdb_cluster(server: Emulator, name: str) -> dict[str, Any]:
    docdb = client(server, "docdb")
    cluster: dict[str, Any] = docdb.create_db_cluster(
        DBClusterIdentifier=name,
        Engine="docdb",
        MasterUsername="orders",
        MasterUserPassword="not-a-secret-1",
        StorageEncrypted=True,
    )["DBCluster"]
    return cluster


def test_docdb_engine_gap_still_in_moto(plain: Emulator) -> None:
    with pytest.raises(GAP):
        _docdb_cluster(plain, "gap-docdb")


def test_docdb_engine_shim_creates_cluster_and_instances(shimmed: Emulator) -> None:
    cluster = _docdb_cluster(shimmed, "orders-docdb")
    assert cluster["Engine"] == "docdb"
    assert cluster["Port"] == 27017
    docdb = client(shimmed, "docdb")
    docdb.create_db_instance(
        DBInstanceIdentifier="orders-docdb-1",
        DBInstanceClass="db.t3.medium",
        Engine="docdb",
        DBClusterIdentifier="orders-docdb",
    )
    members = docdb.describe_db_clusters(DBClusterIdentifier="orders-docdb")["DBClusters"][0]["DBClusterMembers"]
    assert [m["DBInstanceIdentifier"] for m in members] == ["orders-docdb-1"]
    # Other engines keep moto's own defaults.
    rds = client(shimmed, "rds")
    db = rds.create_db_instance(
        DBInstanceIdentifier="pg",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="u",
        MasterUserPassword="password-123",
    )
    assert db["DBInstance"]["Endpoint"]["Port"] == 5432


# ------------------------------------------------------------------------------------ elasticache-member-clusters


def _replication_group(server: Emulator, name: str) -> dict[str, Any]:
    ec = client(server, "elasticache")
    group: dict[str, Any] = ec.create_replication_group(
        ReplicationGroupId=name,
        ReplicationGroupDescription="cache",
        CacheNodeType="cache.t3.medium",
        Engine="redis",
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
        MultiAZEnabled=True,
    )["ReplicationGroup"]
    return group


def test_elasticache_member_gap_still_in_moto(plain: Emulator) -> None:
    group = _replication_group(plain, "gap-redis")
    ec = client(plain, "elasticache")
    with pytest.raises(ClientError) as error:
        ec.describe_cache_clusters(CacheClusterId=group["MemberClusters"][0])
    assert error.value.response["Error"]["Code"] == "CacheClusterNotFound"
    assert len(group["MemberClusters"]) == 1  # NumCacheClusters=2 ignored


def test_elasticache_member_shim_creates_member_clusters(shimmed: Emulator) -> None:
    group = _replication_group(shimmed, "redis")
    assert len(group["MemberClusters"]) == 2
    ec = client(shimmed, "elasticache")
    for member in group["MemberClusters"]:
        cluster = ec.describe_cache_clusters(CacheClusterId=member)["CacheClusters"][0]
        assert cluster["ReplicationGroupId"] == "redis"
    ec.delete_replication_group(ReplicationGroupId="redis")
    remaining = {c["CacheClusterId"] for c in ec.describe_cache_clusters()["CacheClusters"]}
    assert not remaining & set(group["MemberClusters"])


# ----------------------------------------------------------------------------------- elasticache-parameter-groups


def test_elasticache_parameter_group_gap_still_in_moto(plain: Emulator) -> None:
    with pytest.raises(GAP):
        client(plain, "elasticache").create_cache_parameter_group(
            CacheParameterGroupName="gap", CacheParameterGroupFamily="redis7", Description="d"
        )


def test_elasticache_parameter_group_shim(shimmed: Emulator) -> None:
    ec = client(shimmed, "elasticache")
    created = ec.create_cache_parameter_group(
        CacheParameterGroupName="redis7-cluster",
        CacheParameterGroupFamily="redis7",
        Description="cluster mode",
        Tags=[{"Key": "Project", "Value": "eks-shop"}],
    )["CacheParameterGroup"]
    ec.modify_cache_parameter_group(
        CacheParameterGroupName="redis7-cluster",
        ParameterNameValues=[{"ParameterName": "cluster-enabled", "ParameterValue": "yes"}],
    )
    parameters = ec.describe_cache_parameters(CacheParameterGroupName="redis7-cluster", Source="user")["Parameters"]
    assert [(p["ParameterName"], p["ParameterValue"]) for p in parameters] == [("cluster-enabled", "yes")]
    tags = ec.list_tags_for_resource(ResourceName=created["ARN"])["TagList"]
    assert tags == [{"Key": "Project", "Value": "eks-shop"}]
    ec.delete_cache_parameter_group(CacheParameterGroupName="redis7-cluster")
    with pytest.raises(ClientError):
        ec.describe_cache_parameter_groups(CacheParameterGroupName="redis7-cluster")


# ---------------------------------------------------------------------------------- eks-addons-identity-providers


def _cluster(server: Emulator, name: str) -> None:
    subnets = _network(server)
    client(server, "eks").create_cluster(
        name=name,
        roleArn="arn:aws:iam::123456789012:role/cluster",
        resourcesVpcConfig={"subnetIds": subnets},
    )


def test_eks_addon_gap_still_in_moto(plain: Emulator) -> None:
    _cluster(plain, "gap-cluster")
    with pytest.raises(GAP):
        client(plain, "eks").create_addon(clusterName="gap-cluster", addonName="vpc-cni")


def test_eks_addon_and_identity_provider_shim(shimmed: Emulator) -> None:
    _cluster(shimmed, "shop")
    eks = client(shimmed, "eks")
    created = eks.create_addon(
        clusterName="shop",
        addonName="aws-ebs-csi-driver",
        serviceAccountRoleArn="arn:aws:iam::123456789012:role/ebs",
        tags={"Project": "eks-shop"},
    )["addon"]
    assert created["status"] == "ACTIVE"
    assert eks.list_addons(clusterName="shop")["addons"] == ["aws-ebs-csi-driver"]
    described = eks.describe_addon(clusterName="shop", addonName="aws-ebs-csi-driver")["addon"]
    assert described["serviceAccountRoleArn"].endswith("role/ebs")
    update = eks.update_addon(clusterName="shop", addonName="aws-ebs-csi-driver", addonVersion="v2")["update"]
    assert (
        eks.describe_update(name="shop", updateId=update["id"], addonName="aws-ebs-csi-driver")["update"]["status"]
        == "Successful"
    )
    eks.delete_addon(clusterName="shop", addonName="aws-ebs-csi-driver")
    with pytest.raises(ClientError) as error:
        eks.describe_addon(clusterName="shop", addonName="aws-ebs-csi-driver")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"

    eks.associate_identity_provider_config(
        clusterName="shop",
        oidc={"identityProviderConfigName": "corp", "issuerUrl": "https://id.example.com", "clientId": "shop"},
    )
    configs = eks.list_identity_provider_configs(clusterName="shop")["identityProviderConfigs"]
    assert configs == [{"type": "oidc", "name": "corp"}]
    oidc = eks.describe_identity_provider_config(
        clusterName="shop", identityProviderConfig={"type": "oidc", "name": "corp"}
    )["identityProviderConfig"]["oidc"]
    assert oidc["issuerUrl"] == "https://id.example.com"
    eks.disassociate_identity_provider_config(
        clusterName="shop", identityProviderConfig={"type": "oidc", "name": "corp"}
    )
    assert eks.list_identity_provider_configs(clusterName="shop")["identityProviderConfigs"] == []


# --------------------------------------------------------------------------------------- iam-managed-policies


MANAGED = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"


def test_managed_policy_gap_still_in_moto(plain: Emulator) -> None:
    with pytest.raises(GAP):
        client(plain, "iam").get_policy(PolicyArn=MANAGED)


def test_managed_policy_shim(shimmed: Emulator) -> None:
    assert client(shimmed, "iam").get_policy(PolicyArn=MANAGED)["Policy"]["PolicyName"] == "AmazonEKSClusterPolicy"


# ------------------------------------------------------------------------------------- ec2-detailed-monitoring


def _instance(server: Emulator) -> str:
    ec2 = client(server, "ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance: str = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0][
        "InstanceId"
    ]
    return instance


def test_monitoring_gap_still_in_moto(plain: Emulator) -> None:
    instance = _instance(plain)
    with pytest.raises(GAP):
        client(plain, "ec2").monitor_instances(InstanceIds=[instance])


def test_monitoring_shim(shimmed: Emulator) -> None:
    instance = _instance(shimmed)
    ec2 = client(shimmed, "ec2")
    answer = ec2.monitor_instances(InstanceIds=[instance])["InstanceMonitorings"]
    assert answer == [{"InstanceId": instance, "Monitoring": {"State": "enabled"}}]
    described = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    assert described["Monitoring"]["State"] == "enabled"
    ec2.unmonitor_instances(InstanceIds=[instance])
    described = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    assert described["Monitoring"]["State"] == "disabled"


# ------------------------------------------------------------------------------------- instant-acm-validation


def test_acm_certificates_issue_at_once(shimmed: Emulator) -> None:
    acm = client(shimmed, "acm")
    arn = acm.request_certificate(DomainName="shop.example.com", ValidationMethod="DNS")["CertificateArn"]
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"


# ------------------------------------------------------------------------------------ rds-unique-resource-ids


def _two_instances(server: Emulator) -> list[str]:
    rds = client(server, "rds")
    ids = []
    for name in ("first", "second"):
        db = rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="u",
            MasterUserPassword="password-123",
        )["DBInstance"]
        ids.append(db["DbiResourceId"])
    return ids


def test_rds_resource_id_gap_still_in_moto(plain: Emulator) -> None:
    first, second = _two_instances(plain)
    assert first == second


def test_rds_resource_id_shim(shimmed: Emulator) -> None:
    first, second = _two_instances(shimmed)
    assert first != second
    found = client(shimmed, "rds").describe_db_instances(Filters=[{"Name": "dbi-resource-id", "Values": [first]}])
    assert [d["DBInstanceIdentifier"] for d in found["DBInstances"]] == ["first"]


def test_elasticache_members_carry_parameter_and_security_groups(shimmed: Emulator) -> None:
    ec = client(shimmed, "elasticache")
    group = ec.create_replication_group(
        ReplicationGroupId="redis-pg",
        ReplicationGroupDescription="cache",
        CacheNodeType="cache.t3.medium",
        Engine="redis",
        NumCacheClusters=2,
        CacheParameterGroupName="redis7-custom",
        SecurityGroupIds=["sg-12345678"],
    )["ReplicationGroup"]
    member = ec.describe_cache_clusters(CacheClusterId=group["MemberClusters"][0])["CacheClusters"][0]
    assert member["CacheParameterGroup"]["CacheParameterGroupName"] == "redis7-custom"
    assert [g["SecurityGroupId"] for g in member["SecurityGroups"]] == ["sg-12345678"]


# ------------------------------------------------------------------------------------ instant-database-states


def test_database_states_are_final_at_the_first_read(plain: Emulator) -> None:
    """No shim needed: moto's RDS/DocumentDB answer "creating" once (to the create call itself), then the final
    state. What an apply waits on databases is the provider's own fixed waiter delay, not the emulator."""
    rds = client(plain, "rds")
    created = rds.create_db_cluster(
        DBClusterIdentifier="states",
        Engine="aurora-postgresql",
        MasterUsername="u",
        MasterUserPassword="password-123",
    )["DBCluster"]
    assert created["Status"] == "creating"
    assert rds.describe_db_clusters(DBClusterIdentifier="states")["DBClusters"][0]["Status"] == "available"


# ------------------------------------------------------------------------------------ rds-performance-insights


def _insights(server: Emulator, name: str) -> dict[str, Any]:
    rds = client(server, "rds")
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.medium",
        Engine="postgres",
        MasterUsername="u",
        MasterUserPassword="password-123",
        EnablePerformanceInsights=True,
        PerformanceInsightsKMSKeyId="arn:aws:kms:us-east-1:123456789012:key/rds",
        PerformanceInsightsRetentionPeriod=7,
    )
    db: dict[str, Any] = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    return db


def test_performance_insights_gap_still_in_moto(plain: Emulator) -> None:
    assert _insights(plain, "pi-gap").get("PerformanceInsightsEnabled") in (False, None)


def test_performance_insights_shim(shimmed: Emulator) -> None:
    db = _insights(shimmed, "pi")
    assert db["PerformanceInsightsEnabled"] is True
    assert db["PerformanceInsightsKMSKeyId"].endswith("key/rds")
    client(shimmed, "rds").modify_db_instance(
        DBInstanceIdentifier="pi", EnablePerformanceInsights=False, ApplyImmediately=True
    )
    after = client(shimmed, "rds").describe_db_instances(DBInstanceIdentifier="pi")["DBInstances"][0]
    assert after["PerformanceInsightsEnabled"] is False


# ---------------------------------------------------------------------------- eks access and update config


def _configured_cluster(server: Emulator, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    subnets = _network(server)
    eks = client(server, "eks")
    eks.create_cluster(
        name=name,
        roleArn="arn:aws:iam::123456789012:role/cluster",
        resourcesVpcConfig={"subnetIds": subnets},
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": True},
    )
    eks.create_nodegroup(
        clusterName=name,
        nodegroupName="general",
        nodeRole="arn:aws:iam::123456789012:role/node",
        subnets=subnets,
        updateConfig={"maxUnavailablePercentage": 33},
    )
    cluster = eks.describe_cluster(name=name)["cluster"]
    group = eks.describe_nodegroup(clusterName=name, nodegroupName="general")["nodegroup"]
    return cluster, group


def test_eks_creation_settings_gap_still_in_moto(plain: Emulator) -> None:
    cluster, group = _configured_cluster(plain, "settings-gap")
    assert "accessConfig" not in cluster
    assert "updateConfig" not in group


def test_eks_creation_settings_shim(shimmed: Emulator) -> None:
    cluster, group = _configured_cluster(shimmed, "settings")
    assert cluster["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    assert group["updateConfig"] == {"maxUnavailablePercentage": 33}


def test_docdb_managed_master_password_answered(shimmed: Emulator) -> None:
    """manage_master_user_password (modules/documentdb): the cluster answers its managed secret, and that secret
    holds the master credentials the orders service reads (JSON username/password)."""
    docdb = client(shimmed, "docdb")
    created = docdb.create_db_cluster(
        DBClusterIdentifier="orders-managed",
        Engine="docdb",
        MasterUsername="shop_admin",
        ManageMasterUserPassword=True,
        StorageEncrypted=True,
    )["DBCluster"]
    described = docdb.describe_db_clusters(DBClusterIdentifier="orders-managed")["DBClusters"][0]
    for cluster in (created, described):
        assert "MasterUserPassword" not in cluster
        assert cluster["MasterUserSecret"]["SecretArn"].split(":secret:")[1].startswith("rds!cluster-")
    value = client(shimmed, "secretsmanager").get_secret_value(SecretId=described["MasterUserSecret"]["SecretArn"])
    credentials = json.loads(value["SecretString"])
    assert set(credentials) >= {"username", "password"}
    assert credentials["password"]
