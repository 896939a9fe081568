Feature: Every resource names the team that owns it
  Scenario: Resources carry a Team tag
    Given I have resource that supports tags defined
    Then it must contain tags
    And it must contain Team
