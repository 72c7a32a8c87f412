"""The bare reference server: `python -m bench.bare PORT`.

- /wx/{from}/{to}: a Tornado WebSocketHandler that forwards every frame, as received, to the
  socket registered for {to}. No authentication, no JSON, no database.
- /static.json: Tornado answering a fixed JSON body (the REST reference), about the size of a
  page of the approved-goods list.
"""
import asyncio
import os
import json
import signal
import sys

import tornado.web
import tornado.websocket

SOCKETS = {}
BODY = json.dumps({"code": 200, "msg": "success", "extend": {
    str(i): {"gid": 100000 - i, "goodsName": "二手自行车 %d" % i, "goodsTitle": "九成新，校内自提",
             "goodsDec": "用了一个学期，功能完好，价格可小刀。" * 2, "goodsPriceNew": 120.0,
             "goodsPriceOld": 480.0, "homeImage": ""} for i in range(10)}},
    ensure_ascii=False).encode()


class Relay(tornado.websocket.WebSocketHandler):
    def open(self, me, peer):
        self.set_nodelay(True)
        self.me, self.peer = me, peer
        SOCKETS[me] = self

    def on_message(self, message):
        other = SOCKETS.get(self.peer)
        if other is not None:
            other.write_message(message)

    def on_close(self):
        if SOCKETS.get(self.me) is self:
            del SOCKETS[self.me]


class Static(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(BODY)


async def main(port):
    app = tornado.web.Application([(r"/static.json", Static), (r"/wx/([^/]+)/([^/]+)", Relay)])
    app.listen(port, "127.0.0.1")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


if __name__ == "__main__":
    # on the event loop the product runs on (server.event_loop, default asyncio), so the ratio
    # compares the two servers' own work
    if os.environ.get("MARKET_SERVER_EVENT_LOOP", "asyncio") == "uvloop":
        import uvloop
        uvloop.run(main(int(sys.argv[1])))
    else:
        asyncio.run(main(int(sys.argv[1])))
