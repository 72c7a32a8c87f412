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
