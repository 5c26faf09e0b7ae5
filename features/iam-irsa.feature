@seed:iam-roles-for-service-accounts-irsa
Feature: IAM roles for service accounts, least privilege
  Each service and each platform add-on has its own IAM role, assumable only by one Kubernetes service account of
  one namespace through the cluster's OIDC provider (StringEquals on both :sub and :aud). A service's permissions
  are exactly the reference's aws_permissions, scoped to its own resources; no policy grants every action on every
  resource.

  Background:
    Given the infrastructure of the environment

  @REQ-IRSA-001
  Scenario: Every IRSA trust names exactly one service account and the STS audience
    Then every IRSA role trusts only the cluster's OIDC provider
    And every IRSA role's trust requires StringEquals on exactly one service account subject and the "sts.amazonaws.com" audience

  @REQ-IRSA-002 @seed:security
  Scenario: No policy allows every action on every resource
    Then no IAM policy allows "*" actions on "*" resources

  @REQ-IRSA-003
  Scenario: Each service's permissions are exactly the reference's, scoped to its own resources
    Then every service has an IRSA role for its service account in its namespace
    And every service role's permissions equal the reference's aws_permissions

  @REQ-IRSA-004
  Scenario: No role is shared by two service accounts
    Then no two IRSA roles trust the same service account, and no role trusts two

  @REQ-IRSA-005 @seed:platform-services
  Scenario: Platform add-ons have their own roles, limited to their AWS services
    Then the add-on roles are exactly these, each trusting its service account and using only its services:
      | addon                        | service account                                | services                                   |
      | aws-load-balancer-controller | kube-system/aws-load-balancer-controller       | ec2, elasticloadbalancing, iam, acm        |
      | external-dns                 | kube-system/external-dns                       | route53                                    |
      | external-secrets             | external-secrets/external-secrets              | secretsmanager                             |
      | cluster-autoscaler           | kube-system/cluster-autoscaler                 | autoscaling, ec2, eks                      |
      | ebs-csi                      | kube-system/ebs-csi-controller-sa              | ec2, kms                                   |
      | fluent-bit                   | amazon-cloudwatch/fluent-bit                   | logs                                       |
      | xray                         | kube-system/xray-daemon                        | xray                                       |
    And no add-on role grants data access or scaling on "*" resources without a condition
