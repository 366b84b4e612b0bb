"""A small MaxMind DB reader (python3 stdlib only), enough to pick ECS clients by country.

`networks(path)` walks the search tree once and yields every network that has a record,
with that record decoded; the scale benchmark uses it to choose client subnets in as many
countries as the geolocation database knows (`pick_clients`). No lookups on the query
path, no writing: `geodata/mmdbwrite.py` makes the databases, this only reads them.
Format: https://maxmind.github.io/MaxMind-DB/ (search tree, then the data section).
"""

import ipaddress
import random
import struct

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"


class Reader:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = f.read()
        at = self.buf.rfind(METADATA_MARKER)
        if at < 0:
            raise ValueError(f"{path}: not a MaxMind DB file (no metadata marker)")
        self.meta, _ = self._decode(at + len(METADATA_MARKER), at + len(METADATA_MARKER))
        self.node_count = self.meta["node_count"]
        self.record_size = self.meta["record_size"]
        self.ip_version = self.meta["ip_version"]
        self.node_bytes = self.record_size * 2 // 8
        self.tree_size = self.node_count * self.node_bytes
        self.data_start = self.tree_size + 16

    # ------------------------------------------------------------ search tree

    def children(self, node):
        """(left, right) record values of `node`."""
        b = self.buf
        o = node * self.node_bytes
        if self.record_size == 24:
            return int.from_bytes(b[o : o + 3], "big"), int.from_bytes(b[o + 3 : o + 6], "big")
        if self.record_size == 28:
            mid = b[o + 3]
            left = ((mid & 0xF0) << 20) | int.from_bytes(b[o : o + 3], "big")
            right = ((mid & 0x0F) << 24) | int.from_bytes(b[o + 4 : o + 7], "big")
            return left, right
        if self.record_size == 32:
            return struct.unpack_from(">II", b, o)
        raise ValueError(f"unsupported record size {self.record_size}")

    def record(self, value):
        """The decoded data record a leaf value points at."""
        offset = value - self.node_count - 16 + self.data_start
        return self._decode(offset, self.data_start)[0]

    def walk(self, start_node, start_bits, start_depth, max_depth, width, visited):
        """Yields (prefix_int, prefix_len, leaf_value) for every leaf with data below
        start_node, down to prefix length `max_depth`; prefixes are `width`-bit
        integers. Nodes in `visited` (a bytearray bitmap) are skipped, so an aliased
        subtree is walked once."""
        stack = [(start_node, start_bits, start_depth)]
        n = self.node_count
        while stack:
            node, bits, depth = stack.pop()
            if visited[node >> 3] & (1 << (node & 7)):
                continue
            visited[node >> 3] |= 1 << (node & 7)
            left, right = self.children(node)
            shift = width - depth - 1
            for bit, value in ((1, right), (0, left)):
                child_bits = bits | (bit << shift)
                if value < n:
                    if depth + 1 < max_depth:
                        stack.append((value, child_bits, depth + 1))
                elif value > n:
                    yield child_bits, depth + 1, value

    def node_at(self, bits, length, width):
        """The node reached after following the top `length` bits of `bits` (a `width`-bit
        integer) from the root, or None when a leaf comes first."""
        node = 0
        for i in range(length):
            bit = (bits >> (width - 1 - i)) & 1
            node = self.children(node)[bit]
            if node >= self.node_count:
                return None
        return node

    # ------------------------------------------------------------ data section

    def _decode(self, offset, base):
        b = self.buf
        ctrl = b[offset]
        offset += 1
        kind = ctrl >> 5
        if kind == 1:  # pointer
            ss = (ctrl >> 3) & 3
            v = ctrl & 7
            if ss == 0:
                p = (v << 8) | b[offset]
                offset += 1
            elif ss == 1:
                p = ((v << 16) | int.from_bytes(b[offset : offset + 2], "big")) + 2048
                offset += 2
            elif ss == 2:
                p = ((v << 24) | int.from_bytes(b[offset : offset + 3], "big")) + 526336
                offset += 3
            else:
                p = int.from_bytes(b[offset : offset + 4], "big")
                offset += 4
            value, _ = self._decode(base + p, base)
            return value, offset
        if kind == 0:  # extended
            kind = 7 + b[offset]
            offset += 1
        size = ctrl & 0x1F
        if size == 29:
            size = 29 + b[offset]
            offset += 1
        elif size == 30:
            size = 285 + int.from_bytes(b[offset : offset + 2], "big")
            offset += 2
        elif size == 31:
            size = 65821 + int.from_bytes(b[offset : offset + 3], "big")
            offset += 3
        if kind == 2:  # utf-8 string
            return b[offset : offset + size].decode("utf-8"), offset + size
        if kind == 3:  # double
            return struct.unpack_from(">d", b, offset)[0], offset + 8
        if kind == 4:  # bytes
            return b[offset : offset + size], offset + size
        if kind in (5, 6, 9, 10):  # unsigned integers
            return int.from_bytes(b[offset : offset + size], "big"), offset + size
        if kind == 8:  # int32
            return int.from_bytes(b[offset : offset + size], "big", signed=True), offset + size
        if kind == 7:  # map
            out = {}
            for _ in range(size):
                k, offset = self._decode(offset, base)
                v, offset = self._decode(offset, base)
                out[k] = v
            return out, offset
        if kind == 11:  # array
            out = []
            for _ in range(size):
                v, offset = self._decode(offset, base)
                out.append(v)
            return out, offset
        if kind == 14:  # boolean
            return bool(size), offset
        if kind == 15:  # float
            return struct.unpack_from(">f", b, offset)[0], offset + 4
        raise ValueError(f"unsupported MaxMind DB data type {kind} at offset {offset - 1}")


def country_of(rec):
    c = rec.get("country") or rec.get("registered_country") or {}
    if isinstance(c, dict):
        return c.get("iso_code")
    return rec.get("country_code")


def pick_clients(path, per_country_v4=8, per_country_v6=2, seed=11):
    """Client subnets spread over every country the database knows:
    [(country, "a.b.c.0", 24) | (country, "2001:...::", 56)], sorted.

    Per country it keeps up to `per_country_v4` IPv4 /24s and `per_country_v6` IPv6 /56s,
    chosen by reservoir sampling over the country's networks (seeded: the same database
    gives the same clients). IPv4 is read at ::/96 of an IPv6 database; in IPv6 only
    2000::/3 is walked and 2002::/16 (6to4, an alias of IPv4) is skipped."""
    r = Reader(path)
    rng = random.Random(seed)
    visited = bytearray(r.node_count // 8 + 1)
    by_value = {}  # leaf value -> country (records are shared by many networks)
    v4, v6 = {}, {}  # country -> (seen, [networks])

    def country(value):
        if value not in by_value:
            by_value[value] = country_of(r.record(value))
        return by_value[value]

    def keep(table, cc, item, k):
        seen, items = table.get(cc, (0, []))
        seen += 1
        if len(items) < k:
            items.append(item)
        else:
            j = rng.randrange(seen)
            if j < k:
                items[j] = item
        table[cc] = (seen, items)

    if r.ip_version == 6:
        root4 = r.node_at(0, 96, 128)
        if root4 is not None:
            for bits, plen, value in r.walk(root4, 0, 0, 32, 32, visited):
                cc = country(value)
                if cc and plen <= 24:
                    keep(v4, cc, (bits, plen), per_country_v4)
        # 6to4 (2002::/16) points at the IPv4 subtree, whose nodes are now all visited.
        root6 = r.node_at(1 << 125, 3, 128)  # 2000::/3
        if root6 is not None:
            for bits, plen, value in r.walk(root6, 1 << 125, 3, 56, 128, visited):
                if bits >> 112 == 0x2002:
                    continue
                cc = country(value)
                if cc:
                    keep(v6, cc, (bits, plen), per_country_v6)
    else:
        for bits, plen, value in r.walk(0, 0, 0, 32, 32, visited):
            cc = country(value)
            if cc and plen <= 24:
                keep(v4, cc, (bits, plen), per_country_v4)

    out = []
    for cc, (_, nets) in v4.items():
        for bits, plen in nets:
            # a random /24 inside the network
            span = 1 << (24 - plen)
            sub = bits | (rng.randrange(span) << 8)
            out.append((cc, str(ipaddress.IPv4Address(sub)), 24))
    for cc, (_, nets) in v6.items():
        for bits, plen in nets:
            span = 1 << (56 - plen) if plen <= 56 else 1
            sub = bits | (rng.randrange(span) << 72) if plen <= 56 else bits
            out.append((cc, str(ipaddress.IPv6Address(sub)), 56))
    out.sort()
    return out
