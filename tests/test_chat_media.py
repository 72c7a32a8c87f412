"""Issue 16 item 7: image and goods messages for newer clients. An image message carries only a
picture its sender uploaded for chat (flag=3), shown through signed expiring URLs given to the
two parties; any other URL is refused. A goods message carries a gid and arrives with the
listing's card. Real server, real sockets, both databases."""
import asyncio
import json
import re
import urllib.parse

import pytest

from models.chat import ChatMessage
from models.goods import CHAT_IMAGE, Goods, Image
from models.wechat import MediaCheck
from services import chat
from tests import chat_helpers
from tests.chat_helpers import read, send, silent, users
from tests.test_goods import approve, publish
from tests.test_images import picture, upload
from tests.test_trust import CALLBACK_TOKEN, signed


async def acked(ws):
    frame = await read(ws)
    while frame.get("type") not in ("ack", "error"):
        frame = await read(ws)
    return frame


async def chat_picture(api, token, openid):
    reply = await upload(api, token, openid, picture("PNG", (64, 48)), flag=3,
                         filename="p.png", ctype="image/png")
    assert reply.status == 200 and reply.code == 200, reply
    return reply.extend


def path_of(url):
    parts = urllib.parse.urlsplit(url)
    return parts.path + "?" + parts.query


async def stored_rows(app, a, b):
    return await app.run_db(lambda: [(m.type, m.content) for m in
                                     ChatMessage.of_pair(a, b).order_by(ChatMessage.seq)])


@pytest.mark.gen_test(timeout=60)
async def test_an_image_message_reaches_the_peer_as_a_signed_url_and_reopens(api, app):
    t = await users(api, "alice", "bob", "carol")
    up = await chat_picture(api, t["alice"], "alice")
    assert re.match(r"^[0-9a-f]{32}\.png$", up["name"])
    assert "/wx/images/private/" + up["name"] in up["imageUrl"] and "&s=" in up["imageUrl"]
    row = await app.run_db(lambda: Image.get(Image.url == up["name"]))
    assert row.flag == CHAT_IMAGE and row.openid == "alice" and row.thumb
    # not a public upload: /uploads/ does not serve it, unsigned it is refused
    assert (await api.fetch("GET", "/uploads/" + up["name"])).status == 404
    assert (await api.fetch("GET", "/wx/images/private/" + up["name"])).status == 403

    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    b = await api.ws("bob", "alice", t["bob"], query={"v": "2"})
    await send(a, toOpenid="bob", type="image", content=up["imageUrl"], msgId="img-1")
    assert (await acked(a))["status"] == "delivered"
    got = await read(b)
    assert got["type"] == "image" and got["fromOpenid"] == "alice" and got["seq"]
    assert "/wx/images/private/" + up["name"] in got["content"] and got["thumbUrl"]
    fetched = await api.fetch("GET", path_of(got["content"]))
    assert fetched.status == 200 and fetched.headers["Content-Type"] == "image/png"
    assert fetched.headers["Cache-Control"] == "private, no-store"
    thumb = await api.fetch("GET", path_of(got["thumbUrl"]))
    assert thumb.status == 200
    assert await stored_rows(app, "alice", "bob") == [("image", up["name"])]  # by name, not URL
    # the conversation list says what it is, not a URL
    lists = await api.get("/wx/lt/list", t["bob"], openid="bob")
    assert lists.extend["chatLists"][0]["lastContext"] == "[图片]"
    # reopened, the page draws it again with a fresh signed URL; the history endpoint too
    b.close()
    again = await api.ws("bob", "alice", t["bob"])
    shown = await read(again)
    assert shown["type"] == "image" and "&s=" in shown["content"]
    assert (await api.fetch("GET", path_of(shown["content"]))).status == 200
    page = await api.get("/wx/chat/history", t["bob"], openid="bob", peer="alice")
    assert page.extend["messages"][0]["content"].split("?")[0] == got["content"].split("?")[0]
    # carol has no URL for it; a tampered signature or a forged expiry is refused
    bad = path_of(got["content"]).replace("&s=", "&s=0")
    assert (await api.fetch("GET", bad)).status == 403
    later = re.sub(r"e=\d+", "e=9999999999", path_of(got["content"]))
    assert (await api.fetch("GET", later)).status == 403


@pytest.mark.gen_test(timeout=60)
async def test_an_image_message_with_any_other_picture_or_url_is_refused_and_not_stored(api, app):
    t = await users(api, "alice", "bob", "carol")
    carols = await chat_picture(api, t["carol"], "carol")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    b = await api.ws("bob", "alice", t["bob"])
    refused = ["https://tracker.example/pixel.gif?u=alice",  # a tracking pixel
               "/uploads/" + "a" * 32 + ".jpg",  # a public path
               carols["name"],  # someone else's picture
               carols["imageUrl"],
               "b" * 32 + ".png",  # no such picture
               "javascript:alert(1)"]
    for i, content in enumerate(refused):
        await send(a, toOpenid="bob", type="image", content=content, msgId="x%d" % i)
        frame = await acked(a)
        assert frame["type"] == "error" and frame["code"] == "bad_image", (content, frame)
        assert frame["msgId"] == "x%d" % i and frame["fromOpenid"] == "system"
    assert await silent(b)
    assert await stored_rows(app, "alice", "bob") == []


@pytest.mark.gen_test(timeout=60)
async def test_a_goods_message_arrives_with_the_listing_card(api, app):
    t = await users(api, "alice", "bob")
    gid = await publish(api, t["bob"], "bob", goodsTitle="九成新山地车", goodsPriceNew="180")
    reply = await upload(api, t["bob"], "bob", picture("JPEG", (80, 60)))
    assert reply.code == 200, reply
    await approve(app, gid)  # after its photo (a new photo sends a listing back to review)
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    b = await api.ws("bob", "alice", t["bob"], query={"v": "2"})
    await send(a, toOpenid="bob", type="goods", content=str(gid), msgId="g-1")
    assert (await acked(a))["status"] == "delivered"
    got = await read(b)
    assert got["type"] == "goods" and got["content"] == str(gid)
    card = got["goods"]
    assert card["gid"] == gid and card["title"] == "九成新山地车" and card["available"]
    assert float(card["price"]) == 180 and card["thumbUrl"].endswith(".jpg")
    for content in ("0", "abc", str(gid + 1000), "1 OR 1=1", "-%d" % gid):
        await send(a, toOpenid="bob", type="goods", content=content, msgId="bad-" + content)
        frame = await acked(a)
        assert frame["type"] == "error" and frame["code"] == "bad_goods", (content, frame)
    assert await silent(b)
    assert await stored_rows(app, "alice", "bob") == [("goods", str(gid))]
    lists = await api.get("/wx/lt/list", t["bob"], openid="bob")
    assert lists.extend["chatLists"][0]["lastContext"] == "[商品]"
    # a listing taken down later shows nothing of itself in the replayed card
    await app.run_db(lambda: Goods.update(hidden=True).where(Goods.gid == gid).execute())
    b.close()
    again = await api.ws("bob", "alice", t["bob"])
    shown = await read(again)
    assert shown["type"] == "goods" and shown["goods"] == {
        "gid": gid, "title": "", "price": "", "thumbUrl": "", "available": False}


@pytest.mark.gen_test(timeout=60)
async def test_the_original_client_sending_text_is_unchanged(api, app):
    """No type, no msgId: stored and relayed as text, as the contract says."""
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    b = await api.ws("bob", "alice", t["bob"])
    await a.write_message(json.dumps({"fromOpenid": "alice", "toOpenid": "bob",
                                      "content": "https://example.com/x.png"}))
    got = await read(b)
    assert got["content"] == "https://example.com/x.png" and got["type"] == "text"
    assert await silent(a)  # no ack for the original client


class TestWithChatModeration:
    @pytest.fixture
    def settings_env(self, settings_env):
        settings_env.update(MARKET_MODERATION_ENABLED="true", MARKET_MODERATION_CHAT="true",
                            MARKET_MODERATION_CALLBACK_TOKEN=CALLBACK_TOKEN)
        return settings_env

    @pytest.mark.gen_test(timeout=60)
    async def test_a_chat_picture_is_checked_and_a_risky_one_stops_being_served(self, api, app,
                                                                               wechat):
        t = await users(api, "alice", "bob")
        up = await chat_picture(api, t["alice"], "alice")
        def mine():
            return [c for c in wechat.media_checks if up["name"] in c["media_url"]]
        for _ in range(100):
            if mine():
                break
            await asyncio.sleep(0.02)
        check, = mine()
        assert check["openid"] == "alice" and check["scene"] == 4  # social
        assert (await api.fetch("GET", path_of(check["media_url"]))).status == 200  # WeChat can fetch
        image = await app.run_db(lambda: Image.get(Image.url == up["name"]))
        row = await app.run_db(lambda: MediaCheck.get(MediaCheck.image_id == image.id))
        trace = row.trace_id
        event = {"ToUserName": "gh_x", "FromUserName": "o_wechat", "CreateTime": 1700000000,
                 "MsgType": "event", "Event": "wxa_media_check", "appid": "wx-server-appid",
                 "trace_id": trace, "version": 2, "errcode": 0, "errmsg": "ok",
                 "result": {"suggest": "risky", "label": 20001}}
        ok = await api.fetch("POST", "/wx/wechat/callback", signed(),
                             body=json.dumps(event).encode())
        assert ok.status == 200
        assert (await api.fetch("GET", path_of(up["imageUrl"]))).status == 404
        a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
        await send(a, toOpenid="bob", type="image", content=up["name"], msgId="held")
        assert (await acked(a))["code"] == "bad_image"
        assert await app.run_db(chat_helpers.unreceived, "bob", "alice") == []


@pytest.mark.gen_test(timeout=60)
async def test_the_purge_removes_only_what_is_older_than_the_retention(api, app, config):
    """chat.history_days: old messages and old chat pictures (rows and files) go, in batches;
    newer ones stay and still replay."""
    import datetime
    import os
    from models import utcnow
    from realtime.retention import ChatRetention
    from services import images
    t = await users(api, "alice", "bob")
    up = await chat_picture(api, t["alice"], "alice")
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    await send(a, toOpenid="bob", type="image", content=up["name"], msgId="pic")
    assert (await acked(a))["status"] == "stored"
    for i in range(7):
        await send(a, toOpenid="bob", content="m%d" % i, msgId="m%d" % i)
        await acked(a)
    old = utcnow() - datetime.timedelta(days=config["chat"]["history_days"] + 1)
    seqs = await app.run_db(lambda: [m.seq for m in ChatMessage.select().order_by(ChatMessage.seq)])
    assert len(seqs) == 3  # the picture and two texts; the offline cap refused the rest

    def age():  # the picture and the first text are from last year
        ChatMessage.update(send_time=old).where(ChatMessage.seq.in_(seqs[:2])).execute()
        Image.update(created_at=old).where(Image.url == up["name"]).execute()
    await app.run_db(age)
    private = images.folders(config)[1]
    thumb = (await app.run_db(lambda: Image.get(Image.url == up["name"]))).thumb
    assert os.path.exists(os.path.join(private, up["name"]))
    retention = ChatRetention(app.run_db, config["chat"]["history_days"], private, batch=2,
                              pause=0)
    assert await retention.purge() == (2, 1)
    left = await app.run_db(lambda: [m.seq for m in ChatMessage.select().order_by(ChatMessage.seq)])
    assert left == seqs[2:]
    assert not os.path.exists(os.path.join(private, up["name"]))
    assert not os.path.exists(os.path.join(private, thumb))
    assert await app.run_db(lambda: Image.select().where(Image.url == up["name"]).count()) == 0
    assert await retention.purge() == (0, 0)
    b = await api.ws("bob", "alice", t["bob"])
    assert (await read(b))["content"] == "m1"  # what is left still replays


class TestCardsFollowTheDetail:
    @pytest.fixture
    def settings_env(self, settings_env):
        settings_env.update(MARKET_LIMITS_PUBLISH_PER_MINUTE_USER="1000")
        return settings_env

    @pytest.mark.gen_test(timeout=90)
    async def test_a_goods_card_shows_only_what_the_detail_shows_the_reader(self, api, app):
        """Issue 23: a goods card showed the title and price of a pending or rejected listing, and
        of a blocked seller's, while the detail call answered 404 to the same reader. Each card now
        follows the detail's rule (Goods.shown()); a listing the reader may not read is an empty,
        unavailable card, and naming another's unreviewed listing is refused like a missing one."""
        t = await users(api, "alice", "bob", "carol")
        gids = {}
        for name in ("approved", "pending", "rejected", "held", "taken down", "sold"):
            gids[name] = await publish(api, t["bob"], "bob", goodsTitle="bob " + name)
        gids["blocked seller"] = await publish(api, t["carol"], "carol", goodsTitle="carol")
        await approve(app, *gids.values())
        online = [await api.ws("alice", peer, t["alice"], query={"v": "2"})
                  for peer in ("bob", "carol")]  # alice reads live (no offline cap)
        b = await api.ws("bob", "alice", t["bob"], query={"v": "2"})
        c = await api.ws("carol", "alice", t["carol"], query={"v": "2"})
        for name, gid in gids.items():
            ws = c if name == "blocked seller" else b
            await send(ws, toOpenid="alice", type="goods", content=str(gid), msgId="g-%d" % gid)
            got = await acked(ws)
            assert got["type"] == "ack", got
        changes = {"pending": {"state": 0}, "rejected": {"state": 2}, "held": {"hidden": True},
                   "taken down": {"deleted": True}, "sold": {"sale_state": 2}}
        for name, values in changes.items():
            await app.run_db(lambda: Goods.update(**values).where(
                Goods.gid == gids[name]).execute())
        from tests.test_goods import set_user_state
        await set_user_state(app, "carol", 10)  # a moderator blocked carol
        cards = {}
        for peer in ("bob", "carol"):
            history = await api.get("/wx/chat/history", t["alice"], openid="alice", peer=peer)
            assert history.code == 200, history
            cards.update({m["goods"]["gid"]: m["goods"] for m in history.extend["messages"]})
        replayed = await api.ws("alice", "bob", t["alice"], query={"v": "2", "since": "0"})
        for _ in range(len(gids) - 1):
            frame = await read(replayed)
            assert frame["goods"] == cards[frame["goods"]["gid"]], frame
        for name, gid in gids.items():
            detail = await api.get("/wx/goods/getDeGoodfwl", t["alice"], gid=gid)
            shown = detail.code == 200
            assert shown == (name in ("approved", "sold")), (name, detail)
            assert cards[gid]["available"] is shown, (name, cards[gid])
            if not shown:
                assert cards[gid] == {"gid": gid, "title": "", "price": "", "thumbUrl": "",
                                      "available": False}, name
            else:
                assert cards[gid]["title"] == "bob " + name
        # naming another's unreviewed listing is refused as a missing one is (no enumeration)
        a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
        for gid in (gids["pending"], gids["rejected"], gids["taken down"], 999999):
            await send(a, toOpenid="bob", type="goods", content=str(gid), msgId="x-%d" % gid)
            frame = await acked(a)
            assert frame["type"] == "error" and frame["code"] == "bad_goods", (gid, frame)
