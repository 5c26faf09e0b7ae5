@seed:network-security
Feature: Security groups with least privilege, no SSH, TLS at the edge
  Databases accept only the worker nodes on their own port; only the load balancer is open to the internet, on 443
  (and 80 for the redirect); no rule anywhere allows SSH; the bastion is reached through SSM Session Manager only;
  the public domain has a DNS-validated certificate so that all external traffic is TLS.
  AWS API calls stay inside the VPC: an interface endpoint per service, in the endpoint subnets only (a tier that
  holds nothing else, so the pods' NetworkPolicies can allow 443 to it without allowing it to any pod or node),
  reachable on 443 from the application subnets, where every caller (node, pod, Fargate pod) lives, and from
  nowhere else.

  Background:
    Given the infrastructure of the environment

  @REQ-NETSEC-001
  Scenario: Each database security group admits only the nodes, on its own port
    Then the "postgresql" security group admits only the "nodes" security group on port 5432
    And the "redis" security group admits only the "nodes" security group on port 6379
    And the "documentdb" security group admits only the "nodes" security group on port 27017

  @REQ-NETSEC-002
  Scenario: Nothing but the load balancer is open to the internet, and only on 443 and 80
    Then only the "alb" security group admits 0.0.0.0/0, on ports "443, 80" only

  @REQ-NETSEC-003
  Scenario: No SSH ingress anywhere
    Then no security group rule admits port 22

  @REQ-NETSEC-004
  Scenario: Each data store sits only behind its own security group
    Then the "aws_db_instance" uses only the "postgresql" security group
    And the "aws_elasticache_replication_group" uses only the "redis" security group
    And the "aws_docdb_cluster" uses only the "documentdb" security group

  @REQ-NETSEC-005
  Scenario: The bastion is reachable only through SSM Session Manager
    Then every bastion instance has no key pair and no ingress rule
    And every bastion instance has the "AmazonSSMManagedInstanceCore" policy through its instance profile
    And every bastion instance requires IMDSv2 and encrypts its root volume

  @REQ-NETSEC-006 @seed:security
  Scenario: The public domain has a DNS-validated certificate for TLS
    Then every ACM certificate is DNS-validated and covers the domain and its wildcard
    And every ACM certificate is validated through records in the public hosted zone of its domain

  @REQ-NETSEC-007
  Scenario: The VPC's default security group allows nothing
    Then every default security group has no ingress and no egress rule

  @REQ-NETSEC-008 @seed:networking
  Scenario: AWS APIs are reached through VPC endpoints in subnets of their own, not the internet
    Then the VPC has an endpoint for every reference service
    And every interface endpoint has private DNS enabled and sits in the "endpoint" subnets

  @REQ-NETSEC-009 @seed:networking
  Scenario: The interface endpoints accept HTTPS from the application subnets only
    Then every security group of an interface endpoint admits only 443/TCP, from exactly the "app" subnets
