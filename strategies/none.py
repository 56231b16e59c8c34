"""The baseline: the store sends nothing and runs no programme."""

from __future__ import annotations

from sim.actions import Actions
from sim.ledger import ObservableView
from strategies.base import Strategy


class NoStrategy(Strategy):
    """Does nothing: what customers do on their own."""

    def campaigns(self) -> list[str]:
        return []

    def decide(self, view: ObservableView) -> Actions:
        return Actions()
