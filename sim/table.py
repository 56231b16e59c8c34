"""Columns of equal length that grow together: the storage behind customers and the ledger."""

from __future__ import annotations

from typing import Any

import numpy as np


class Table:
    """Named numpy columns sharing their first dimension, with amortised doubling on append.

    Reading `table.name` gives a view of the live rows; writing through it writes the table.
    Views are invalidated by `append`, so read columns again after customers join.
    """

    def __init__(self, capacity: int) -> None:
        self._columns: dict[str, np.ndarray] = {}
        self.n = 0
        self.capacity = max(int(capacity), 1)

    def add(self, name: str, dtype: Any, width: int | None = None, fill: Any = 0) -> None:
        """A column; with `width`, one sub-column per channel or style, each contiguous
        (column-major), since the hot path reads one channel for many customers."""
        shape = (self.capacity,) if width is None else (self.capacity, width)
        self._columns[name] = np.full(shape, fill, dtype=dtype, order="F")

    def append(self, fill: dict[str, Any], **values: np.ndarray) -> slice:
        """Add rows; `values` gives some columns, the rest take their `fill` default."""
        count = len(next(iter(values.values())))
        if self.n + count > self.capacity:
            self._grow(max(2 * self.capacity, self.n + count))
        rows = slice(self.n, self.n + count)
        for name, column in self._columns.items():
            column[rows] = values[name] if name in values else fill.get(name, 0)
        self.n += count
        return rows

    def _grow(self, capacity: int) -> None:
        for name, column in self._columns.items():
            grown = np.zeros((capacity, *column.shape[1:]), dtype=column.dtype, order="F")
            grown[: self.n] = column[: self.n]
            self._columns[name] = grown
        self.capacity = capacity

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["_columns"][name][: self.__dict__["n"]]
        except KeyError:
            raise AttributeError(name) from None

    def names(self) -> list[str]:
        return list(self._columns)
