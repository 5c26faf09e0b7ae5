@seed:microservices @target:local
Feature: Orders are placed once, at the catalogue's prices, and seen only by their owner
  Checkout carries an Idempotency-Key: a repeated submit (a double click, a retry after a timeout) returns the order
  already placed, and the same key for another cart is a conflict. Prices come from the catalogue, never from the
  client. An order moves through pending, confirmed, shipped and delivered (or cancelled) by the storefront's staff.
  A cancelled order was never shipped: its stock goes back on sale, also once the stock was committed (sold).

  Background:
    Given the storefront "acme" through the API
    And a signed-in customer with a product in the cart

  @REQ-ORD-001 @seed:microservices
  Scenario: The same Idempotency-Key twice places one order
    When the customer checks out twice with the same Idempotency-Key
    Then both answers name the same order, the second marked as a replay
    And the customer's order history holds that order once

  @REQ-ORD-002 @seed:microservices
  Scenario: The same Idempotency-Key for another cart is a conflict
    Given the customer has checked out with an Idempotency-Key
    When the customer fills the cart again and checks out with the same Idempotency-Key
    Then checkout answers 409 Conflict as problem+json
    And no second order is placed

  @REQ-ORD-003 @seed:microservices
  Scenario: Prices are the catalogue's, never the client's
    When the customer sends a price of its own with a cart item or at checkout
    Then the request is refused with 422 naming the price field
    When the customer checks out
    Then every order line is charged the catalogue's unit price and the total is their sum

  @REQ-ORD-004 @seed:data-stores
  Scenario: An order moves along its lifecycle, by the storefront's staff only
    Given the customer has placed an order
    Then the customer cannot change the order's status
    And a pending order cannot be shipped before it is confirmed
    And the storefront's admin confirms the order and then ships it
    And a shipped order cannot go back to confirmed or pending
    And the customer sees the order as "shipped"

  @REQ-ORD-005 @seed:security
  Scenario: A customer cannot read another customer's orders
    Given the customer has placed an order
    When another customer of the same storefront asks for that order
    Then the answer is 404 Not Found, the same as for an order that does not exist
    And the order is not in the other customer's history

  @REQ-ORD-006 @seed:microservices
  Scenario: A cancelled order gives its stock back, also after the stock was committed
    Given the customer's cart holds 2 units of a product newly added by the storefront's admin
    And the customer has placed an order
    And the order's stock has been committed in the catalogue
    When the customer cancels the order
    Then the customer sees the order as "cancelled"
    And the product's available stock is back where it was before the order, once
    And a second cancel is refused and gives nothing back twice
