@seed:network-security
Feature: Network policies: pods talk only along the reference call graph
  The seed promises "pod-to-pod communication restrictions". In the ecommerce namespace every pod starts with no
  ingress and no egress; each allowed connection is one edge of the reference call graph (services.*.calls), open on
  both ends (egress at the caller, ingress at the callee) and only on the callee's port. Besides the call graph a pod
  may resolve names with CoreDNS, and a service may reach the data subnets only if it uses a data store, and then
  only on that store's port. The connections are computed the way the NetworkPolicy API defines them (a pod is
  isolated in a direction once any policy selecting it names that direction; a connection then needs an allowing
  rule at both ends), so a missing edge and an extra edge are both violations.
  The AWS APIs are the one destination outside the cluster that every service with an IAM role needs (STS for the
  IRSA credentials, then Secrets Manager, CloudWatch, S3): those services may open 443 to the VPC endpoint subnets
  and nowhere else. Those subnets hold only the interface endpoints; allowing 443 to the application subnets
  instead would let a compromised pod reach every pod and node there, and the Kubernetes API, on 443.

  Background:
    Given the Kubernetes manifests of the environment
    And the pod templates in the "ecommerce" namespace

  @REQ-NETPOL-001 @seed:network-security
  Scenario: Every pod starts from a default deny, in both directions
    Then every pod is isolated for ingress and egress by a default-deny policy

  @REQ-NETPOL-002 @seed:network-security
  Scenario: The allowed pod-to-pod connections are exactly the reference call graph
    Then the allowed pod-to-pod connections in "ecommerce" are exactly the reference call graph, each on the callee's port

  @REQ-NETPOL-003 @seed:network-security
  Scenario: No rule admits everyone
    Then no NetworkPolicy rule admits every peer

  @REQ-NETPOL-004 @seed:network-security
  Scenario: Pods can resolve names
    Then every pod may resolve names with the pods labelled "k8s-app=kube-dns" in "kube-system" on port 53 over UDP and TCP

  @REQ-NETPOL-005 @seed:network-security
  Scenario: Data stores are reachable only by the services that use them, only on their port
    Then only the services that use a data store may reach the data subnets, only on that store's port

  @REQ-NETPOL-006 @seed:network-security
  Scenario: AWS API egress is allowed only to the VPC endpoint subnets
    Then every egress rule that opens 443/TCP to addresses names only the "endpoint" subnets
    And exactly the services with AWS permissions may reach every "endpoint" subnet on 443/TCP
