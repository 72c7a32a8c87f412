"""Small helpers for chat tests: read a frame with a timeout, assert silence, open a logged-in pair."""
import asyncio
import json


async def read(ws, timeout=3):
    """The next frame as a dict (None when the socket closed); fails the test on timeout."""
    message = await asyncio.wait_for(ws.read_message(), timeout)
    return None if message is None else json.loads(message)


async def silent(ws, seconds=0.3):
    """True when nothing arrives within `seconds`."""
    try:
        message = await asyncio.wait_for(ws.read_message(), seconds)
    except asyncio.TimeoutError:
        return True
    raise AssertionError("unexpected frame: %r" % (message,))


def send(ws, **frame):
    return ws.write_message(json.dumps(frame, ensure_ascii=False))


async def users(api, *openids):
    """Log each user in (registered with a name); returns {openid: token}."""
    return {o: await api.login(o, wxname="名字-" + o) for o in openids}
