variable "cluster_name" {
  description = "EKS cluster name; prefixes every role (<cluster>-irsa-<service>, <cluster>-addon-<addon>)."
  type        = string
}

variable "environment" {
  description = "Environment; secrets are named eks-shop/<environment>/<service>/<name>."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (federated principal of every trust policy)."
  type        = string
}

variable "oidc_issuer_url" {
  description = "Issuer URL of the cluster (https://oidc.eks.<region>.amazonaws.com/id/<id>); its host/path prefixes the :sub and :aud condition keys."
  type        = string

  validation {
    condition     = startswith(var.oidc_issuer_url, "https://")
    error_message = "oidc_issuer_url must start with https://."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the five services."
  type        = string
  default     = "ecommerce"
}

variable "services" {
  description = "Services that get an IRSA role (service account = service name). frontend gets a role with no policy at all."
  type        = set(string)
  default     = ["frontend", "gateway", "catalog", "orders", "users"]

  validation {
    condition     = alltrue([for s in var.services : contains(["frontend", "gateway", "catalog", "orders", "users"], s)])
    error_message = "services may only contain frontend, gateway, catalog, orders, users (reference/architecture.yaml)."
  }
}

variable "rds_resource_id" {
  description = "DbiResourceId of the PostgreSQL instance (db-XXXX); rds-db:connect is scoped to its users catalog and users."
  type        = string
}

variable "documentdb_secret_arn" {
  description = "ARN of the secret DocumentDB manages for its master user (documentdb module's master_user_secret_arn); orders and external-secrets may read exactly this secret."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[^*?]+$", var.documentdb_secret_arn))
    error_message = "documentdb_secret_arn must be one Secrets Manager secret ARN, without wildcards."
  }
}

variable "orders_bucket_arn" {
  description = "ARN of the orders bucket; the orders role may Get/Put under orders/* only."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", var.orders_bucket_arn))
    error_message = "orders_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::<bucket>)."
  }
}

variable "gateway_metrics_namespace" {
  description = "The only CloudWatch metrics namespace the gateway may publish to."
  type        = string
  default     = "eks-shop/gateway"
}

variable "route53_zone_arn" {
  description = "ARN of the hosted zone external-dns may change records in (its only writable zone)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:route53:::hostedzone/", var.route53_zone_arn))
    error_message = "route53_zone_arn must be a Route 53 hosted zone ARN."
  }
}

variable "fluent_bit_log_group_arns" {
  description = "Log groups fluent-bit may write to."
  type        = list(string)
  default     = []
}

variable "ebs_kms_key_alias" {
  description = "Alias (alias/eks-shop-<env>-eks) of the CMK the EBS CSI driver may use for encrypted volumes. Scoping by alias (kms:ResourceAliases) keeps the policy known at plan time."
  type        = string

  validation {
    condition     = startswith(var.ebs_kms_key_alias, "alias/")
    error_message = "ebs_kms_key_alias must start with alias/."
  }
}

variable "rds_identifier" {
  description = "Identifier of the PostgreSQL instance; the schema migrate role may read the master user secret RDS tagged with its ARN."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.rds_identifier))
    error_message = "rds_identifier must be an RDS instance identifier (lowercase letters, digits, hyphens)."
  }
}

variable "tags" {
  description = "Extra tags for every role."
  type        = map(string)
  default     = {}
}
