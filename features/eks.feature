@seed:amazon-eks-cluster
Feature: The EKS cluster, its node groups and add-ons
  One EKS cluster per environment, at least the reference's Kubernetes version and in EKS standard support on the
  day of the run (the version calendar is reference/architecture.yaml eks.versions), reachable privately (and publicly
  only from listed operator CIDRs), logging every control-plane log type, with an OIDC provider for IRSA, the three
  managed node groups of the reference behind hardened launch templates, a Fargate profile for burst work, and the
  four managed add-ons. Node group sizes may differ per environment but stay inside the seed's ranges.
  Every managed node group runs the cluster's own minor version, strictly, not merely within the skew Kubernetes
  tolerates (kubelets up to three minors older than the API server): EKS upgrades a control plane only once every
  node group runs its minor, so a group left behind blocks the next upgrade, and its nodes run a minor that the
  cluster's standard-support check never looks at. In Terraform every group takes var.cluster_version.

  Background:
    Given the infrastructure of the environment

  @REQ-EKS-001
  Scenario: The cluster runs at least the reference Kubernetes version
    Then there is exactly 1 EKS cluster
    And every EKS cluster runs Kubernetes at least the reference's minimum version

  @REQ-EKS-002 @seed:network-security
  Scenario: The API endpoint is private, and public only from restricted CIDRs
    Then every EKS cluster has its private API endpoint enabled
    And no EKS cluster exposes its public API endpoint to 0.0.0.0/0

  @REQ-EKS-003
  Scenario: Every control-plane log type is sent to CloudWatch
    Then every EKS cluster enables all the reference's control-plane log types
    And the EKS control-plane log group exists with a retention period

  @REQ-EKS-004 @seed:iam-roles-for-service-accounts-irsa
  Scenario: The cluster has an OIDC identity provider for IRSA
    Then the cluster's OIDC issuer is an IAM OIDC provider with the audience "sts.amazonaws.com"

  @REQ-EKS-005
  Scenario: The managed node groups of the reference, sized inside the seed's ranges
    Then the managed node groups are exactly the reference's
    And every node group has the reference's instance types and capacity type
    And every node group's scaling bounds lie inside the reference's minimum and maximum

  @REQ-EKS-006 @seed:cost-optimization-strategies
  Scenario: Spot instances of one size, so the autoscaler's node template fits all of them
    Then every "SPOT" node group has at least 2 instance types of the same vCPU and memory

  @REQ-EKS-007 @seed:network-security
  Scenario: Nodes start from launch templates with IMDSv2 only, hop limit 1 and encrypted volumes
    Then every node group uses a launch template
    And every node launch template requires IMDSv2 with a hop limit of 1
    And every node launch template encrypts its volumes with a customer-managed KMS key

  @REQ-EKS-008 @seed:cost-optimization-strategies
  Scenario: A Fargate profile for stateless, burstable work
    Then the Fargate profiles are exactly the reference's
    And every Fargate profile selects pods in private application subnets

  @REQ-EKS-009
  Scenario: The managed add-ons, the EBS CSI driver with its own IRSA role
    Then the EKS add-ons are exactly the reference's
    And the "aws-ebs-csi-driver" add-on uses the IRSA role of "kube-system/ebs-csi-controller-sa"

  @REQ-EKS-010 @seed:platform-services
  Scenario: Node groups carry the cluster-autoscaler discovery tags
    Then every node group is tagged for cluster-autoscaler auto-discovery of its cluster

  @REQ-EKS-011
  Scenario: The cluster and its node groups run one Kubernetes version, in EKS standard support on the day of the run
    Then every EKS cluster runs a Kubernetes version in EKS standard support on the day of the run
    And every managed node group runs the Kubernetes minor version of its cluster
