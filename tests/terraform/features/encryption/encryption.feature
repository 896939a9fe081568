Feature: The chat backend's data is encrypted with the stack's own key
  Scenario: Log groups are encrypted with a KMS key
    Given I have aws_cloudwatch_log_group defined
    Then it must contain kms_key_id

  Scenario: Tables are encrypted with a customer managed key
    Given I have aws_dynamodb_table defined
    Then it must contain server_side_encryption
    And it must contain kms_key_arn

  Scenario: Keys rotate
    Given I have aws_kms_key defined
    Then it must contain enable_key_rotation
    And its value must be true

  Scenario: Functions cap their concurrency
    Given I have aws_lambda_function defined
    Then it must contain reserved_concurrent_executions
    And its value must be greater than 0
