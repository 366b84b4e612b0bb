"""A small, deterministic MaxMind DB (MMDB) writer.

Written for Meridian from the public MaxMind DB File Format Specification 2.0
(binary search tree + 16-byte separator + data section + metadata). Standard library
only; used by geodata/build.py and tests/data/make_fixtures.py.

Determinism: the output depends only on the arguments. Map keys are written in
sorted order, records are written in the order given, the tree is numbered in
depth-first pre-order, and nothing reads the clock.

Usage:

    w = Writer(ip_version=6, database_type="Meridian-City", languages=[],
               description={"en": "..."}, build_epoch=1780664400)
    rec = w.add_record({"country": {"iso_code": "US"}})   # -> record id
    w.write("out.mmdb", ranges)     # ranges: sorted, non-overlapping (first, last, record id)

Addresses in `ranges` are integers in the database's address space: 0..2**32-1 for an
IPv4 database; for an IPv6 database IPv4 addresses live at ::/96, i.e. the integer value
of the IPv4 address itself (helper `v4_in_v6`). For IPv6 databases the writer can alias
::ffff:0:0/96 (IPv4-mapped) and 2002::/16 (6to4) to the IPv4 subtree, the way MaxMind's
own databases do, so those forms of an IPv4 address find the IPv4 answer.
"""

from __future__ import annotations

import bisect
import ipaddress
import struct
import sys
from typing import Iterable, Sequence

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"
DATA_SEPARATOR = b"\x00" * 16

# The aliases MaxMind's writer installs in IPv6 databases that contain IPv4 data:
# (first address of the prefix, prefix length).
IPV4_MAPPED = (0xFFFF << 32, 96)      # ::ffff:0:0/96
SIX_TO_FOUR = (0x2002 << 112, 16)     # 2002::/16
DEFAULT_ALIASES = (IPV4_MAPPED, SIX_TO_FOUR)


# ---------------------------------------------------------------------------
# Data section encoding
# ---------------------------------------------------------------------------

class Uint16(int):
    """An integer to be stored as MMDB uint16 (type 5)."""


class Uint32(int):
    """An integer to be stored as MMDB uint32 (type 6)."""


class Uint64(int):
    """An integer to be stored as MMDB uint64 (type 9)."""


class Int32(int):
    """An integer to be stored as MMDB int32 (type 8)."""


class Float32(float):
    """A number to be stored as MMDB float (type 15, IEEE-754 single precision)."""


def _control(type_num: int, size: int) -> bytes:
    if type_num <= 7:
        first = type_num << 5
        ext = b""
    else:
        first = 0
        ext = bytes([type_num - 7])
    if size < 29:
        first |= size
        tail = b""
    elif size < 29 + 256:
        first |= 29
        tail = bytes([size - 29])
    elif size < 285 + 65536:
        first |= 30
        tail = (size - 285).to_bytes(2, "big")
    elif size < 65821 + (1 << 24):
        first |= 31
        tail = (size - 65821).to_bytes(3, "big")
    else:
        raise ValueError(f"MMDB field too large: {size}")
    return bytes([first]) + ext + tail


def _uint_bytes(value: int, max_bytes: int) -> bytes:
    if value < 0 or value >= 1 << (8 * max_bytes):
        raise ValueError(f"{value} does not fit in {max_bytes} bytes")
    n = (value.bit_length() + 7) // 8
    return value.to_bytes(n, "big") if n else b""


def encode(value) -> bytes:
    """Encode one Python value in the MMDB data-section format (no pointers).

    dict -> map (keys sorted), list/tuple -> array, str -> UTF-8 string, bytes -> bytes,
    bool -> boolean, float -> double, Float32 -> float, Uint16/Uint32/Uint64/Int32 ->
    that type; a plain int is stored as uint32 if 0 <= v < 2**32, else rejected.
    """
    if isinstance(value, bool):
        return _control(14, 1 if value else 0)
    if isinstance(value, dict):
        out = [_control(7, len(value))]
        for key in sorted(value):
            if not isinstance(key, str):
                raise TypeError(f"map keys must be strings, got {key!r}")
            out.append(encode(key))
            out.append(encode(value[key]))
        return b"".join(out)
    if isinstance(value, (list, tuple)):
        return _control(11, len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _control(2, len(raw)) + raw
    if isinstance(value, (bytes, bytearray)):
        return _control(4, len(value)) + bytes(value)
    if isinstance(value, Float32):
        return _control(15, 4) + struct.pack(">f", value)
    if isinstance(value, float):
        return _control(3, 8) + struct.pack(">d", value)
    if isinstance(value, Uint16):
        raw = _uint_bytes(value, 2)
        return _control(5, len(raw)) + raw
    if isinstance(value, Uint64):
        raw = _uint_bytes(value, 8)
        return _control(9, len(raw)) + raw
    if isinstance(value, Int32):
        if not -(1 << 31) <= value < (1 << 31):
            raise ValueError(f"{value} does not fit in int32")
        raw = (value & 0xFFFFFFFF).to_bytes(4, "big").lstrip(b"\x00") if value >= 0 else \
            (value & 0xFFFFFFFF).to_bytes(4, "big")
        return _control(8, len(raw)) + raw
    if isinstance(value, int):  # Uint32 and plain ints
        raw = _uint_bytes(value, 4)
        return _control(6, len(raw)) + raw
    raise TypeError(f"cannot encode {type(value).__name__} in MMDB")


# ---------------------------------------------------------------------------
# Address helpers
# ---------------------------------------------------------------------------

def v4_in_v6(addr: int) -> int:
    """The integer of IPv4 address `addr` inside an IPv6 tree (::a.b.c.d, i.e. ::/96)."""
    return addr


def network_range(net: str | ipaddress._BaseNetwork, ip_version: int) -> tuple[int, int]:
    """(first, last) integers of a network in a database of `ip_version`."""
    if isinstance(net, str):
        net = ipaddress.ip_network(net)
    first = int(net.network_address)
    last = first + net.num_addresses - 1
    if net.version == 6 and ip_version == 4:
        raise ValueError(f"{net} in an IPv4 database")
    return first, last


# ---------------------------------------------------------------------------
# Search tree
# ---------------------------------------------------------------------------

_EMPTY = -1          # tree value: no data
# tree value >= 0: node index; tree value <= -2: data record (-2 - record id)


class Writer:
    def __init__(self, *, ip_version: int, database_type: str, build_epoch: int,
                 description: dict[str, str] | None = None,
                 languages: Sequence[str] = (), aliases: bool = True):
        if ip_version not in (4, 6):
            raise ValueError("ip_version must be 4 or 6")
        self.ip_version = ip_version
        self.bits = 32 if ip_version == 4 else 128
        self.database_type = database_type
        self.build_epoch = int(build_epoch)
        self.description = dict(description or {})
        self.languages = list(languages)
        self.aliases = tuple(DEFAULT_ALIASES) if (aliases and ip_version == 6) else ()
        self._records: list[bytes] = []
        self._record_ids: dict[bytes, int] = {}

    # -- records ---------------------------------------------------------
    def add_record(self, value) -> int:
        """Add a data record; identical records share one id (and one copy)."""
        raw = encode(value)
        rid = self._record_ids.get(raw)
        if rid is None:
            rid = len(self._records)
            self._records.append(raw)
            self._record_ids[raw] = rid
        return rid

    # -- tree --------------------------------------------------------------
    def _build_tree(self, starts: list[int], ends: list[int], rids: list[int]):
        bits = self.bits
        left: list[int] = []
        right: list[int] = []
        aliases = self.aliases
        alias_set = {(a, d) for a, d in aliases}
        ipv4_slot: list[int] = []   # value found at ::/96 (IPv6 trees)

        # Prefixes the tree must reach exactly: the aliases and, when there are
        # aliases, ::/96 itself (the IPv4 subtree they point at).
        forced = list(aliases) + ([(0, 96)] if aliases else [])

        def holds_forced(base: int, depth: int) -> bool:
            # True if a forced prefix lies strictly inside this node.
            shift = bits - depth
            for a, d in forced:
                if d > depth and (a >> shift) == (base >> shift):
                    return True
            return False

        def build(base: int, depth: int, i: int, j: int) -> int:
            if (base, depth) in alias_set:
                if not ipv4_slot:
                    raise AssertionError("alias reached before the IPv4 subtree")
                return ipv4_slot[0]
            size = 1 << (bits - depth)
            value = None
            if not (forced and holds_forced(base, depth)):
                if i == j:
                    value = _EMPTY
                elif j - i == 1 and starts[i] <= base and ends[i] >= base + size - 1:
                    value = -2 - rids[i]
            if value is None:
                if depth == bits:
                    raise AssertionError("tree deeper than the address")
                value = len(left)
                left.append(_EMPTY)
                right.append(_EMPTY)
                mid = base + (size >> 1)
                k = bisect.bisect_left(starts, mid, i, j)
                kr = k - 1 if (k > i and ends[k - 1] >= mid) else k
                left[value] = build(base, depth + 1, i, k)
                right[value] = build(mid, depth + 1, kr, j)
            if depth == 96 and base == 0 and bits == 128:
                ipv4_slot.append(value)
            return value

        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 1000))
        root = build(0, 0, 0, len(starts))
        if root < 0:
            # The whole space is one record (or empty): a reader still needs a node.
            left.append(root)
            right.append(root)
        return left, right

    def write(self, path: str, ranges: Iterable[tuple[int, int, int]]) -> dict:
        """Write the database. `ranges`: (first, last, record id), sorted, disjoint.

        Adjacent ranges with the same record are merged first. Returns statistics.
        """
        starts: list[int] = []
        ends: list[int] = []
        rids: list[int] = []
        limit = (1 << self.bits) - 1
        for first, last, rid in ranges:
            if not 0 <= first <= last <= limit:
                raise ValueError(f"bad range {first}-{last}")
            if not 0 <= rid < len(self._records):
                raise ValueError(f"unknown record id {rid}")
            if starts and first <= ends[-1]:
                raise ValueError("ranges must be sorted and disjoint")
            if starts and first == ends[-1] + 1 and rids[-1] == rid:
                ends[-1] = last
                continue
            starts.append(first)
            ends.append(last)
            rids.append(rid)

        left, right = self._build_tree(starts, ends, rids)
        node_count = len(left)

        # Data section: records in id order (each written once).
        offsets = []
        pos = 0
        for raw in self._records:
            offsets.append(pos)
            pos += len(raw)
        data = b"".join(self._records)

        max_value = node_count + 16 + max(offsets, default=0)
        for record_size in (24, 28, 32):
            if max_value < (1 << record_size):
                break
        else:
            raise ValueError("database too large for a 32-bit record size")

        def value_of(v: int) -> int:
            if v >= 0:
                return v
            if v == _EMPTY:
                return node_count
            return node_count + 16 + offsets[-2 - v]

        out = bytearray()
        if record_size == 24:
            for lv, rv in zip(left, right):
                out += value_of(lv).to_bytes(3, "big") + value_of(rv).to_bytes(3, "big")
        elif record_size == 28:
            for lv, rv in zip(left, right):
                a, b = value_of(lv), value_of(rv)
                out += (a & 0xFFFFFF).to_bytes(3, "big")
                out.append(((a >> 24) << 4) | (b >> 24))
                out += (b & 0xFFFFFF).to_bytes(3, "big")
        else:
            for lv, rv in zip(left, right):
                out += value_of(lv).to_bytes(4, "big") + value_of(rv).to_bytes(4, "big")

        metadata = {
            "binary_format_major_version": Uint16(2),
            "binary_format_minor_version": Uint16(0),
            "build_epoch": Uint64(self.build_epoch),
            "database_type": self.database_type,
            "description": dict(self.description),
            "ip_version": Uint16(self.ip_version),
            "languages": list(self.languages),
            "node_count": Uint32(node_count),
            "record_size": Uint16(record_size),
        }
        blob = bytes(out) + DATA_SEPARATOR + data + METADATA_MARKER + encode(metadata)
        with open(path, "wb") as fh:
            fh.write(blob)
        return {
            "node_count": node_count,
            "record_size": record_size,
            "records": len(self._records),
            "ranges": len(starts),
            "data_bytes": len(data),
            "file_bytes": len(blob),
        }
