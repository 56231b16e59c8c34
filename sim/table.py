"""Columns of equal length that grow together: the storage behind customers and the ledger."""

from __future__ import annotations

from typing import Any

import numpy as np


class Table:
    """Named numpy columns sharing their first dimension, with amortised doubling on append.

    Reading `table.name` gives a view of the live rows; writing through it writes the table.
    Views are invalidated by `append`, so read columns again after customers join. Rows past
    the live ones always hold each column's fill value, so an append writes only the columns
    it is given (customers join every day: this keeps joining cheap).

    Args:
        capacity: rows to allocate up front.
        live_views: False makes `table.name` the whole column, `capacity` rows, replaced only
            when the table grows: for an owner that always indexes rows below `n` explicitly
            and would otherwise pay for new views of every column on every append.
    """

    def __init__(self, capacity: int, live_views: bool = True) -> None:
        self._columns: dict[str, np.ndarray] = {}
        self._fill: dict[str, Any] = {}
        self.n = 0
        self.capacity = max(int(capacity), 1)
        self.live_views = live_views

    def add(self, name: str, dtype: Any, width: int | None = None, fill: Any = 0) -> None:
        """A column whose new rows start at `fill`; with `width`, one sub-column per channel
        or style, each contiguous (column-major), since the hot path reads one channel for
        many customers."""
        shape = (self.capacity,) if width is None else (self.capacity, width)
        self._columns[name] = _filled(shape, fill, dtype)
        self._fill[name] = fill
        self._refresh_views()

    def append(self, count: int, **values: Any) -> slice:
        """Add `count` rows; `values` gives some columns (an array of `count` rows, or one
        value for all), the rest keep their fill value."""
        for name, value in values.items():
            if isinstance(value, np.ndarray) and value.ndim and len(value) != count:
                raise ValueError(f"appending {count} rows, but column {name} has {len(value)}")
        if count == 0:
            return slice(self.n, self.n)
        if self.n + count > self.capacity:
            self._grow(max(2 * self.capacity, self.n + count))
        rows = slice(self.n, self.n + count)
        columns = self._columns
        for name, value in values.items():
            columns[name][rows] = value
        self.n += count
        if self.live_views:
            self._refresh_views()
        return rows

    def _refresh_views(self) -> None:
        """`table.name` is a plain attribute holding the view of the live rows (or the whole
        column): the hot path reads columns hundreds of times a day, rows are added daily."""
        n = self.n if self.live_views else self.capacity
        for name, column in self._columns.items():
            self.__dict__[name] = column[:n]

    def _grow(self, capacity: int) -> None:
        for name, column in self._columns.items():
            grown = _filled((capacity, *column.shape[1:]), self._fill[name], column.dtype)
            grown[: self.n] = column[: self.n]
            self._columns[name] = grown
        self.capacity = capacity
        self._refresh_views()

    def names(self) -> list[str]:
        return list(self._columns)


def _filled(shape: tuple[int, ...], fill: Any, dtype: Any) -> np.ndarray:
    """A column-major array of `fill`. Zeros come from the OS untouched: the pages of rows
    that are never appended (the headroom for customers who may join) take no memory."""
    if fill == 0:
        return np.zeros(shape, dtype=dtype, order="F")
    return np.full(shape, fill, dtype=dtype, order="F")
