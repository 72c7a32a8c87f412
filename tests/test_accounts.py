"""Account deletion and blocking between users (issue 18), over real HTTP and sockets on both
databases: refusals change nothing; deletion wipes the profile, photos (files too), favourites,
grants and notices, takes listings down, keeps what others hold under the placeholder author,
ends every token and socket at once, and a later login is a fresh account; blocks refuse chat
both ways and hide the blocked user's listings and comments from the blocker."""
import json
import os

import jwt
import pytest
from tornado.httpclient import HTTPClientError

from models.account import SessionEpoch, UserBlock
from models.chat import ChatList, ChatMessage
from models.comment import Comment, Notice, Reply
from models.goods import Favourite, Goods, Image as ImageRow
from models.subscription import NotifyGrant
from models.user import DELETED, User
from realtime.control import BLOCKED_TEXT, BLOCKING_TEXT
from services import admin_accounts, blocks
from tests.chat_helpers import read, send, silent, users
from tests.security_helpers import snapshot
from tests.test_admin_pages import PASSWORD, Session
from tests.test_comments import comment, reply
from tests.test_goods import admin_token, approve, listed, publish, roomy_limits  # noqa: F401
from tests.test_images import picture, upload


@pytest.fixture
def settings_env(settings_env):
    """These tests read the server's English texts (the Chinese are tests/test_locale.py's)."""
    settings_env["MARKET_LOCALE_DEFAULT"] = "en_US"
    return settings_env

CONFIRM = {"confirm": "注销"}


async def delete(api, token, body=CONFIRM, openid=None):
    body = dict(body, **({"openid": openid} if openid else {}))
    return await api.post_json("/wx/user/deleteAccount", body, token)


async def refused_handshake(api, me, peer, token, status):
    with pytest.raises(HTTPClientError) as refused:
        await api.ws(me, peer, token)
    assert refused.value.code == status, refused.value


def rows_naming(openid):
    """(table, row) of every row holding `openid` as a whole value, or as "kind:openid" (a
    hot-word searcher, an audit target); on the database executor."""
    return [(table, row) for table, rows in snapshot().items() for row in rows
            if any(v == openid or isinstance(v, str) and v.endswith(":" + openid)
                   for v in row.values())]


async def bob_world(api, app, config):
    """alice and bob with a bit of everything: bob's profile, a student-ID photo, a listing
    (approved, in search) with a comment by alice, a comment and a reply by bob on alice's
    listing, a favourite, a grant, notices both ways, chat both ways."""
    t = await users(api, "alice", "bob")
    assert (await api.post_json("/wx/user/updateUserInfo", {
        "openid": "bob", "school": "理工大学", "xuehao": "2024001", "uclass": "计科1班"},
        t["bob"])).code == 200
    photo = await upload(api, t["bob"], "bob", picture("PNG"), flag=1)
    assert photo.code == 200, photo
    name = photo.extend["imageUrl"].split("/private/")[1].split("?")[0]
    path = os.path.join(config["uploads"]["dir"].rstrip("/") + "-private", name)
    assert os.path.exists(path)
    bob_gid = await publish(api, t["bob"], "bob", goodsName="自行车", goodsTitle="山地车九成新")
    alice_gid = await publish(api, t["alice"], "alice", goodsName="台灯", goodsTitle="护眼台灯")
    await approve(app, bob_gid, alice_gid)
    assert (await api.get("/wx/goods/query", t["bob"], flag="台灯")).code == 200  # a hot-word count
    assert (await comment(api, t["alice"], "alice", bob_gid, "车还在吗")).code == 200
    main = await comment(api, t["bob"], "bob", alice_gid, "台灯多少钱")
    in_id = main.extend["commentsInfo"]["inId"]
    assert (await reply(api, t["alice"], "alice", in_id, "bob", "最低价")).code == 200
    assert (await reply(api, t["bob"], "bob", in_id, "alice", "再便宜点")).code == 200
    assert (await api.post_json("/wx/user/addGoodsToCar", {"openid": "bob", "gid": [alice_gid]},
                                t["bob"])).code == 200
    await app.run_db(lambda: NotifyGrant.create(openid="bob", template_id="t", remaining=2))
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    b = await api.ws("bob", "alice", t["bob"], query={"v": "2"})
    await send(b, toOpenid="alice", content="你好，我是bob", msgId="b1")
    assert (await read(a))["content"] == "你好，我是bob"
    await send(a, toOpenid="bob", content="你好bob", msgId="a1")
    got = await read(b)
    while got.get("type") == "ack":
        got = await read(b)
    assert got["content"] == "你好bob"
    a.close()
    return {"tokens": t, "bob_gid": bob_gid, "alice_gid": alice_gid, "photo": path,
            "sockets": [b]}


# -- deletion -----------------------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_a_deletion_without_the_exact_confirmation_or_for_someone_else_changes_nothing(
        api, app):
    t = await users(api, "alice", "bob")
    before = await app.run_db(snapshot)
    for body, why in (({}, "confirm is required"), ({"confirm": ""}, "exactly"),
                      ({"confirm": "yes"}, "exactly"), ({"confirm": None}, "exactly"),
                      ({"confirm": ["注销"]}, "exactly")):
        r = await delete(api, t["bob"], body)
        assert r.status == 400 and r.code == 100 and why in r.json["msg"], (body, r)
    assert (await delete(api, None)).status == 401
    assert (await delete(api, t["alice"], openid="bob")).status == 403  # alice naming bob
    assert (await api.fetch("POST", "/wx/user/deleteAccount", body=b"[1]")).status in (400, 401)
    assert await app.run_db(snapshot) == before
    assert (await api.get("/wx/user/getUserInfo", t["bob"], openid="bob")).code == 200


@pytest.mark.gen_test(timeout=90)
async def test_deletion_wipes_anonymises_and_a_new_login_is_a_fresh_account(api, app, config):
    w = await bob_world(api, app, config)
    t = w["tokens"]
    ws = w["sockets"][0]
    messages = await app.run_db(lambda: ChatMessage.select().count())
    r = await delete(api, t["bob"])
    assert r.status == 200 and r.code == 200, r
    # the token is dead at once, the socket closed with 4401
    for path in ("/wx/user/getUserInfo", "/wx/lt/list", "/wx/goods/getMyCheckSimGoods"):
        gone = await api.get(path, t["bob"], openid="bob")
        assert gone.status == 401 and gone.code == 100, (path, gone)
    assert await ws.read_message() is None and ws.close_code == 4401
    await refused_handshake(api, "bob", "alice", t["bob"], 401)
    # nothing names bob any more: only the epoch that keeps his old tokens dead
    assert [table for table, _ in await app.run_db(rows_naming, "bob")] == ["SessionEpoch"]
    assert await app.run_db(lambda: SessionEpoch.get_by_id("bob").epoch) == 1
    assert not os.path.exists(w["photo"])
    ghost_row = await app.run_db(lambda: User.get(User.state == DELETED))
    ghost = ghost_row.openid
    assert ghost_row.wxname == "已注销用户" and not ghost_row.school and not ghost_row.xuehao
    counts = await app.run_db(lambda: {
        "id photos": ImageRow.select().where(ImageRow.flag == 1).count(),
        "favourites": Favourite.select().count(), "grants": NotifyGrant.select().count(),
        "notices to bob": Notice.select().where(Notice.openid == ghost).count(),
        "bob's list rows": ChatList.select().where(ChatList.to_openid == ghost).count(),
        "messages": ChatMessage.select().count(),
        "live listings": Goods.select().where(Goods.deleted == False).count()})  # noqa: E712
    assert counts == {"id photos": 0, "favourites": 0, "grants": 0, "notices to bob": 0,
                      "bob's list rows": 0, "messages": messages, "live listings": 1}
    # bob's listing is out of the lists, search and detail; alice's stays
    shown = listed(await api.get("/wx/goods/getSimpleGoods", state=1))
    assert [i["gid"] for i in shown] == [w["alice_gid"]]
    assert (await api.get("/wx/goods/query", flag="自行车")).code == 100
    assert (await api.get("/wx/goods/getDeGoodfwl", gid=w["bob_gid"])).status == 404
    # alice keeps the comments, replies, chat and her list row, under the placeholder
    found = json.loads((await api.get("/wx/pl/getAllComments", gid=w["alice_gid"])).body)
    assert [(c["fromOpenid"], c["fromName"]) for c in found] == [(ghost, "已注销用户")]
    assert {(x["fromName"], x["toName"]) for x in found[0]["commentsReplies"]} == {
        ("已注销用户", "名字-alice"), ("名字-alice", "已注销用户")}
    rows = (await api.get("/wx/lt/list", t["alice"], openid="alice")).extend["chatLists"]
    assert [(x["fromOpenid"], x["fromName"], x["fromHeadimage"]) for x in rows] == [
        (ghost, "已注销用户", "")]
    history = await api.get("/wx/chat/history", t["alice"], openid="alice", peer=ghost)
    assert [m["content"] for m in history.extend["messages"]][-2:] in (
        ["你好，我是bob", "你好bob"], ["你好bob", "你好，我是bob"]), history
    # a chat to the deleted account is refused
    await refused_handshake(api, "alice", ghost, t["alice"], 404)
    # the same openid logs in again: a fresh, empty account; the old token stays dead
    fresh = await api.login("bob", register=False)
    assert jwt.decode(fresh, options={"verify_signature": False})["ep"] == 1
    assert (await api.get("/wx/user/isRegister", fresh, openid="bob")).code == 200  # not yet
    assert (await api.get("/wx/user/getUserDeInfo", fresh, openid="bob")).extend["userDe"] == {
        "school": "", "xuehao": "", "uclass": ""}
    assert (await api.get("/wx/goods/getMyCheckSimGoods", fresh, openid="bob")).code == 100
    assert (await api.get("/wx/user/getFavorites", fresh, openid="bob")).extend["favorites"] == []
    assert (await api.get("/wx/lt/list", fresh, openid="bob")).extend["chatLists"] == []
    assert (await api.get("/wx/lt/getNoticeInfo", fresh, openid="bob", type=0)).extend[
        "info"] == []
    assert (await api.get("/wx/user/getUserInfo", t["bob"], openid="bob")).status == 401
    # audited, under the pseudonym
    audit = await app.run_db(lambda: [(a.actor, a.action, a.target) for a in
                                      __import__("models.admin").admin.AdminAction.select()])
    assert (ghost, "account_delete", "user:" + ghost) in audit
    # deleting again with the fresh account works, and the ghost cannot be deleted or logged into
    assert (await delete(api, fresh)).code == 200
    assert (await api.get("/wx/user/devLogin", openid=ghost)).status == 404  # never a login
    assert await app.run_db(lambda: User.select().where(User.state == DELETED).count()) == 2


@pytest.mark.gen_test(timeout=60)
async def test_admin_pages_show_deleted_accounts_and_block_counts_only(api, app, config):
    t = await users(api, "alice", "bob", "carol")
    for who in ("alice", "carol"):
        assert (await api.post_json("/wx/user/block", {"openid": "bob"}, t[who])).code == 200
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    s = Session(api)
    await s.sign_in()
    page = (await s.get("/admin/users/bob")).body.decode()
    assert "2 users" in page and "0 users" in page  # blocked by 2, blocking 0
    assert "alice" not in page and "carol" not in page  # never who blocked whom
    dashboard = (await s.get("/admin/")).body.decode()
    assert "<b>2</b> blocks between users (2 users blocking)" in dashboard
    assert (await delete(api, t["bob"])).code == 200
    ghost = await app.run_db(lambda: User.get(User.state == DELETED).openid)
    listing = (await s.get("/admin/users", q="deleted-")).body.decode()
    assert ghost in listing and "deleted" in listing and "已注销用户" in listing
    page = (await s.get("/admin/users/" + ghost)).body.decode()
    assert "deleted" in page and "This account was deleted by its owner" in page
    assert "account_delete" in page
    # nothing left to moderate; the mini-program's admin list (states 1, 2, 3, 10) omits it
    admin = admin_token(config)
    r = await api.get("/wx/admin/userCheck", admin, openid=ghost, state=10, reason="x")
    assert r.status == 400 and r.code == 100, r
    listed_users = (await api.get("/wx/admin/getAllUserSimInfo", admin)).extend
    assert sorted(u["openid"] for u in listed_users.values()) == ["alice", "carol"]
    assert await app.run_db(lambda: User.get(User.openid == ghost).state) == DELETED


# -- blocking -----------------------------------------------------------------------------------
async def block(api, token, other, undo=False, **extra):
    return await api.post_json("/wx/user/unblock" if undo else "/wx/user/block",
                               dict({"openid": other}, **extra), token)


@pytest.mark.gen_test(timeout=60)
async def test_block_refusals_idempotence_list_and_limit(api, app, monkeypatch):
    t = await users(api, "alice", "bob", "carol", "dave")
    before = await app.run_db(snapshot)
    for body, status in (({}, 400), ({"openid": "alice"}, 400), ({"openid": "nobody"}, 404),
                         ({"openid": "bad id!"}, 400), ({"openid": 5}, 400),
                         ({"openid": "bob", "myOpenid": "carol"}, 403)):
        r = await api.post_json("/wx/user/block", body, t["alice"])
        assert r.status == status and r.code == 100, (body, r)
    assert (await api.post_json("/wx/user/block", {"openid": "bob"})).status == 401
    assert await app.run_db(snapshot) == before
    assert (await block(api, t["alice"], "bob")).extend == {"changed": True}
    assert (await block(api, t["alice"], "bob")).extend == {"changed": False}
    assert (await block(api, t["alice"], "carol", myOpenid="alice")).code == 200
    mine = (await api.get("/wx/user/blocked", t["alice"])).extend["blocked"]
    assert [(b["openid"], b["wxname"]) for b in mine] == [("carol", "名字-carol"),
                                                          ("bob", "名字-bob")]
    assert (await api.get("/wx/user/blocked", t["bob"])).extend["blocked"] == []
    assert (await api.get("/wx/user/blocked", t["bob"], openid="alice")).status == 403
    monkeypatch.setattr(blocks, "MAX_BLOCKS", 2)
    full = await block(api, t["alice"], "dave")
    assert full.status == 429 and full.code == 100, full
    assert (await block(api, t["alice"], "carol", undo=True)).extend == {"changed": True}
    assert (await block(api, t["alice"], "carol", undo=True)).extend == {"changed": False}
    assert (await block(api, t["alice"], "dave")).code == 200
    assert await app.run_db(lambda: sorted(b.blocked for b in UserBlock.select())) == [
        "bob", "dave"]


async def _refusal(ws):
    frame = await read(ws)
    while frame.get("type") == "ack":
        frame = await read(ws)
    return frame


@pytest.mark.gen_test(timeout=60)
async def test_blocked_chat_is_refused_both_ways_with_a_bubble_until_unblocked(api, app):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])  # the original client (v1)
    b = await api.ws("bob", "alice", t["bob"])
    b2 = await api.ws("bob", "alice", t["bob"], query={"v": "2"})
    await send(b, fromOpenid="bob", toOpenid="alice", content="before")
    assert (await read(a))["content"] == "before"
    assert (await read(b2))["content"] == "before"  # the sender's other device
    assert (await block(api, t["alice"], "bob")).code == 200
    await send(b, fromOpenid="bob", toOpenid="alice", content="after the block")
    bubble = await read(b)
    assert bubble["fromOpenid"] == "system" and bubble["content"] == BLOCKED_TEXT  # v1 shows it
    await send(b2, toOpenid="alice", content="from v2", msgId="m2")
    refused = await _refusal(b2)
    assert (refused["type"], refused["code"], refused["msgId"]) == ("error", "blocked", "m2")
    await send(a, fromOpenid="alice", toOpenid="bob", content="alice to bob")
    mine = await read(a)
    assert mine["fromOpenid"] == "system" and mine["content"] == BLOCKING_TEXT
    assert await silent(a) and await silent(b) and await silent(b2, 0.1)
    stored = await app.run_db(lambda: [m.content for m in ChatMessage.select()])
    assert stored == ["before"]
    # a socket opened after the block (the relay path, nothing cached) is refused too
    app.control.blocks.clear()
    b3 = await api.ws("bob", "alice", t["bob"])
    assert (await read(b3))["content"] == "before"  # the conversation's replay
    await send(b3, fromOpenid="bob", toOpenid="alice", content="fresh socket")
    assert (await read(b3))["content"] == BLOCKED_TEXT
    assert (await block(api, t["alice"], "bob", undo=True)).code == 200
    await send(b, fromOpenid="bob", toOpenid="alice", content="unblocked")
    assert (await read(a))["content"] == "unblocked"


@pytest.mark.gen_test(timeout=60)
async def test_the_blocker_sees_no_listing_or_comment_of_the_blocked(api, app):
    t = await users(api, "alice", "bob", "carol")
    bob_gids = [await publish(api, t["bob"], "bob", goodsName="耳机", goodsTitle="蓝牙耳机%d" % i,
                              goodsPriceNew="0", goodsPriceOld="0") for i in range(2)]
    carol_gid = await publish(api, t["carol"], "carol", goodsName="耳机", goodsTitle="有线耳机")
    await approve(app, carol_gid, *bob_gids)
    assert (await comment(api, t["bob"], "bob", carol_gid, "bob 的评论")).code == 200
    main = await comment(api, t["carol"], "carol", carol_gid, "carol 的评论")
    in_id = main.extend["commentsInfo"]["inId"]
    assert (await reply(api, t["bob"], "bob", in_id, "carol", "bob 的回复")).code == 200
    assert (await api.post_json("/wx/user/addGoodsToCar", {"openid": "alice",
                                "gid": [bob_gids[0], carol_gid]}, t["alice"])).code == 200

    async def seen(token):
        lists = {
            "approved": await api.get("/wx/goods/getSimpleGoods", token, state=1),
            "free": await api.get("/wx/goods/getSimFrGoods", token),
            "search": await api.get("/wx/goods/query", token, flag="耳机"),
            "bob's page": await api.get("/wx/goods/getAllSimpleGoods", token, openid="bob"),
        }
        out = {k: sorted(i["gid"] for i in (r.extend or {}).values()) for k, r in lists.items()}
        fav = await api.get("/wx/user/getMyCarSimpleInfo", t["alice"], openid="alice")
        out["favourites"] = sorted(i["gid"] for i in fav.extend.values())
        found = json.loads((await api.get("/wx/pl/getAllComments", token, gid=carol_gid)).body)
        out["comments"] = sorted(c["content"] for c in found)
        out["replies"] = [x["content"] for c in found for x in c["commentsReplies"]]
        one = await api.get("/wx/pl/getMainAllSonCom", token, inId=in_id)
        out["thread"] = [x["content"] for x in one.extend["commentsInfo"]["commentsReplies"]]
        return out, lists

    everything = {"approved": sorted(bob_gids + [carol_gid]), "free": sorted(bob_gids),
                  "search": sorted(bob_gids + [carol_gid]), "bob's page": sorted(bob_gids),
                  "favourites": sorted([bob_gids[0], carol_gid]),
                  "comments": ["bob 的评论", "carol 的评论"], "replies": ["bob 的回复"],
                  "thread": ["bob 的回复"]}
    assert (await seen(t["alice"]))[0] == everything
    assert (await block(api, t["alice"], "bob")).code == 200
    hidden, lists = await seen(t["alice"])
    assert hidden == {"approved": [carol_gid], "free": [], "search": [carol_gid],
                      "bob's page": [], "favourites": [carol_gid],
                      "comments": ["carol 的评论"], "replies": [], "thread": []}
    # the blocked owners are left out in the query: an empty first page is truly the end
    assert lists["free"].code == 100 and lists["bob's page"].code == 100
    bob_comment = await app.run_db(lambda: Comment.get(Comment.from_openid == "bob").in_id)
    assert (await api.get("/wx/pl/getMainAllSonCom", t["alice"], inId=bob_comment)).status == 404
    # one way only, and only for the blocker: anonymous, carol and bob see as before
    assert (await seen(None))[0]["approved"] == everything["approved"]
    assert (await seen(t["carol"]))[0]["comments"] == everything["comments"]
    assert (await seen(t["bob"]))[0]["search"] == everything["search"]
    assert (await block(api, t["alice"], "bob", undo=True)).code == 200
    assert (await seen(t["alice"]))[0] == everything


@pytest.mark.gen_test(timeout=30)
async def test_published_client_login_tokens_are_unchanged(api, app, config):
    """A user who never deleted an account gets the same token claims as before (no `ep`)."""
    token = await api.login("alice", register=False)
    claims = jwt.decode(token, config["auth"]["token_secret"], algorithms=["HS256"],
                        issuer="market")
    assert set(claims) == {"sub", "role", "iat", "exp", "iss"}
    assert await app.run_db(lambda: Reply.select().count()) == 0


def test_a_cached_answer_read_before_an_announcement_is_not_kept():
    """The race every process has: a database read that began before a change's announcement
    may hold the old value; it must not be cached over the announcement."""
    import time
    from realtime.control import MISSING, AnnouncedCache
    cache = AnnouncedCache(60)
    asked = time.monotonic()
    cache.invalidate("bob")  # the announcement arrives while the read is under way
    cache.put("bob", "old", asked)
    assert cache.get("bob") is MISSING
    cache.put("bob", "new", time.monotonic())
    assert cache.get("bob") == "new"
    asked = time.monotonic()
    cache.clear()  # a resubscription: every read under way is as stale
    cache.put("bob", "old", asked)
    assert cache.get("bob") is MISSING
    short = AnnouncedCache(0.0)
    short.put("bob", "kept", time.monotonic())
    again = []
    assert short.get("bob") is MISSING  # expired for a request that can wait for the database
    assert short.get("bob", again.append) == "kept" and again == ["bob"]  # the chat's fast path
