Feature: Production data can be restored
  Scenario: Tables keep point-in-time recovery
    Given I have aws_dynamodb_table defined
    Then it must contain point_in_time_recovery
    And it must contain enabled
    And its value must be true
