#!/usr/bin/env python3
"""gen_msgpack.py: write <type>.msgpack from <type>.json for every fixture.

An implementation of the wire format independent of the C codec (no
msgpack library either), so that the golden bytes check the codec rather
than mirror it. Run it only when the wire format changes on purpose, and
review the diff of the .msgpack files: the tests fail on any byte change.

    tests/data/protocol/gen_msgpack.py          # rewrite all fixtures
    tests/data/protocol/gen_msgpack.py --check  # exit 1 if any differs

Rules (protocol/README.md): envelope {"v": 1, "t": type, "d": d} in that
order; keys in the JSON file's order (= the field tables' order); integers
in their smallest msgpack form; every JSON real as float64; the event's
"ts" ISO-8601 string as unix milliseconds.
"""
import datetime
import json
import pathlib
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent
TYPES = ["finding", "task", "task_update", "scan_request", "scan_progress",
         "scan_done", "event", "command", "reply", "metric_sample",
         "agent_output", "alert"]


def pack_int(v):
    if v >= 0:
        if v < 0x80:
            return bytes([v])
        for code, fmt, lim in ((0xcc, ">B", 1 << 8), (0xcd, ">H", 1 << 16),
                               (0xce, ">I", 1 << 32), (0xcf, ">Q", 1 << 64)):
            if v < lim:
                return bytes([code]) + struct.pack(fmt, v)
    if v >= -32:
        return struct.pack(">b", v)
    for code, fmt, lim in ((0xd0, ">b", 1 << 7), (0xd1, ">h", 1 << 15),
                           (0xd2, ">i", 1 << 31), (0xd3, ">q", 1 << 63)):
        if v >= -lim:
            return bytes([code]) + struct.pack(fmt, v)
    raise ValueError(v)


def pack_len(n, fix, fixmax, codes):
    if n <= fixmax:
        return bytes([fix | n])
    for code, fmt, lim in codes:
        if code is not None and n < lim:
            return bytes([code]) + struct.pack(fmt, n)
    raise ValueError(n)


def pack(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        return pack_int(v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode("utf-8")
        return pack_len(len(b), 0xa0, 31, ((0xd9, ">B", 1 << 8),
                        (0xda, ">H", 1 << 16), (0xdb, ">I", 1 << 32))) + b
    if isinstance(v, list):
        return pack_len(len(v), 0x90, 15, ((0xdc, ">H", 1 << 16),
                        (0xdd, ">I", 1 << 32))) + b"".join(map(pack, v))
    if isinstance(v, dict):
        out = pack_len(len(v), 0x80, 15, ((0xde, ">H", 1 << 16),
                       (0xdf, ">I", 1 << 32)))
        return out + b"".join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError(type(v))


def iso_to_ms(s):
    t = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    t = t.replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 1000 + t.microsecond // 1000


def main():
    check = "--check" in sys.argv[1:]
    bad = 0
    for t in TYPES:
        d = json.loads((HERE / f"{t}.json").read_text(encoding="utf-8"))
        if t == "event":
            d["ts"] = iso_to_ms(d["ts"])
        data = pack({"v": 1, "t": t, "d": d})
        path = HERE / f"{t}.msgpack"
        if check:
            if not path.exists() or path.read_bytes() != data:
                print(f"{path.name}: differs", file=sys.stderr)
                bad = 1
        else:
            path.write_bytes(data)
    return bad


if __name__ == "__main__":
    sys.exit(main())
