@seed:databases
Feature: The three data stores as the seed configures them
  RDS PostgreSQL 15 (Multi-AZ, 7-day backups, private, TLS, IAM authentication, a master password kept by Secrets
  Manager), ElastiCache Redis 7 in cluster mode (3 shards x 1 replica, automatic failover, Multi-AZ) and DocumentDB
  5.0 (one primary and two replicas in different zones, audit and profiler logs, 7-day backups). Instance classes are
  the reference's in dev and staging; prod may use a larger class (the seed says "adjustable"), never a smaller one.

  Background:
    Given the infrastructure of the environment

  @REQ-DATA-001 @seed:rds-postgresql
  Scenario: PostgreSQL 15, Multi-AZ, 7-day automated backups
    Then every PostgreSQL instance runs the reference engine version
    And every PostgreSQL instance has the reference instance class, or a larger one in prod
    And every PostgreSQL instance is Multi-AZ
    And every PostgreSQL instance keeps automated backups for the reference's retention days

  @REQ-DATA-002 @seed:rds-postgresql @seed:network-security
  Scenario: PostgreSQL is private, uses IAM authentication and a master password managed by Secrets Manager
    Then no PostgreSQL instance is publicly accessible
    And every PostgreSQL instance has IAM database authentication enabled
    And every PostgreSQL instance has its master password managed by Secrets Manager with the "secrets" key

  @REQ-DATA-003 @seed:cost-optimization-strategies
  Scenario: Deletion protection where the environment's reference asks for it
    Then every PostgreSQL instance and DocumentDB cluster has the environment's deletion protection
    And every PostgreSQL instance and DocumentDB cluster keeps a final snapshot when deletion-protected

  @REQ-DATA-004 @seed:rds-postgresql
  Scenario: Performance Insights on PostgreSQL, encrypted with the database key
    Then every PostgreSQL instance has Performance Insights encrypted with the "rds" key

  @REQ-DATA-005 @seed:elasticache-redis
  Scenario: Redis 7 in cluster mode, 3 shards x 1 replica, automatic failover, Multi-AZ
    Then every Redis replication group runs the reference engine major version
    And every Redis replication group has the reference node type, or a larger one in prod
    # 3 shards x 1 replica in staging and prod; dev runs the three nodes of the seed's dev estimate (1 x 2).
    And every Redis replication group has cluster mode with the environment's shards and replicas per shard
    And every Redis replication group has automatic failover and Multi-AZ enabled
    And every Redis replication group uses a parameter group with cluster mode enabled

  @REQ-DATA-006 @seed:documentdb
  Scenario: DocumentDB 5.0, one primary and two replicas in different availability zones
    Then every DocumentDB cluster runs the reference engine version
    And every DocumentDB cluster has the reference number of instances, each in a different availability zone
    And every DocumentDB instance has the reference instance class, or a larger one in prod

  @REQ-DATA-007 @seed:documentdb
  Scenario: DocumentDB exports audit and profiler logs and keeps 7-day backups
    Then every DocumentDB cluster exports the "audit, profiler" logs
    And every DocumentDB cluster parameter group enables "audit_logs, profiler"
    And every DocumentDB cluster keeps backups for the reference's retention days

  @REQ-DATA-008 @seed:network-architecture
  Scenario: The data stores live in the private database subnets
    Then every data store subnet group uses exactly the "data" subnets
