@seed:security
Feature: Encryption at rest and in transit with customer-managed keys
  Every data class has its own customer-managed KMS key with automatic rotation (docs/conventions.md: eks, rds,
  elasticache, documentdb, secrets, logs, s3). Each store encrypts at rest with its class's key and refuses
  unencrypted connections: PostgreSQL forces SSL, Redis uses in-transit encryption, DocumentDB enforces TLS, the
  orders bucket denies plain HTTP.

  Background:
    Given the infrastructure of the environment

  @REQ-ENC-001 @seed:secrets-management
  Scenario: One customer-managed key per data class, rotation on
    Then there is one KMS key per data class "eks, rds, elasticache, documentdb, secrets, logs, s3"
    And every KMS key has automatic key rotation enabled
    And every KMS key has the alias of its data class

  @REQ-ENC-002 @seed:rds-postgresql
  Scenario: PostgreSQL storage encrypted with the rds key, SSL forced by its parameter group
    Then every "aws_db_instance" has "storage_encrypted" with the "rds" key in "kms_key_id"
    And every PostgreSQL instance uses a parameter group with "rds.force_ssl" set to "1"

  @REQ-ENC-003 @seed:elasticache-redis
  Scenario: Redis encrypted at rest with the elasticache key and in transit, with an AUTH token
    Then every "aws_elasticache_replication_group" has "at_rest_encryption_enabled" with the "elasticache" key in "kms_key_id"
    And every Redis replication group has in-transit encryption and an AUTH token

  @REQ-ENC-004 @seed:documentdb
  Scenario: DocumentDB storage encrypted with the documentdb key, TLS enforced
    Then every "aws_docdb_cluster" has "storage_encrypted" with the "documentdb" key in "kms_key_id"
    And every DocumentDB cluster parameter group enables "tls"

  @REQ-ENC-005 @seed:amazon-eks-cluster
  Scenario: Kubernetes secrets are envelope-encrypted with the eks key
    Then every EKS cluster encrypts "secrets" with the "eks" key

  @REQ-ENC-006 @seed:monitoring-observability
  Scenario: Every log group is encrypted with the logs key and expires
    Then every CloudWatch log group is encrypted with the "logs" key and has a retention period

  @REQ-ENC-007 @seed:cost-optimization-strategies
  Scenario: The orders bucket is encrypted with the s3 key, private, and accepts TLS only
    Then every S3 bucket has default encryption with the "s3" key
    And every S3 bucket blocks all public access
    And every S3 bucket policy denies requests without TLS

  @REQ-ENC-008 @seed:pod-security
  Scenario: Container images are stored encrypted, immutable and scanned on push
    Then every ECR repository is encrypted with a customer-managed KMS key
    And every ECR repository has immutable tags and scans on push
