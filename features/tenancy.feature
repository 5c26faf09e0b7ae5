@seed:overview @target:local
Feature: Storefronts side by side never see each other's data
  The platform serves several storefronts (tenants). The gateway resolves the storefront from the host name (the
  X-Tenant header in local runs), refuses a token of another storefront, and keys every cache entry, cart and rate
  limit by storefront; the services keep each storefront's rows apart.

  Background:
    Given the storefronts "acme" and "globex" side by side
    And each storefront has a product that only it sells

  @REQ-TEN-001 @seed:microservices
  Scenario: Each storefront sees only its own catalogue
    Then each storefront lists, finds and shows its own product
    And neither lists, finds nor shows the other's product, through the API or the storefront pages

  @REQ-TEN-002 @seed:data-stores
  Scenario: Users, carts and orders belong to one storefront
    Given a customer of "acme" who placed an order and has a product in the cart as a guest
    Then the customer's credentials do not sign in at "globex"
    And the same guest session sees an empty cart at "globex"
    And the order is not found at "globex", not even by its admin

  @REQ-TEN-003 @seed:security
  Scenario: A token of one storefront is refused by the other
    Then a customer token of "acme" presented to "globex" is refused with 401
    And the admin of "acme" cannot change a product of "globex"

  @REQ-TEN-004 @seed:elasticache-redis
  Scenario: Cached pages never cross storefronts
    Given "acme"'s product list and its own product's page are cached
    Then "globex" is served its own product list, not "acme"'s cached one
    And "acme"'s product page is not found at "globex"
