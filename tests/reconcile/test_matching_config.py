"""Job configuration: JSON in, clear errors out."""

import pytest
from pydantic import ValidationError

from ledgerbridge.reconcile.matching import AmountRule, GroupRule, JobConfig


def test_default_config_has_every_rule_kind():
    kinds = [rule.kind for rule in JobConfig().rules]
    assert kinds == ["exact_key", "amount", "date_window", "counterparty", "currency", "group"]


def test_config_round_trips_through_json():
    config = JobConfig()
    again = JobConfig.model_validate_json(config.model_dump_json())
    assert again == config


def test_rules_are_chosen_by_kind_from_json():
    config = JobConfig.model_validate(
        {
            "rules": [
                {
                    "kind": "amount",
                    "name": "amount",
                    "rel_tolerance": "0.02",
                    "fee": {"max_rate": "0.029", "max_fixed": "0.30"},
                },
                {"kind": "group", "name": "batch", "direction": "one_to_many", "max_items": 3},
            ],
            "auto_accept": 0.95,
            "review": 0.7,
        }
    )
    amount, group = config.rules
    assert isinstance(amount, AmountRule) and amount.fee is not None
    assert isinstance(group, GroupRule) and group.max_items == 3


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"rules": [{"kind": "amount", "name": "a"}, {"kind": "date_window", "name": "a"}]},
            "unique",
        ),
        (
            {"rules": [{"kind": "amount", "name": "a"}, {"kind": "amount", "name": "b"}]},
            "one rule of each kind",
        ),
        ({"auto_accept": 0.5, "review": 0.8}, "review threshold"),
        ({"rules": [{"kind": "fuzzy", "name": "x"}]}, "fuzzy"),
        ({"rules": [{"kind": "amount", "name": "a", "rel_tolerance": "1.5"}]}, "rel_tolerance"),
        ({"rules": [{"kind": "amount", "name": "a", "tolerance": "1"}]}, "tolerance"),
        ({"rules": []}, "rules"),
        ({"rules": [{"kind": "group", "name": "g", "max_items": 50}]}, "max_items"),
    ],
)
def test_bad_configs_are_refused_with_a_clear_message(payload, message):
    with pytest.raises(ValidationError) as error:
        JobConfig.model_validate(payload)
    assert message in str(error.value)
