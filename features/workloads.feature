@seed:phase-4-deploy-applications
Feature: Workloads that survive rollouts, node drains and zone failures
  Each of the five services (reference/architecture.yaml) runs as a Deployment that Kubernetes can keep healthy on
  its own: probes tell it when a pod has started, can take traffic and is still alive; requests and limits let the
  scheduler place pods and stop one from starving its neighbours; at least two replicas, spread over zones and nodes,
  with a disruption budget that lets a node drain without an outage; a preStop pause so the load balancer stops
  sending traffic before the process exits; images pinned in the service's own ECR repository; and a ServiceAccount
  of its own, which is what IRSA hangs the service's AWS permissions on.

  Background:
    Given the Kubernetes manifests of the environment
    And the Deployments of the reference services

  @REQ-WKL-001 @seed:platform-services
  Scenario: Startup, readiness and liveness probes in the service's own protocol
    Then every container of the services has startup, readiness and liveness probes
    And the probes speak the service's protocol on its port: native gRPC probes for gRPC services, HTTP for HTTP

  @REQ-WKL-002 @seed:pod-security
  Scenario: Every container requests and limits CPU and memory
    Then every container of the services requests and limits CPU and memory

  @REQ-WKL-003 @seed:overview
  Scenario: Every service keeps at least two replicas
    Then every service runs at least 2 replicas at all times

  @REQ-WKL-004 @seed:amazon-eks-cluster
  Scenario: A disruption budget lets nodes drain without taking a service down
    Then every service has one PodDisruptionBudget that lets at least one pod, and fewer than its minimum, be evicted

  @REQ-WKL-005 @seed:overview
  Scenario: Pods spread over availability zones and nodes
    Then every service spreads its pods over "topology.kubernetes.io/zone, kubernetes.io/hostname"

  @REQ-WKL-006 @seed:phase-4-deploy-applications
  Scenario: Graceful shutdown on every rollout
    Then every service has a preStop hook and a termination grace period longer than the hook

  @REQ-WKL-007 @seed:phase-4-deploy-applications
  Scenario: Images come from the services' ECR repositories, pinned
    Then every service image comes from the ECR repository "eks-shop/<service>" by an immutable tag or digest

  @REQ-WKL-008 @seed:iam-roles-for-service-accounts-irsa
  Scenario: A ServiceAccount per service
    Then every service runs under its own ServiceAccount, named after the service

  @REQ-WKL-009 @seed:phase-4-deploy-applications
  Scenario: Schema migrations run as a Job with the owner's credentials, which the services never hold
    Then every service with a PostgreSQL store has a migration Job running its image's "migrate" command
    And the migration Jobs take the owner's credentials from a Secret that no Deployment mounts or references
    And every migration Job runs with the pod security of the service it migrates, bounded retries and lifetime, and CPU and memory requests and limits
