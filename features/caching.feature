@seed:elasticache-redis @target:local
Feature: Catalogue reads are cached in Redis, and a change is seen at once
  The gateway keeps catalogue reads (product pages, list pages, searches) in Redis, per storefront, and tells with
  the X-Cache header whether an answer came from the cache (HIT), from the catalogue (MISS), from the outage copy
  (STALE) or bypassed a Redis that is down (BYPASS). A change made through the admin API invalidates the copies.

  Background:
    Given the storefront "acme" through the API
    And a product newly added by the storefront's admin

  @REQ-CACHE-001 @seed:data-stores
  Scenario: A repeated read is served from the cache
    When the product is read twice
    Then the first read is a cache MISS and the repeated read a cache HIT with the same body

  @REQ-CACHE-002 @seed:data-stores
  Scenario: A product update through the admin API invalidates the cached copies
    Given the product's page, its listing and a search for it are cached
    When the admin renames the product and changes its price
    Then the next read of each shows the new name and price
