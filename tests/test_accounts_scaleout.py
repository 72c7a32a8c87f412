"""Account deletion and blocks hold in every process: two servers on one database and one
Redis (tests/test_scaleout.py's setup), each with its caches warm before the change."""
import asyncio

import pytest
from tornado.httpclient import HTTPClientError

from realtime.control import BLOCKED_TEXT
from tests.chat_helpers import read, send, users
from tests.test_scaleout import process2, redis_server  # noqa: F401
from tests.test_scaleout import redis_env


@pytest.fixture
def settings_env(settings_env, redis_server):
    """tests/test_scaleout.py's Redis setup; both processes speak English here: the bubbles are
    compared with realtime/control's English texts (their Chinese is tests/test_locale.py's)."""
    env = redis_env(settings_env, redis_server)
    env["MARKET_LOCALE_DEFAULT"] = "en_US"
    return env


async def until(check, seconds=2.0):
    """Poll `check()` (async) until true; the time it took, or fail after `seconds`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await check():
        assert loop.time() - start < seconds, "not within %.1f s" % seconds
        await asyncio.sleep(0.02)
    return loop.time() - start


@pytest.mark.gen_test(timeout=60)
async def test_deletion_ends_tokens_and_sockets_in_both_processes(api, app, process2):
    t = await users(api, "alice", "bob")
    p1 = await api.ws("bob", "alice", t["bob"])
    p2 = await process2.api.ws("bob", "alice", t["bob"])
    await settle()
    for server in (api, process2.api):  # both processes have bob's epoch cached now
        assert (await server.get("/wx/user/getUserInfo", t["bob"], openid="bob")).code == 200
    reply = await api.post_json("/wx/user/deleteAccount", {"confirm": "注销"}, t["bob"])
    assert reply.code == 200, reply

    async def refused_on_2():
        r = await process2.api.get("/wx/user/getUserInfo", t["bob"], openid="bob")
        return r.status == 401
    took = await until(refused_on_2, 1.0)  # the announcement, not the cache's 10 s lifetime
    assert took < 1.0
    assert (await api.get("/wx/user/getUserInfo", t["bob"], openid="bob")).status == 401
    for ws in (p1, p2):
        assert await asyncio.wait_for(ws.read_message(), 2) is None and ws.close_code == 4401
    with pytest.raises(HTTPClientError) as refused:
        await process2.api.ws("bob", "alice", t["bob"])
    assert refused.value.code == 401
    # a fresh login on process 2 is a fresh account, its token good on both
    fresh = await process2.api.login("bob", register=False)
    for server in (api, process2.api):
        r = await server.get("/wx/user/getUserDeInfo", fresh, openid="bob")
        assert r.code == 200 and r.extend["userDe"]["school"] == ""


@pytest.mark.gen_test(timeout=60)
async def test_a_block_made_on_one_process_refuses_chat_accepted_on_the_other(api, app,
                                                                              process2):
    t = await users(api, "alice", "bob")
    a = await process2.api.ws("alice", "bob", t["alice"])
    b = await api.ws("bob", "alice", t["bob"])
    await settle()
    await send(b, fromOpenid="bob", toOpenid="alice", content="before")  # caches: not blocked
    assert (await read(a))["content"] == "before"
    assert (await process2.api.post_json("/wx/user/block", {"openid": "bob"},
                                         t["alice"])).code == 200
    await asyncio.sleep(0.1)  # the announcement crosses Redis
    await send(b, fromOpenid="bob", toOpenid="alice", content="after")
    bubble = await read(b)
    assert bubble["fromOpenid"] == "system" and bubble["content"] == BLOCKED_TEXT
    # the unblock reaches process 1 too (its cache of alice's set, now warm, is dropped)
    assert (await process2.api.post_json("/wx/user/unblock", {"openid": "bob"},
                                         t["alice"])).code == 200
    await asyncio.sleep(0.1)
    await send(b, fromOpenid="bob", toOpenid="alice", content="again")
    assert (await read(a))["content"] == "again"


async def settle(seconds=0.3):
    await asyncio.sleep(seconds)
