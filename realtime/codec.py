"""How frames become bytes on a socket or the bus: compact JSON, Chinese and emoji as-is (UTF-8).

orjson, chosen by measurement (bench/README.md, "Chat pipeline"): it writes the same text as
`json.dumps(frame, ensure_ascii=False, separators=(",", ":"))` for chat frames in a sixth of
the time, as bytes, which Tornado writes as a text frame without encoding them again.
"""
import orjson


def encode(frame):
    """The frame's JSON as UTF-8 bytes (encoded once, written to every recipient)."""
    return orjson.dumps(frame)


decode = orjson.loads


def wire(data):
    """A WebSocket text frame carrying `data` (JSON bytes) as the server sends it: unmasked,
    uncompressed (the product offers no compression), header and payload in one bytes object,
    so one message's frame is built once and the same bytes are written to every socket."""
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    if n <= 0xFFFF:
        return b"\x81\x7e" + n.to_bytes(2, "big") + data
    return b"\x81\x7f" + n.to_bytes(8, "big") + data


def frame_bytes(frame):
    """encode() then wire(): what a socket is written for `frame`."""
    return wire(orjson.dumps(frame))
