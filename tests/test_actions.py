"""What a strategy proposes is checked where it is made: a malformed action stops with one line
instead of messaging the wrong customers or corrupting the record."""

import numpy as np
import pytest

from sim.actions import Actions, LoyaltyUpdate, MessageBatch, Offer
from sim.config import ConfigError
from tests.conftest import run


@pytest.mark.parametrize(
    ("customers", "message"),
    [
        (np.array([True, False, True]), r"whole numbers \(for a mask, use np\.flatnonzero"),
        (np.array([10.9, 11.5]), "whole numbers"),
        (np.array([[1, 2], [3, 4]]), "1-D"),
        (5, "1-D"),
    ],
)
def test_message_recipients_must_be_row_numbers(customers, message):
    with pytest.raises(ValueError, match=message):
        MessageBatch(customers, "sms", "promo")


def test_an_empty_list_of_recipients_is_fine():
    assert MessageBatch([], "sms", "promo").customers.dtype == np.int64


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"offer": 0.2}, TypeError, "offer must be a sim.actions.Offer"),
        ({"style": np.array([300, 1])}, ValueError, "positions in view.styles"),
        ({"style": np.array([-1, 1])}, ValueError, "positions in view.styles"),
        ({"style": ["casual", "basics"]}, ValueError, r"whole numbers \(positions in view"),
    ],
)
def test_a_malformed_message_batch_is_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        MessageBatch(np.array([1, 2]), "sms", "promo", **kwargs)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("expiry_days", 2.7, r"expiry_days=2\.7: give a whole number"),
        ("expiry_days", float("nan"), "expiry_days=nan"),
        ("min_spend", float("nan"), "min_spend=nan"),
        ("discount", -0.1, "discount"),
    ],
)
def test_an_offer_needs_whole_days_and_finite_amounts(field, value, message):
    with pytest.raises(ValueError, match=message):
        Offer(**{"discount": 0.1, field: value})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"points": [np.nan, 1.0]}, "finite"),
        ({"points": [np.inf, 1.0]}, "finite"),
        ({"points": [1.0]}, "one finite number per customer"),
        ({"tier": [200, 1]}, "tiers run from 0 to 127"),
        ({"tier": [-1, 1]}, "0 \\(none\\) or more"),
        ({"tier": [1.5, 1]}, "whole number"),
    ],
)
def test_a_malformed_loyalty_update_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LoyaltyUpdate(np.array([1, 2]), **kwargs)


def test_a_loyalty_update_takes_an_empty_list_and_one_value_for_all():
    assert len(LoyaltyUpdate([], points=[]).customers) == 0
    update = LoyaltyUpdate([3, 5], points=10.0, tier=2)
    assert update.points.tolist() == [10.0, 10.0] and update.tier.tolist() == [2, 2]


def test_actions_hold_lists_of_actions():
    batch = MessageBatch([1], "sms", "promo")
    with pytest.raises(TypeError, match="Actions.messages must be a list of MessageBatch"):
        Actions(messages=batch)
    with pytest.raises(TypeError, match="Actions.loyalty must be a list of LoyaltyUpdate"):
        Actions(loyalty=[None])


class _Proposes:
    """Proposes the same actions every day (the model checks them against the store)."""

    def __init__(self, actions: Actions) -> None:
        self.actions = actions

    def decide(self, view) -> Actions:
        return self.actions


def test_a_style_the_store_does_not_have_is_refused_when_proposed():
    batch = MessageBatch(np.arange(5), "sms", "promo", style=np.full(5, 40))
    with pytest.raises(ValueError, match=r"promo: style 40 does not exist: .*\(0 to 5\)"):
        run("customers=300", "days=2", strategy=_Proposes(Actions(messages=[batch])))


def test_a_customer_twice_in_one_loyalty_update_is_refused():
    update = LoyaltyUpdate(np.array([1, 1, 1]), tier=np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="a customer appears twice"):
        run("customers=300", "days=2", strategy=_Proposes(Actions(loyalty=[update])))


def test_a_strategy_without_decide_is_a_config_error():
    with pytest.raises(ConfigError, match="strategy object has no decide"):
        run("customers=300", "days=2", strategy=object())
