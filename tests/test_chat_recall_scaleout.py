"""Issue 25 across two processes on one Redis and one database (the rig of test_scaleout.py):
a recall reaches every socket of both parties in both processes, by frame or over REST, and the
result is the same everywhere; a safety notice is shown once per conversation and day whichever
process the messages go through."""
import pytest

from models.chat import SafetyNotice
from tests.chat_helpers import read, send, silent, users
from tests.test_scaleout import process2, redis_server, settings_env, settle  # noqa: F401

YOU = "你撤回了一条消息"
PEER = "对方撤回了一条消息"


async def next_of(ws, kind):
    frame = await read(ws)
    while frame.get("type") != kind:
        frame = await read(ws)
    return frame


@pytest.mark.gen_test(timeout=40)
async def test_a_recall_reaches_both_parties_in_both_processes(api, app, process2):  # noqa: F811
    t = await users(api, "alice", "bob")
    a1 = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    a2 = await process2.api.ws("alice", "bob", t["alice"])  # the sender's v1 page, process 2
    b1 = await api.ws("bob", "alice", t["bob"])  # the original client, process 1
    b2 = await process2.api.ws("bob", "alice", t["bob"], query={"v": "2"})
    await settle()
    await send(a1, toOpenid="bob", content="发错了", msgId="r1")
    assert (await next_of(a1, "ack"))["status"] == "delivered"
    seq = (await next_of(b2, "text"))["seq"]
    for ws in (a2, b1):
        assert (await read(ws))["seq"] == seq
    await send(a1, type="recall", seq=seq)
    assert (await next_of(a1, "recalled"))["content"] == YOU
    got = await read(a2)
    assert (got["type"], got["seq"], got["content"]) == ("recalled", seq, YOU)
    got = await read(b1)
    assert (got["fromOpenid"], got["content"]) == ("alice", PEER)
    got = await next_of(b2, "recalled")
    assert (got["seq"], got["fromOpenid"], got["content"]) == (seq, "alice", PEER)
    # the same answer from either process: history, and a second recall refused on process 2
    for api_ in (api, process2.api):
        history = (await api_.get("/wx/chat/history", t["bob"], peer="alice")).extend["messages"]
        assert [(m["type"], m["content"]) for m in history] == [("recalled", PEER)]
    again = await process2.api.post_json("/wx/chat/recall", {"peer": "bob", "seq": seq},
                                         t["alice"])
    assert (again.status, again.json["msg"]) == (409, "这条消息已经撤回了")
    # over REST on process 2, the frames reach process 1's sockets
    await send(a2, toOpenid="bob", content="又发错了")
    seq2 = (await next_of(b2, "text"))["seq"]
    assert (await read(b1))["seq"] == seq2
    reply = await process2.api.post_json("/wx/chat/recall", {"peer": "bob", "seq": seq2},
                                         t["alice"])
    assert reply.code == 200, reply
    assert (await next_of(a1, "recalled"))["seq"] == seq2
    assert (await read(b1))["content"] == PEER
    assert (await next_of(b2, "recalled"))["seq"] == seq2
    lists = (await process2.api.get("/wx/lt/list", t["bob"], openid="bob")).extend["chatLists"]
    assert (lists[0]["lastContext"], lists[0]["unread"]) == (PEER, 0)


@pytest.mark.gen_test(timeout=40)
async def test_a_safety_notice_is_shown_once_a_day_whichever_process(api, app, process2):  # noqa: F811
    t = await users(api, "alice", "bob")
    a1 = await api.ws("alice", "bob", t["alice"])
    a2 = await process2.api.ws("alice", "bob", t["alice"])
    b1 = await api.ws("bob", "alice", t["bob"])
    b2 = await process2.api.ws("bob", "alice", t["bob"])
    await settle()
    await send(a1, toOpenid="bob", content="先付定金")
    for ws in (b1, b2):  # every socket of the recipient, in both processes: one notice each
        assert (await read(ws))["content"] == "先付定金"
        assert (await read(ws))["kind"] == "safety"
    assert (await read(a2))["content"] == "先付定金"  # the sender's other page: no notice
    await send(a2, toOpenid="bob", content="加我微信")  # through process 2 now
    for ws in (b1, b2):
        assert (await read(ws))["content"] == "加我微信"
        assert await silent(ws, 0.4)
    assert await app.run_db(lambda: SafetyNotice.select().count()) == 1
