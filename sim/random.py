"""Common random numbers: every draw is addressed by (seed, purpose, customer key, day).

numpy's generators hand out numbers in sequence, so the draw a customer gets would depend on
how many other customers drew before her that day: a strategy that makes one customer buy
would reshuffle everyone else's luck. Two runs that differ only in strategy must give a
customer the strategy never touched exactly the same draws, so event draws here are
*counter-based*: a SplitMix64 hash of the address. Bulk draws made once at set-up (customer
traits, arrival streams) use ordinary numpy Generators seeded from the same root seed, one
independent child per purpose.
"""

from __future__ import annotations

import zlib

import numpy as np

_WORD = (1 << 64) - 1
_GOLDEN_WORD = 0x9E3779B97F4A7C15  # SplitMix64's Weyl step
_FEW_KEYS = 8  # up to this many keys, hashing in Python integers is faster than in numpy


def _const(value: int | float, dtype: type) -> np.ndarray:
    """A 0-d array constant: most draws are for a handful of customers, where numpy's cost of
    converting a scalar operand on every call would outweigh the arithmetic."""
    return np.array(value, dtype=dtype)


_GOLDEN = _const(_GOLDEN_WORD, np.uint64)
_MIX1 = _const(0xBF58476D1CE4E5B9, np.uint64)
_MIX2 = _const(0x94D049BB133111EB, np.uint64)
_S30, _S27, _S31 = (_const(s, np.uint64) for s in (30, 27, 31))
_ZERO, _S11, _S32 = (_const(s, np.uint64) for s in (0, 11, 32))
_TOP = _const(1 << 63, np.uint64)
_LOW32 = _const(0xFFFFFFFF, np.uint64)
_HALF = _const(0.5, np.float64)
_TO_UNIT = _const(1.0 / float(1 << 53), np.float64)
_TO_UNIT32 = _const(1.0 / float(1 << 32), np.float64)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijective avalanche mix of 64-bit words (wrapping arithmetic)."""
    return _mix(np.add(x, _GOLDEN))


def _mix(x: np.ndarray) -> np.ndarray:
    """The finaliser's mixing rounds, in place on `x` with one scratch buffer: these run over
    every message of a send."""
    tmp = np.empty_like(x)
    for shift, mult in ((_S30, _MIX1), (_S27, _MIX2)):
        np.right_shift(x, shift, out=tmp)
        np.bitwise_xor(x, tmp, out=x)
        np.multiply(x, mult, out=x)
    np.right_shift(x, _S31, out=tmp)
    np.bitwise_xor(x, tmp, out=x)
    return x


def _unit(bits: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """High bits to a float in (0, 1), shifted by half a step so that 0 and 1 never occur."""
    u = np.right_shift(bits, shift).astype(np.float64)
    np.add(u, _HALF, out=u)
    return np.multiply(u, scale, out=u)


def _splitmix64_word(x: int) -> int:
    """`_splitmix64` of one word in Python integers: a draw's address is one word, and numpy's
    per-call overhead would cost more than the arithmetic."""
    x = (x + _GOLDEN_WORD) & _WORD
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _WORD
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _WORD
    return x ^ (x >> 31)


def _address_word(purpose_key: int, day: int, slot: int) -> int:
    """The address of one draw (purpose, day, slot) as a Python integer."""
    return _splitmix64_word(((day + (slot << 32)) & _WORD) ^ purpose_key)


def _address_array(purpose_key: int, day: int | np.ndarray, slots: np.ndarray) -> np.ndarray:
    """`_address_word` in numpy: the addresses of `slots` on `day` (one day, or a column of
    days against a row of slots)."""
    words = (day + (slots.astype(np.int64) << 32)).astype(np.uint64)
    return _splitmix64(words ^ np.uint64(purpose_key))


def _keyed(keys: np.ndarray, address: np.ndarray) -> np.ndarray:
    """As in the SplitMix64 sequence: a Weyl step of each key, offset by the address, mixed
    (keys and addresses broadcast against each other)."""
    x = np.bitwise_xor(np.multiply(keys, _GOLDEN), address)
    return _mix(np.add(x, _GOLDEN, out=x))


def _keyed_words(keys: np.ndarray, addresses: list[int]) -> np.ndarray:
    """`_keyed` in Python integers, for a handful of keys (one address each): numpy's
    per-call overhead would cost more than the arithmetic."""
    words = [
        _splitmix64_word((k * _GOLDEN_WORD & _WORD) ^ a)
        for k, a in zip(keys.tolist(), addresses, strict=True)
    ]
    return np.array(words, dtype=np.uint64)


def _exponential(u: np.ndarray) -> np.ndarray:
    """Exp(1) draws from uniforms, in place."""
    return np.negative(np.log(u, out=u), out=u)


class Streams:
    """Named, independent random streams derived from one root seed.

    Args:
        seed: the run's seed; the same seed gives the same numbers on any machine with the
            pinned numpy, whatever the number of parallel jobs.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._root = np.random.SeedSequence(self.seed)
        self._purpose_keys: dict[str, int] = {}

    def _purpose_key(self, purpose: str) -> int:
        key = self._purpose_keys.get(purpose)
        if key is None:
            word = (self.seed & 0xFFFFFFFF) << 32 | zlib.crc32(purpose.encode())
            key = self._purpose_keys[purpose] = _splitmix64_word(word)
        return key

    def _address(self, purpose: str, day: int, slot: int | np.ndarray) -> int | np.ndarray:
        """The mixed address of a draw: one word (a Python int) when `slot` is one number,
        else one per slot."""
        key, day = self._purpose_key(purpose), int(day)
        if not isinstance(slot, np.ndarray) or slot.ndim == 0:
            return _address_word(key, day, int(slot))
        if slot.size <= _FEW_KEYS:  # a purchase's handful of draws: Python integers
            return np.array([_address_word(key, day, s) for s in slot.tolist()], dtype=np.uint64)
        return _address_array(key, day, slot)

    def generator(self, purpose: str) -> np.random.Generator:
        """A sequential generator for bulk draws made once (e.g. sampling the population)."""
        child = np.random.SeedSequence(
            entropy=self._root.entropy, spawn_key=(zlib.crc32(purpose.encode()),)
        )
        return np.random.Generator(np.random.PCG64(child))

    def _bits(self, purpose: str, keys: np.ndarray, day: int, slot: int | np.ndarray) -> np.ndarray:
        """64 mixed bits per key; `slot` is one for all keys or one per key."""
        keys = np.asarray(keys, dtype=np.uint64)
        base = self._address(purpose, day, slot)
        if isinstance(base, int) and len(keys) <= _FEW_KEYS:
            return _keyed_words(keys, [base] * len(keys))
        return _keyed(keys, base if isinstance(base, np.ndarray) else _const(base, np.uint64))

    def uniform(
        self, purpose: str, keys: np.ndarray, day: int, slot: int | np.ndarray = 0
    ) -> np.ndarray:
        """Uniform(0, 1) draws addressed by customer key and day, one per key.

        `slot` (one for all, or one per key) tells apart several draws for the same purpose
        on the same day.
        """
        return _unit(self._bits(purpose, keys, day, slot), _S11, _TO_UNIT)

    def uniform_matrix(
        self, purpose: str, keys: np.ndarray, day: int, slots: np.ndarray
    ) -> np.ndarray:
        """Uniforms for each key (rows) and each slot (columns), addressed like `uniform`."""
        return self.uniform_matrix_at(keys, self._address(purpose, day, np.asarray(slots)))

    def addresses(self, purpose: str, days: int, slots: np.ndarray) -> np.ndarray:
        """The addresses of `slots` on each day 0..days-1 (days x slots), hashed in one pass:
        for draws made every day, cheaper than a few hashes a day."""
        return _address_array(self._purpose_key(purpose), np.arange(days)[:, None], slots)

    def uniform_matrix_at(self, keys: np.ndarray, addresses: np.ndarray) -> np.ndarray:
        """`uniform_matrix` for a day's row of `addresses`."""
        return _unit(_keyed(np.asarray(keys, dtype=np.uint64)[:, None], addresses), _S11, _TO_UNIT)

    def uniform_pair(
        self, purpose: str, keys: np.ndarray, day: int, slot: int | np.ndarray = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Two independent uniforms per key from one hash (32 bits each): half the cost of two
        `uniform` calls, for decisions taken together (read? opt out?)."""
        bits = self._bits(purpose, keys, day, slot)
        high = _unit(bits, _S32, _TO_UNIT32)
        low = _unit(np.bitwise_and(bits, _LOW32, out=bits), _ZERO, _TO_UNIT32)
        return high, low

    def exponential(
        self, purpose: str, keys: np.ndarray, day: int, slot: int | np.ndarray = 0
    ) -> np.ndarray:
        """Exp(1) draws addressed like `uniform`: the thresholds of the hazard clocks."""
        return _exponential(self.uniform(purpose, keys, day, slot))

    def exponential_on(self, purpose: str, keys: np.ndarray, days: np.ndarray) -> np.ndarray:
        """`exponential` for each key on her own day (slot 0): draws due on different days,
        known in advance, taken in one pass instead of a few on each day."""
        purpose_key, keys = self._purpose_key(purpose), np.asarray(keys, dtype=np.uint64)
        days = np.asarray(days, dtype=np.int64)
        if len(keys) <= _FEW_KEYS:
            bits = _keyed_words(keys, [_address_word(purpose_key, d, 0) for d in days.tolist()])
        else:
            bits = _keyed(keys, _address_array(purpose_key, days, np.zeros(1, dtype=np.int64)))
        return _exponential(_unit(bits, _S11, _TO_UNIT))

    def derived_keys(self, parents: np.ndarray, day: int) -> np.ndarray:
        """Stable keys for customers another customer brought in (a referred friend).

        The top bit sets them apart from the sequential keys of the base and newcomers.
        """
        word = _splitmix64_word((int(day) & _WORD) ^ 0xD1B54A32D192ED03)
        parents = np.asarray(parents, dtype=np.uint64)
        if len(parents) <= _FEW_KEYS:  # a day's few referrers: Python integers
            top = 1 << 63
            keys = [_splitmix64_word(k ^ word) | top for k in parents.tolist()]
            return np.array(keys, dtype=np.uint64)
        mixed = _splitmix64(np.bitwise_xor(parents, _const(word, np.uint64)))
        return np.bitwise_or(mixed, _TOP, out=mixed)
