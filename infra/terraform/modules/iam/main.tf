data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # "oidc.eks.<region>.amazonaws.com/id/<id>": the prefix of the :sub and :aud condition keys.
  issuer = replace(var.oidc_issuer_url, "https://", "")

  # Secrets are addressed by name, not by their generated ARN: "-??????" matches exactly the 6-character suffix
  # Secrets Manager appends, so the policies are known at plan time and cannot match a longer name. The DocumentDB
  # master secret is DocumentDB's own (rds!cluster-<id>): it is named by its exact ARN, known after apply.
  secret_arn_prefix = "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:eks-shop/${var.environment}"
  secret_arn = {
    redis_auth = "${local.secret_arn_prefix}/gateway/redis-auth-??????"
    jwt_keys   = "${local.secret_arn_prefix}/users/jwt-keys-??????"
  }
  kms_keys_arn = "arn:${local.partition}:kms:${local.region}:${local.account_id}:key/*"
  dbuser_arn   = "arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${var.rds_resource_id}"

  # Exactly the aws_permissions of reference/architecture.yaml, each scoped to the service's own resources.
  service_statements = {
    frontend = [] # aws_permissions: [] -> a role with no policy (see README)
    gateway = [
      { sid = "RedisAuthSecret", actions = ["secretsmanager:GetSecretValue"], resources = [local.secret_arn.redis_auth], conditions = [] },
      # PutMetricData has no resource-level permissions; the namespace condition is the scope.
      { sid = "PublishOwnMetrics", actions = ["cloudwatch:PutMetricData"], resources = ["*"], conditions = [
        { test = "StringEquals", variable = "cloudwatch:namespace", values = [var.gateway_metrics_namespace] },
      ] },
    ]
    catalog = [
      { sid = "ConnectAsCatalog", actions = ["rds-db:connect"], resources = ["${local.dbuser_arn}/catalog"], conditions = [] },
    ]
    orders = [
      { sid = "DocumentDbSecret", actions = ["secretsmanager:GetSecretValue"], resources = [var.documentdb_secret_arn], conditions = [] },
      { sid = "OrdersObjects", actions = ["s3:GetObject", "s3:PutObject"], resources = ["${var.orders_bucket_arn}/orders/*"], conditions = [] },
    ]
    users = [
      { sid = "ConnectAsUsers", actions = ["rds-db:connect"], resources = ["${local.dbuser_arn}/users"], conditions = [] },
      { sid = "JwtKeysSecret", actions = ["secretsmanager:GetSecretValue"], resources = [local.secret_arn.jwt_keys], conditions = [] },
    ]
  }

  elb_cluster_tag = "aws:ResourceTag/elbv2.k8s.aws/cluster"

  addons = {
    aws-load-balancer-controller = {
      namespace = "kube-system", service_account = "aws-load-balancer-controller", managed_policies = []
      # Condensed from the controller's published policy: reads are unscoped (Describe* has no resource level),
      # every mutation is limited to resources the controller tagged with elbv2.k8s.aws/cluster.
      statements = [
        { sid = "ServiceLinkedRole", actions = ["iam:CreateServiceLinkedRole"], resources = ["*"], conditions = [
          { test = "StringEquals", variable = "iam:AWSServiceName", values = ["elasticloadbalancing.amazonaws.com"] },
        ] },
        { sid = "Describe", resources = ["*"], conditions = [], actions = [
          "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones",
          "ec2:DescribeInternetGateways", "ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections",
          "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances",
          "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags", "ec2:GetCoipPoolUsage", "ec2:DescribeCoipPools",
          "ec2:GetSecurityGroupsForVpc", "elasticloadbalancing:DescribeLoadBalancers",
          "elasticloadbalancing:DescribeLoadBalancerAttributes", "elasticloadbalancing:DescribeListeners",
          "elasticloadbalancing:DescribeListenerCertificates", "elasticloadbalancing:DescribeSSLPolicies",
          "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTargetGroups",
          "elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTargetHealth",
          "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeTrustStores",
          "elasticloadbalancing:DescribeListenerAttributes", "acm:ListCertificates", "acm:DescribeCertificate",
        ] },
        { sid = "SecurityGroups", resources = ["*"], conditions = [], actions = [
          "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:CreateSecurityGroup",
        ] },
        { sid = "TagNewSecurityGroups", actions = ["ec2:CreateTags"], resources = ["arn:${local.partition}:ec2:*:*:security-group/*"], conditions = [
          { test = "StringEquals", variable = "ec2:CreateAction", values = ["CreateSecurityGroup"] },
        ] },
        { sid = "ManageOwnSecurityGroups", resources = ["*"], actions = [
          "ec2:CreateTags", "ec2:DeleteTags", "ec2:DeleteSecurityGroup",
          ], conditions = [
          { test = "Null", variable = local.elb_cluster_tag, values = ["false"] },
        ] },
        { sid = "CreateTaggedLoadBalancers", resources = ["*"], actions = [
          "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup",
          ], conditions = [
          { test = "Null", variable = "aws:RequestTag/elbv2.k8s.aws/cluster", values = ["false"] },
        ] },
        { sid = "ListenersAndRules", resources = ["*"], conditions = [], actions = [
          "elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
          "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule",
          "elasticloadbalancing:ModifyListener", "elasticloadbalancing:AddListenerCertificates",
          "elasticloadbalancing:RemoveListenerCertificates", "elasticloadbalancing:ModifyRule",
        ] },
        { sid = "TagOwnLoadBalancers", actions = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"], conditions = [], resources = [
          "arn:${local.partition}:elasticloadbalancing:*:*:targetgroup/*/*",
          "arn:${local.partition}:elasticloadbalancing:*:*:loadbalancer/net/*/*",
          "arn:${local.partition}:elasticloadbalancing:*:*:loadbalancer/app/*/*",
        ] },
        { sid = "ModifyOwnLoadBalancers", resources = ["*"], actions = [
          "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
          "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
          "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
          "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup",
          "elasticloadbalancing:ModifyListenerAttributes",
          ], conditions = [
          { test = "Null", variable = local.elb_cluster_tag, values = ["false"] },
        ] },
        { sid = "Targets", actions = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"], conditions = [], resources = [
          "arn:${local.partition}:elasticloadbalancing:*:*:targetgroup/*/*",
        ] },
      ]
    }

    external-dns = {
      namespace = "kube-system", service_account = "external-dns", managed_policies = []
      statements = [
        { sid = "OwnZoneRecords", actions = ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListTagsForResource"], resources = [var.route53_zone_arn], conditions = [] },
        # ListHostedZones has no resource-level permission; it reveals zone names only, never their records.
        { sid = "FindZones", actions = ["route53:ListHostedZones"], resources = ["*"], conditions = [] },
      ]
    }

    external-secrets = {
      namespace = "external-secrets", service_account = "external-secrets", managed_policies = []
      statements = [
        { sid = "ThisEnvironmentsSecrets", actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], resources = ["${local.secret_arn_prefix}/*", var.documentdb_secret_arn], conditions = [] },
      ]
    }

    cluster-autoscaler = {
      namespace = "kube-system", service_account = "cluster-autoscaler", managed_policies = []
      statements = [
        { sid = "Discover", resources = ["*"], conditions = [], actions = [
          "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
          "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
          "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
          "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
          "eks:DescribeNodegroup",
        ] },
        # Scaling only groups that carry this cluster's discovery tag (set on the managed node groups).
        { sid = "ScaleOwnNodeGroups", resources = ["*"], actions = [
          "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup",
          ], conditions = [
          { test = "StringEquals", variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.cluster_name}", values = ["owned"] },
        ] },
      ]
    }

    ebs-csi = {
      namespace        = "kube-system", service_account = "ebs-csi-controller-sa"
      managed_policies = ["arn:${local.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"]
      # The managed policy does not cover customer-managed keys: grant use of the eks CMK for volumes only.
      statements = [
        { sid = "KmsGrantsForVolumes", actions = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], resources = [local.kms_keys_arn], conditions = [
          { test = "Bool", variable = "kms:GrantIsForAWSResource", values = ["true"] },
          { test = "ForAnyValue:StringEquals", variable = "kms:ResourceAliases", values = [var.ebs_kms_key_alias] },
        ] },
        { sid = "KmsUseForVolumes", actions = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], resources = [local.kms_keys_arn], conditions = [
          { test = "ForAnyValue:StringEquals", variable = "kms:ResourceAliases", values = [var.ebs_kms_key_alias] },
        ] },
      ]
    }

    fluent-bit = {
      namespace = "amazon-cloudwatch", service_account = "fluent-bit", managed_policies = []
      statements = length(var.fluent_bit_log_group_arns) == 0 ? [] : [
        { sid = "WriteOwnLogGroups", actions = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], resources = [for a in var.fluent_bit_log_group_arns : "${a}:*"], conditions = [] },
      ]
    }

    xray = {
      namespace = "kube-system", service_account = "xray-daemon", managed_policies = []
      # X-Ray has no resource-level permissions for these calls.
      statements = [
        { sid = "Traces", resources = ["*"], conditions = [], actions = [
          "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
          "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries",
        ] },
      ]
    }
  }

  roles = merge(
    { for s in var.services : "${var.cluster_name}-irsa-${s}" => {
      namespace = var.namespace, service_account = s, statements = local.service_statements[s], managed_policies = []
      tags      = { Service = s }
    } },
    local.migrate_role,
    { for a, cfg in local.addons : "${var.cluster_name}-addon-${a}" => merge(cfg, { tags = { Addon = a } }) },
  )

  managed_attachments = merge([
    for role, cfg in local.roles : { for p in cfg.managed_policies : "${role}|${p}" => { role = role, policy = p } }
  ]...)
}

# The schema migrate Jobs (infra/kubernetes/base/migrations): service account schema-migrate, used by their
# SecretStore to read the PostgreSQL owner's credentials, the secret RDS manages for the master user (named
# rds!db-<uuid>, unknown until apply). Scoped at plan time to secrets RDS tagged with this instance's ARN: the
# migration may read the owner secret of this instance and nothing else; the services' roles never can.
locals {
  rds_instance_arn = "arn:${local.partition}:rds:${local.region}:${local.account_id}:db:${var.rds_identifier}"
  migrate_role = { "${var.cluster_name}-irsa-schema-migrate" = {
    namespace = var.namespace, service_account = "schema-migrate", managed_policies = [], tags = { Job = "schema-migrate" }
    statements = [
      { sid = "PostgresOwnerSecret", actions = ["secretsmanager:GetSecretValue"], resources = [
        "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:rds!db-*",
        ], conditions = [
        { test = "StringEquals", variable = "secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn", values = [local.rds_instance_arn] },
      ] },
    ]
  } }
}

# One trust per role: exactly one service account of one namespace, audience STS.
data "aws_iam_policy_document" "trust" {
  for_each = local.roles

  statement {
    sid     = "IrsaExactServiceAccount"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = ["system:serviceaccount:${each.value.namespace}:${each.value.service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.roles

  name                 = each.key
  description          = "IRSA for ${each.value.namespace}/${each.value.service_account}"
  assume_role_policy   = data.aws_iam_policy_document.trust[each.key].json
  max_session_duration = 3600

  tags = merge(var.tags, each.value.tags)
}

data "aws_iam_policy_document" "inline" {
  for_each = { for r, cfg in local.roles : r => cfg if length(cfg.statements) > 0 }

  dynamic "statement" {
    for_each = each.value.statements
    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = data.aws_iam_policy_document.inline

  name   = "least-privilege"
  role   = aws_iam_role.this[each.key].id
  policy = each.value.json
}

resource "aws_iam_role_policy_attachment" "managed" {
  for_each = local.managed_attachments

  role       = aws_iam_role.this[each.value.role].name
  policy_arn = each.value.policy
}
