@seed:pod-security
Feature: Pod security: the restricted Pod Security Standard, control by control
  Every pod of the shop runs under the "restricted" Pod Security Standard, the hardest of the three profiles
  Kubernetes defines. The namespace asks the API server to enforce it; this feature checks the same controls the
  upstream pod-security admission checks (k8s.io/pod-security-admission, version v1.29), one scenario per control,
  over every pod template in the ecommerce namespace (Deployments, StatefulSets, DaemonSets, Jobs and CronJobs) and
  over their init, regular and ephemeral containers. A failure names the workload and the field to change, so the
  manifest is fixed before the admission controller would reject the rollout. On top of the standard, the seed asks
  for read-only root filesystems and resource limits.

  Background:
    Given the Kubernetes manifests of the environment
    And the pod templates in the "ecommerce" namespace

  @REQ-POD-001 @seed:pod-security
  Scenario: The namespace enforces, audits and warns the restricted standard
    Then the namespace "ecommerce" enforces, audits and warns the "restricted" Pod Security Standard

  @REQ-POD-002 @seed:pod-security
  Scenario: No pod shares the host's namespaces or runs as a host process
    Then no pod uses the host's network, PID or IPC namespace, or runs as a Windows host process

  @REQ-POD-003 @seed:pod-security
  Scenario: No privileged containers
    Then no container runs privileged

  @REQ-POD-004 @seed:pod-security
  Scenario: Containers drop every Linux capability
    Then every container drops ALL capabilities and adds back none but NET_BIND_SERVICE

  @REQ-POD-005 @seed:pod-security
  Scenario: Only the volume types of the restricted profile, never a hostPath
    Then every volume is of a type the restricted profile allows, and none is a hostPath

  @REQ-POD-006 @seed:pod-security
  Scenario: No host ports
    Then no container binds a host port

  @REQ-POD-007 @seed:pod-security
  Scenario: Mandatory access control and the /proc mount are left at their defaults
    Then no pod weakens its AppArmor profile
    And no pod sets a custom SELinux type, user or role
    And every container keeps the default masked /proc mount

  @REQ-POD-008 @seed:pod-security
  Scenario: Every container runs under a seccomp profile
    Then every container runs under the seccomp profile RuntimeDefault or Localhost

  @REQ-POD-009 @seed:pod-security
  Scenario: Only safe sysctls
    Then no pod sets a sysctl outside the safe set

  @REQ-POD-010 @seed:pod-security
  Scenario: No privilege escalation
    Then every container forbids privilege escalation

  @REQ-POD-011 @seed:pod-security
  Scenario: Containers run as a non-root user
    Then every container must run as a non-root user and never as UID 0

  @REQ-POD-012 @seed:pod-security
  Scenario: Root filesystems are read-only
    Then every container has a read-only root filesystem

  @REQ-POD-013 @seed:pod-security
  Scenario: CPU and memory limits prevent resource exhaustion
    Then every container has CPU and memory limits
