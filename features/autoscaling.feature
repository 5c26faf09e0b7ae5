@seed:phase-4-deploy-applications
Feature: Autoscaling: pods follow the load, nodes follow the pods
  Every service scales horizontally between the bounds and on the CPU target of reference/architecture.yaml, with
  its scaling behaviour written down rather than left to the controller's defaults. The scenarios that follow drive
  each service's own HorizontalPodAutoscaler through a load profile with an exact re-implementation of the
  Kubernetes HPA controller (conformance/hpa.py, syncs every 15 s), so "what happens under three times the load" is
  answered by the manifests themselves. The cluster-autoscaler then adds nodes for the pods: it finds the node groups
  by tags, which must name this environment's cluster in the manifests and on the Terraform node groups alike.

  Background:
    Given the Kubernetes manifests of the environment
    And the HorizontalPodAutoscalers of the reference services

  @REQ-HPA-001 @seed:phase-4-deploy-applications
  Scenario: An autoscaling/v2 HPA per service with the reference bounds and CPU target
    Then every HPA is autoscaling/v2 with the reference minimum, maximum and CPU utilization target

  @REQ-HPA-002 @seed:phase-4-deploy-applications
  Scenario: CPU requests are set, so CPU utilization is defined
    Then every container of the autoscaled workloads requests CPU

  @REQ-HPA-003 @seed:phase-4-deploy-applications
  Scenario: Scaling behaviour is explicit
    Then every HPA writes its scale-up and scale-down behavior, with policies and a scale-down stabilization window

  @REQ-HPA-004 @seed:phase-4-deploy-applications
  Scenario: Under sustained load the services scale up fast and stop at their maximum
    When the CPU of every service runs at 3 times its target for 10 minutes
    Then every service scales above its reference minimum within 60 seconds
    And every service reaches its reference maximum
    And no service ever runs more replicas than its reference maximum

  @REQ-HPA-005 @seed:cost-optimization-strategies
  Scenario: After the load drops the services wait out the stabilization window, then return to the minimum
    When the CPU of every service runs at 3 times its target for 10 minutes, then at 10% of its requests for 20 minutes
    Then every service keeps its replicas for the 300 s stabilization window after the drop
    And every service is back at its reference minimum by the end

  @REQ-HPA-006 @seed:amazon-eks-cluster
  Scenario: The cluster-autoscaler looks for this environment's node groups
    Then the cluster-autoscaler discovers node groups by the tags "k8s.io/cluster-autoscaler/enabled" and "k8s.io/cluster-autoscaler/<cluster name>" of this environment

  @REQ-HPA-007 @seed:amazon-eks-cluster
  Scenario: The Terraform node groups carry the tags the cluster-autoscaler looks for
    Given the infrastructure of the environment
    Then every EKS node group carries the tags the cluster-autoscaler discovers
