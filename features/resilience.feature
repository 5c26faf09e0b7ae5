@seed:high-level-architecture-diagram @target:local
Feature: The shop degrades gracefully when a part fails, and recovers by itself
  One dependency at a time is stopped as a crash would stop it, then started again. While it is down the shop
  serves what it still can and says clearly what it cannot; once it is back the shop resumes fully without any
  other component being restarted.

  Background:
    Given the storefront "acme" through the API
    And a signed-in customer with a product in the cart

  @REQ-RES-001 @seed:microservices
  Scenario: Catalog down: cached pages are still served and checkout is refused clearly
    Given the catalogue pages were read and their cached copies have since been invalidated
    When the catalog service stops
    Then the catalogue pages are still served from the cache, marked STALE
    And the storefront still shows the catalogue
    And checkout is refused with 503 and a message naming the catalog service
    When the catalog service is back
    Then fresh pages are served and checkout places the order, without restarting any other component

  @REQ-RES-002 @seed:elasticache-redis
  Scenario: Redis down: the catalogue is still served
    When Redis stops
    Then catalogue reads are still served, bypassing the cache
    And the storefront still shows the catalogue and product pages
    And the cart answers 503 with a message that it is temporarily unavailable
    When Redis is back
    Then reads are cached again and the cart works, without restarting any other component

  @REQ-RES-003 @seed:microservices
  Scenario: Orders down: browsing still works
    When the orders service stops
    Then catalogue reads and the storefront still work
    And the gateway stays ready
    And the order history answers 503 with a message naming the orders service
    When the orders service is back
    Then the order history and checkout work again, without restarting any other component
