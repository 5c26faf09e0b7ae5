@seed:secrets-management
Feature: Secrets in Secrets Manager, encrypted with their own key and rotated
  The services' secrets live in AWS Secrets Manager under eks-shop/<env>/<service>/<name>, encrypted with the
  "secrets" customer-managed key, each with a rotation schedule of the reference's rotation period (90 days).

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
