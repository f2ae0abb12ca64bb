"""A binary fuse filter of 64-bit keys (8-bit fingerprints, three probes), built with numpy.

The structure is Graf and Lemire's binary fuse filter ("Binary Fuse Filters: Fast and
Smaller Than Xor Filters", 2022): an array of about 1.125 bytes per key, split into
overlapping segments; each key hashes to one slot in each of three consecutive segments,
and the three bytes there XOR to the key's 8-bit fingerprint. A key that was added is
always found (no false negatives); any other key passes with probability 1/256.

Hashing, parameters and the serialised layout are those of the C reference
implementation (as pyfusefilter wrote ``filter.bin``), so an index built before this
module existed opens unchanged. Construction peels the key hypergraph round by round: every
slot that holds exactly one key gives that key up at once, which numpy does in a few
vector operations per round instead of one loop iteration per key.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Iterator

import numpy as np

# seed, keys, segment length, segment count, segment count length, array length; then the bytes.
HEADER = struct.Struct("<QIIIII")
MAX_SEGMENT_LENGTH = 1 << 18  # the probes' in-segment offsets are 18-bit fields of the hash
MAX_ATTEMPTS = 100  # each seed succeeds with probability well over 1/2
_MASK64 = (1 << 64) - 1
_MURMUR_1, _MURMUR_2 = 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53
_CHUNK = 1 << 20  # keys hashed at once while counting: bounds the temporaries to ~30 MB
_BATCH = 1 << 18  # slots peeled in one round at most: bounds its temporaries to ~20 MB


class FilterError(ValueError):
    """A filter file that is truncated or whose header does not describe its contents."""


def _next_seed(state: int) -> tuple[int, int]:
    # splitmix64, as the reference implementation draws its seeds: the same keys always give
    # the same filter, so a rebuilt index is byte-for-byte the same.
    state = (state + 0x9E3779B97F4A7C15) & _MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return state, z ^ (z >> 31)


def _layout(size: int) -> tuple[int, int]:
    """(segment length, segment count) of a filter for ``size`` distinct keys."""
    size = max(size, 2)  # the formulas want a logarithm above zero; 0 and 1 key get the smallest filter
    segment_length = min(1 << int(math.floor(math.log(size) / math.log(3.33) + 2.25)), MAX_SEGMENT_LENGTH)
    size_factor = max(1.125, 0.875 + 0.25 * math.log(1_000_000) / math.log(size))
    capacity = int(round(size * size_factor))
    segment_count = max((capacity + segment_length - 1) // segment_length - 2, 1)
    return segment_length, segment_count


class FuseFilter:
    """A built (immutable) filter: ``key in filter`` for one key, ``contains`` for an array."""

    def __init__(self, seed: int, size: int, segment_length: int, segment_count: int,
                 fingerprints: bytes | memoryview) -> None:
        if segment_length & (segment_length - 1) or not 0 < segment_length <= MAX_SEGMENT_LENGTH:
            raise FilterError(f"segment length {segment_length} is not a power of two up to {MAX_SEGMENT_LENGTH}")
        if len(fingerprints) != (segment_count + 2) * segment_length:
            raise FilterError(f"{len(fingerprints)} fingerprint bytes where the header says "
                              f"{(segment_count + 2) * segment_length}")
        self.seed = seed
        self.size = size
        self.segment_length = segment_length
        self.segment_count = segment_count
        self._mask = segment_length - 1
        self._span = segment_count * segment_length  # where a key's first probe may fall
        self._fingerprints = fingerprints

    # -- lookup ---------------------------------------------------------------------------

    def __contains__(self, key: int) -> bool:
        # One key in plain Python integers: a handful of operations, no numpy scalar overhead.
        h = (key + self.seed) & _MASK64
        h ^= h >> 33
        h = (h * _MURMUR_1) & _MASK64
        h ^= h >> 33
        h = (h * _MURMUR_2) & _MASK64
        h ^= h >> 33
        first = (h * self._span) >> 64
        second = (first + self.segment_length) ^ ((h >> 18) & self._mask)
        third = (first + 2 * self.segment_length) ^ (h & self._mask)
        table = self._fingerprints
        return ((h ^ (h >> 32)) & 0xFF) == table[first] ^ table[second] ^ table[third]

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """A boolean array: which of ``keys`` (uint64) pass the filter."""
        hashes = _hash(np.asarray(keys, dtype=np.uint64), self.seed)
        table = np.frombuffer(self._fingerprints, dtype=np.uint8)
        found = _fingerprint(hashes)
        for probe in _probes(hashes, self.segment_length, self.segment_count):
            found ^= table[probe]
        return found == 0

    @property
    def nbytes(self) -> int:
        """Bytes the filter holds in memory (its fingerprint array and header)."""
        return len(self._fingerprints) + HEADER.size

    # -- files ----------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        header = HEADER.pack(self.seed, self.size, self.segment_length, self.segment_count, self._span,
                             len(self._fingerprints))
        return header + bytes(self._fingerprints)

    @classmethod
    def from_bytes(cls, data: bytes) -> "FuseFilter":
        """The filter ``to_bytes`` wrote (or pyfusefilter's ``binary_fuse8_serialize``).

        Raises FilterError when the data is truncated or its header is inconsistent.
        """
        if len(data) < HEADER.size:
            raise FilterError(f"{len(data)} bytes is shorter than the {HEADER.size}-byte header")
        seed, size, segment_length, segment_count, span, array_length = HEADER.unpack_from(data)
        if span != segment_count * segment_length or len(data) != HEADER.size + array_length:
            raise FilterError("the header does not match the file's length")
        # A memoryview slice shares the bytes: the file is held once, and indexing it gives ints.
        return cls(seed, size, segment_length, segment_count, memoryview(data)[HEADER.size:])

    @classmethod
    def load(cls, path: Path) -> "FuseFilter":
        """Read a filter file into memory. Raises FilterError (damaged) or OSError (unreadable)."""
        return cls.from_bytes(Path(path).read_bytes())

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def build(cls, keys: np.ndarray) -> "FuseFilter":
        """A filter of ``keys``: distinct uint64 values (``np.unique`` gives them).

        About 20 bytes of working memory per key besides ``keys`` itself. Raises ValueError
        when the keys are not distinct (the construction would never finish otherwise).
        """
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        if len(keys) >= 1 << 32:
            raise ValueError(f"a filter holds fewer than 2**32 keys, not {len(keys)}")
        segment_length, segment_count = _layout(len(keys))
        slots = (segment_count + 2) * segment_length
        state = 0x726B2B9D438B9D4D
        for attempt in range(MAX_ATTEMPTS):
            state, seed = _next_seed(state)
            fingerprints = _construct(keys, seed, segment_length, segment_count, slots)
            if fingerprints is not None:
                return cls(seed, len(keys), segment_length, segment_count, fingerprints.tobytes())
            # A key given twice never peels, whatever the seed: say so instead of trying them all.
            if attempt == 0 and len(np.unique(keys)) != len(keys):
                raise ValueError("the filter's keys must be distinct (np.unique them first)")
        raise ValueError(f"no filter of {len(keys)} keys after {MAX_ATTEMPTS} seeds")  # pragma: no cover


# -- vector helpers ----------------------------------------------------------------------------

def _hash(keys: np.ndarray, seed: int) -> np.ndarray:
    # murmur64's finaliser of key + seed; uint64 arithmetic wraps, as the C does.
    h = keys + np.uint64(seed)
    h ^= h >> np.uint64(33)
    h *= np.uint64(_MURMUR_1)
    h ^= h >> np.uint64(33)
    h *= np.uint64(_MURMUR_2)
    h ^= h >> np.uint64(33)
    return h


def _fingerprint(hashes: np.ndarray) -> np.ndarray:
    return (hashes ^ (hashes >> np.uint64(32))).astype(np.uint8)


def _probes(hashes: np.ndarray, segment_length: int, segment_count: int) -> Iterator[np.ndarray]:
    """The three slots (int64 arrays) of each hash, in probe order."""
    span = np.uint64(segment_count * segment_length)
    # The high 64 bits of hash * span (span < 2**32), from two 32x32-bit products.
    low_product = (hashes & np.uint64(0xFFFFFFFF)) * span
    first = ((hashes >> np.uint64(32)) * span + (low_product >> np.uint64(32))) >> np.uint64(32)
    del low_product
    first = first.astype(np.int64)
    mask = np.uint64(segment_length - 1)
    yield first
    yield (first + segment_length) ^ ((hashes >> np.uint64(18)) & mask).astype(np.int64)
    yield (first + 2 * segment_length) ^ (hashes & mask).astype(np.int64)


def _construct(keys: np.ndarray, seed: int, segment_length: int, segment_count: int,
               slots: int) -> np.ndarray | None:
    """The fingerprint array for one seed, or None when this seed's hypergraph does not peel."""
    one = np.uint8(1)  # ufunc.at takes its fast path only when the value's dtype is the array's
    count = np.zeros(slots, dtype=np.uint8)
    # Per slot, the sum (mod 2**32) of the indices of the keys in it: where one key is left,
    # the sum is that key's index.
    owner = np.zeros(slots, dtype=np.uint32)
    for start in range(0, len(keys), _CHUNK):
        hashes = _hash(keys[start:start + _CHUNK], seed)
        index = np.arange(start, start + len(hashes), dtype=np.uint32)
        for probe in _probes(hashes, segment_length, segment_count):
            np.add.at(count, probe, one)
            np.add.at(owner, probe, index)
    if len(keys) and int(count.max()) == 255:
        return None  # a slot's count may have wrapped: the odds are nil, but a new seed is cheap
    rounds: list[tuple[np.ndarray, np.ndarray]] = []  # (key indices, probe holding each alone)
    peeled = 0
    # Slots holding one key, last in first out (as the reference does: the wave of peeling
    # stays in the part of the array it is in). Every slot down to one key is on it once.
    pending = [np.flatnonzero(count == 1)]
    while pending:
        queue = pending.pop()
        if len(queue) > _BATCH:
            pending.append(queue[:-_BATCH])
            queue = queue[-_BATCH:]
        queue = queue[count[queue] == 1]  # its key may have gone through another slot meanwhile
        candidates = owner[queue]
        hashes = _hash(keys[candidates], seed)
        probes = np.stack(list(_probes(hashes, segment_length, segment_count)))
        # A key alone in two slots is taken once: through the first probe where it is alone.
        which = np.argmax(count[probes] == 1, axis=0)
        keep = probes[which, np.arange(len(queue))] == queue
        chosen, probes, which = candidates[keep], probes[:, keep], which[keep].astype(np.uint8)
        rounds.append((chosen, which))
        peeled += len(chosen)
        touched = probes.ravel()
        np.subtract.at(count, touched, one)
        np.subtract.at(owner, touched, np.broadcast_to(chosen, probes.shape).ravel())
        touched = np.sort(touched[count[touched] == 1])
        if len(touched):
            pending.append(touched[np.concatenate(([True], touched[1:] != touched[:-1]))])
    if peeled != len(keys):
        return None
    del count, owner
    fingerprints = np.zeros(slots, dtype=np.uint8)
    # Undo the peeling: the key peeled last is placed first. A key's own slot held no other key
    # at its round, and no key placed before it touches that slot, so one round's keys are
    # placed together.
    for chosen, which in reversed(rounds):
        hashes = _hash(keys[chosen], seed)
        probes = np.stack(list(_probes(hashes, segment_length, segment_count)))
        value = _fingerprint(hashes) ^ fingerprints[probes[0]] ^ fingerprints[probes[1]] ^ fingerprints[probes[2]]
        fingerprints[probes[which, np.arange(len(chosen))]] = value
    return fingerprints
