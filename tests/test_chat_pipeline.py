"""The chat pipeline's shape: no import circle among the realtime modules, and the WebSocket
frame built once per message is the frame Tornado itself would send."""
import ast
import os

import pytest
import tornado.websocket

from application import ROOT
from realtime.codec import encode, frame_bytes, wire


def _realtime_imports():
    folder = os.path.join(ROOT, "realtime")
    graph = {}
    for name in os.listdir(folder):
        if not name.endswith(".py"):
            continue
        module = "realtime." + name[:-3]
        tree = ast.parse(open(os.path.join(folder, name), encoding="utf-8").read())
        graph[module] = {n.module for n in ast.walk(tree)
                         if isinstance(n, ast.ImportFrom) and n.module
                         and n.module.startswith("realtime.")}
    return graph


def test_the_realtime_modules_import_no_circle():
    graph = _realtime_imports()
    assert "realtime.redis_bus" not in graph["realtime.bus"]
    done, path = set(), []

    def visit(module):
        assert module not in path, "import circle: " + " -> ".join(path + [module])
        if module in done:
            return
        path.append(module)
        for dep in graph.get(module, ()):
            visit(dep)
        path.pop()
        done.add(module)
    for module in graph:
        visit(module)


class _Stream:
    def __init__(self):
        self.out = b""

    def write(self, data):
        self.out += data


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_a_frame_built_once_is_the_frame_tornado_writes(size):
    data = ("字" * (size // 3) + "a" * (size % 3)).encode()
    protocol = tornado.websocket.WebSocketProtocol13.__new__(tornado.websocket.WebSocketProtocol13)
    protocol.stream, protocol.mask_outgoing, protocol._wire_bytes_out = _Stream(), False, 0
    protocol._write_frame(True, 0x1, data)
    assert wire(data) == protocol.stream.out


def test_frame_bytes_is_compact_utf8_json():
    frame = {"fromOpenid": "a", "content": "你好 😀", "seq": 3, "msgId": None}
    assert frame_bytes(frame) == wire(encode(frame))
    assert encode(frame) == '{"fromOpenid":"a","content":"你好 😀","seq":3,"msgId":null}'.encode()
