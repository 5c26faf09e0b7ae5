@seed:iam-roles-for-service-accounts-irsa
Feature: Workload identity: each ServiceAccount's IAM role is the one Terraform made for it
  IRSA joins two artifacts: the Kubernetes ServiceAccount names an IAM role in its eks.amazonaws.com/role-arn
  annotation, and the Terraform creates that role with a trust policy for the cluster's OIDC provider. The join holds
  only if the annotated role exists, follows the naming of docs/conventions.md, and trusts exactly that namespace and
  service account (a wildcard or another subject would let other pods take the role) with the STS audience. The
  account id of the ARN is a placeholder in the repository and is filled in by scripts/deploy.sh, so the join is by
  role name. Needs both the manifests and the infrastructure (Terraform plan or a live account).

  Background:
    Given the Kubernetes manifests of the environment
    And the infrastructure of the environment

  @REQ-IRSA-101 @seed:iam-roles-for-service-accounts-irsa
  Scenario: Every service's ServiceAccount assumes its own Terraform role, and only it can
    Then every service's ServiceAccount names the Terraform IAM role "<cluster_name>-irsa-<service>" and that role's trust admits exactly this namespace and service account with the audience sts.amazonaws.com

  @REQ-IRSA-102 @seed:platform-services
  Scenario: Every add-on ServiceAccount with an IAM role assumes its own Terraform role, and only it can
    Then every other ServiceAccount with an IRSA role names a Terraform IAM role "<cluster_name>-addon-<addon>" whose trust admits exactly that service account

  @REQ-IRSA-103 @seed:iam-roles-for-service-accounts-irsa
  Scenario: The schema migration's ServiceAccount assumes its own Terraform role, and only it can
    Then every migration Job's ServiceAccount names the Terraform IAM role "<cluster_name>-irsa-<account>" and that role's trust admits exactly this namespace and service account with the audience sts.amazonaws.com
