@seed:secrets-management
Feature: Secrets in Secrets Manager, encrypted with their own key and rotated
  The services' secrets live in AWS Secrets Manager under eks-shop/<env>/<service>/<name>, encrypted with the
  "secrets" customer-managed key, each with a rotation schedule of the reference's rotation period (90 days).
  The database master passwords are not among them: PostgreSQL (RDS) and DocumentDB generate, store and rotate their
  own (manage_master_user_password), so no master password passes through Terraform plan or state. The orders
  service reads DocumentDB's managed secret (JSON username/password) by its exact ARN. Two known gaps, stated here
  rather than hidden: the provider (hashicorp/aws 5.100) cannot choose the KMS key of DocumentDB's managed secret,
  so it is encrypted with the AWS-managed aws/secretsmanager key, not the "secrets" key; and the ElastiCache Redis
  AUTH token is still generated at plan time and written by Terraform into gateway/redis-auth and the replication
  group, so it is in plan and state (ElastiCache offers no managed AUTH token; IAM authentication would remove it).

  Background:
    Given the infrastructure of the environment

  @REQ-SECRETS-001
  Scenario: Every secret is encrypted with the secrets key
    Then every Secrets Manager secret is encrypted with the "secrets" key

  @REQ-SECRETS-002
  Scenario: Every secret rotates every 90 days
    Then every Secrets Manager secret has a rotation schedule of the reference's rotation days

  @REQ-SECRETS-003
  Scenario: The services' secrets follow the naming convention and name their service
    Then the Secrets Manager secrets are exactly "gateway/redis-auth, users/jwt-keys" of the environment
    And every Secrets Manager secret is tagged with the service in its name

  @REQ-SECRETS-004
  Scenario: No database master password passes through Terraform
    # Known exception, not checked away: the Redis AUTH token (gateway/redis-auth) still passes through Terraform.
    Then every PostgreSQL and DocumentDB database has a managed master password and no master password set
