"""`simulate()` leaves the interpreter as it found it."""

import gc

import pytest

from sim.actions import Actions
from tests.conftest import run


class _Breaks:
    def decide(self, view) -> Actions:
        if view.day == 3:
            raise RuntimeError("strategy failed")
        return Actions()


def test_the_collector_threshold_is_restored_after_a_run_and_after_a_failure():
    before = gc.get_threshold()
    run("customers=200", "days=5")
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError, match="strategy failed"):
        run("customers=200", "days=5", strategy=_Breaks())
    assert gc.get_threshold() == before
