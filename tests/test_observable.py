"""A strategy sees the store's record only: hidden traits are structurally out of reach."""

import gc

import numpy as np
import pytest

from sim.actions import Actions
from sim.fast import ArrayCustomers
from sim.model import StoreModel
from tests.conftest import run


class Snoop:
    """A strategy that keeps the views it is given, and tries to peek behind them."""

    def __init__(self):
        self.views = []
        self.errors = []

    def decide(self, view):
        self.views.append(view)
        for attempt in ("lam", "alive", "affinity", "model", "customers", "_ledger.model"):
            try:
                getattr(view, attempt)
            except AttributeError as exc:
                self.errors.append(str(exc))
        return Actions()


def _reachable(root, limit=200_000):
    """Every object reachable from `root` through references (gc referents)."""
    seen, stack = {id(root): root}, [root]
    while stack and len(seen) < limit:
        for ref in gc.get_referents(stack.pop()):
            if id(ref) not in seen and not isinstance(ref, type):
                seen[id(ref)] = ref
                stack.append(ref)
    return seen.values()


def test_hidden_traits_cannot_be_read_through_the_view():
    result = run("customers=300", "days=3", strategy=Snoop())
    snoop = result.model.strategy  # the run's own copy
    assert len(snoop.errors) == 3 * 6  # every attempt failed, every day
    hidden = result.model.customers
    hidden_buffers = [getattr(hidden.t, name).base for name in hidden.t.names()]
    for obj in _reachable(snoop.views[-1]):
        assert not isinstance(obj, StoreModel | ArrayCustomers)
        if isinstance(obj, np.ndarray):
            assert not any(obj is b or obj.base is b for b in hidden_buffers if b is not None)


def test_record_columns_are_read_only():
    snoop = run("customers=100", "days=1", strategy=Snoop()).model.strategy
    with pytest.raises(ValueError, match="read-only"):
        snoop.views[0].purchases[0] = 99
