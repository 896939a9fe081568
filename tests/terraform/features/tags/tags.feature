Feature: Every resource that can carry tags carries the stack's
  Scenario: Resources are tagged with their stack
    Given I have resource that supports tags defined
    Then it must contain tags
    And it must contain cairn:stack

  Scenario: The HTTP API's stage is tagged
    Given I have aws_apigatewayv2_stage defined
    Then it must contain tags
    And it must contain cairn:stack
