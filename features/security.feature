@seed:security @target:local
Feature: The gateway refuses bad tokens, floods and malformed input
  Access tokens are ES256 JWTs of the users service, checked by the gateway against its JWKS. Every client and every
  storefront has a rate limit. Input is validated at the edge and refused as RFC 9457 problem+json naming the field.

  Background:
    Given the storefront "acme" through the API

  @REQ-SEC-001 @seed:security
  Scenario: Expired, forged and unsigned tokens are refused
    Given a customer whose genuine access token is accepted
    Then a token that expired a minute ago, though signed with the shop's own key is refused with 401 and a Bearer challenge
    And a token signed with another key under the shop's key id is refused with 401 and a Bearer challenge
    And a token with "alg: none" and no signature is refused with 401 and a Bearer challenge
    And a token whose claims were changed after signing is refused with 401 and a Bearer challenge

  @REQ-SEC-002 @seed:security
  Scenario: A client that floods the gateway is rate limited
    When one client sends requests as fast as it can
    Then it is answered 429 Too Many Requests with a Retry-After in seconds before 200 requests
    And another client of the same storefront is still served meanwhile

  @REQ-SEC-003 @seed:security
  Scenario: Invalid input is refused as problem+json naming the field
    Then each of these requests is refused with 4xx problem+json whose field names the input at fault:
      | request                                                                      | field                  |
      | GET /v1/products?limit=1000                                                  | query.limit            |
      | GET /v1/products?limit=many                                                  | query.limit            |
      | GET /v1/products/not-a-uuid                                                  | path.product_id        |
      | GET /v1/products/search?q=                                                   | query.q                |
      | GET /v1/products header:X-Tenant=Not_A_Tenant!                               | header.X-Tenant        |
      | POST /v1/cart/items {"product_id": "<product>", "quantity": 0}               | body.quantity          |
      | POST /v1/cart/items {"product_id": "not-a-uuid"}                             | body.product_id        |
      | POST /v1/auth/register {"email": "not-an-email", "password": "long-enough-pw"} | body.email           |
      | POST /v1/checkout {"shipping_address": {"name": "A", "line1": "1", "city": "C", "postal_code": "1", "country": "GB"}} | header.Idempotency-Key |
      | POST /v1/checkout header:Idempotency-Key=key-12345678 {"shipping_address": {"name": "A", "line1": "1", "city": "C", "postal_code": "1", "country": "Great Britain"}} | body.shipping_address.country |

  @REQ-SEC-004 @seed:security
  Scenario: Malformed input never causes a server error
    Given a customer whose genuine access token is accepted
    Then no malformed request is answered with a server error
