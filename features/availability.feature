@seed:overview
Feature: High availability across three availability zones
  The seed promises a "Multi-AZ deployment across 3 availability zones": every subnet tier, the worker nodes and
  every data store span the reference's three zones.

  Background:
    Given the infrastructure of the environment

  @REQ-AVAIL-001 @seed:networking
  Scenario: Every subnet tier spans the reference availability zones
    Then the subnets of every tier cover the availability zones "us-east-1a, us-east-1b, us-east-1c"

  @REQ-AVAIL-002 @seed:amazon-eks-cluster
  Scenario: Node groups and Fargate profiles span three availability zones
    Then every node group and Fargate profile uses subnets in 3 distinct availability zones

  @REQ-AVAIL-003 @seed:databases
  Scenario: Every data store spans three availability zones
    Then every data store subnet group covers 3 distinct availability zones
    And every PostgreSQL instance is Multi-AZ
    And every Redis replication group has automatic failover and Multi-AZ enabled
    And every DocumentDB cluster has the reference number of instances, each in a different availability zone
