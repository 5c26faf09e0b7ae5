@seed:networking
Feature: Network layout across three availability zones
  The VPC is 10.0.0.0/16 with three subnet tiers in each of three availability zones: public subnets for load
  balancers and NAT gateways, private application subnets for worker nodes and pods, and private database subnets.
  Only the public tier routes to the internet directly; applications leave through NAT; databases have no route out.
  A fourth, small tier holds the interface VPC endpoints and nothing else, so that the AWS APIs have addresses of
  their own: a pod's permission to call them (443 to the endpoint subnets) then opens no path to any pod or node,
  which all live in the application subnets. Endpoints only answer connections, so that tier has no route out either.

  Background:
    Given the infrastructure of the environment

  @REQ-NET-001 @seed:network-architecture
  Scenario: The VPC uses the reference CIDR block
    Then there is exactly 1 VPC
    And every VPC has the CIDR block "10.0.0.0/16"
    And every VPC has DNS support and DNS host names enabled

  @REQ-NET-002 @seed:network-architecture
  Scenario: Public subnets, one per availability zone
    Then the "public" subnets have exactly the CIDR blocks "10.0.1.0/24, 10.0.2.0/24, 10.0.3.0/24"
    And the "public" subnets are in 3 distinct availability zones

  @REQ-NET-003 @seed:network-architecture
  Scenario: Private application subnets, one per availability zone
    Then the "app" subnets have exactly the CIDR blocks "10.0.10.0/24, 10.0.11.0/24, 10.0.12.0/24"
    And the "app" subnets are in 3 distinct availability zones
    And no "app" subnet assigns public IP addresses

  @REQ-NET-004 @seed:network-architecture
  Scenario: Private database subnets, one per availability zone
    Then the "data" subnets have exactly the CIDR blocks "10.0.20.0/24, 10.0.21.0/24, 10.0.22.0/24"
    And the "data" subnets are in 3 distinct availability zones
    And no "data" subnet assigns public IP addresses

  @REQ-NET-005 @seed:cost-optimization-strategies
  Scenario: NAT gateways: one per availability zone in staging and prod, a single one in dev
    Then the number of NAT gateways is the environment's reference count
    And every NAT gateway sits in a "public" subnet, each in a different availability zone

  @REQ-NET-006
  Scenario: Only the public tier routes to the internet directly
    Then every "public" subnet routes 0.0.0.0/0 to an internet gateway
    And every "app" subnet routes 0.0.0.0/0 to a NAT gateway
    And no "data" subnet has a route to an internet gateway or a NAT gateway

  @REQ-NET-007 @seed:networking
  Scenario: Endpoint subnets, one per availability zone, with no route out of the VPC
    Then the "endpoint" subnets have exactly the CIDR blocks "10.0.30.0/27, 10.0.30.32/27, 10.0.30.64/27"
    And the "endpoint" subnets are in 3 distinct availability zones
    And no "endpoint" subnet assigns public IP addresses
    And no "endpoint" subnet has a route to an internet gateway or a NAT gateway
