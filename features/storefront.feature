@seed:overview @target:local
Feature: Shopping on the storefront
  Shoppers meet the platform through the server-rendered storefront (frontend), which calls the API gateway, which
  calls the catalog, users and orders services. These scenarios use the storefront as a browser does: pages, links,
  cookies and forms carrying their CSRF token.

  Background:
    Given the storefront "acme" in a browser

  @REQ-SHOP-001 @seed:microservices
  Scenario: Browse the catalogue page by page
    When the shopper opens the catalogue
    Then the first page lists at most 8 products with a link to the next page
    And following the next-page links lists every product of the storefront exactly once

  @REQ-SHOP-002 @seed:microservices
  Scenario: Search the catalogue
    When the shopper searches for the name of a product of the storefront
    Then the results include that product
    And a search for words no product contains shows "No products found"

  @REQ-SHOP-003 @seed:microservices
  Scenario: A product page shows what the catalogue holds
    When the shopper opens the page of a product
    Then the page shows the product's name, price and stock as the catalogue holds them
    And the page offers an add-to-cart form protected against cross-site requests

  @REQ-SHOP-004 @seed:components
  Scenario: Buy a product and find the order in the history
    Given the shopper has registered an account
    When the shopper adds a product to the cart
    And checks out with a shipping address
    Then the order confirmation shows the product and the total
    And the order appears in the shopper's order history
    And a form submitted without the page's CSRF token is refused
