"""Trust and reach against the fake WeChat: the shared server token, content checks, the signed
media callback, reports, and subscribe-message notices for offline chat. Both databases."""
import asyncio
import hashlib
import json

import pytest

from models.chat import ChatMessage
from models.goods import Goods, Image
from models.report import Report
from models.wechat import MediaCheck
from search import index as search_index
from tests.chat_helpers import read, send, silent, users

CALLBACK_TOKEN = "callback-token-from-the-console"


@pytest.fixture
def settings_env(settings_env):
    settings_env.update(MARKET_MODERATION_ENABLED="true", MARKET_MODERATION_CHAT="true",
                        MARKET_MODERATION_CALLBACK_TOKEN=CALLBACK_TOKEN,
                        MARKET_NOTIFY_ENABLED="true", MARKET_NOTIFY_CHAT_TEMPLATE="TPL-CHAT",
                        MARKET_NOTIFY_REVIEW_TEMPLATE="TPL-REVIEW",
                        MARKET_NOTIFY_VERIFY_TEMPLATE="TPL-VERIFY",
                        MARKET_LIMITS_PUBLISH_PER_MINUTE_USER="100",
                        MARKET_LIMITS_COMMENT_PER_MINUTE_USER="100")
    return settings_env


def signed(params=None, token=CALLBACK_TOKEN, timestamp="1700000000", nonce="n0nce"):
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return dict(params or {}, signature=signature, timestamp=timestamp, nonce=nonce)


@pytest.mark.gen_test(timeout=20)
async def test_access_token_fetched_once_under_concurrent_calls_and_never_logged(app, wechat, caplog):
    verdicts = await asyncio.gather(*[app.content.check_text("alice", 2, "hello %d" % i)
                                      for i in range(20)])
    assert [v for v, _ in verdicts] == ["pass"] * 20
    assert wechat.token_calls == [("stable", "wx-server-appid", "server-secret-xyz")]
    assert all(c["version"] == 2 and c["openid"] == "alice" and c["scene"] == 2
               for c in wechat.text_checks)
    assert "ACCESS-" not in caplog.text


@pytest.mark.gen_test(timeout=20)
async def test_expired_token_mid_run_is_refreshed_and_shared_through_the_database(app, config, database, wechat):
    from application import make_app
    assert (await app.content.check_text("alice", 2, "first"))[0] == "pass"
    wechat.expire_tokens()
    assert (await app.content.check_text("alice", 2, "second"))[0] == "pass"
    assert len(wechat.token_calls) == 2
    other = make_app(config, database)  # another process reads the token from the database
    assert (await other.content.check_text("bob", 2, "third"))[0] == "pass"
    assert len(wechat.token_calls) == 2
    other.db_executor.shutdown()


@pytest.mark.gen_test(timeout=20)
async def test_stable_token_unavailable_falls_back_to_cgi_bin_token(app, wechat):
    wechat.stable_down = True
    assert (await app.content.check_text("alice", 1, "hi"))[0] == "pass"
    assert [kind for kind, _, _ in wechat.token_calls] == ["token"]


@pytest.mark.parametrize("text,verdict", [
    ("fine words", "pass"), ("REVIEW me", "review"), ("RISKY words", "risky"),
    ("SLOW answer", "review"), ("GARBAGE answer", "review"), ("DOWN", "review"),
])
@pytest.mark.gen_test(timeout=20)
async def test_text_verdicts_fail_closed(app, text, verdict):
    assert (await app.content.check_text("alice", 3, text))[0] == verdict


@pytest.mark.gen_test(timeout=20)
async def test_risky_chat_message_is_refused_with_a_bubble(api):
    t = await users(api, "alice", "bob")
    a = await api.ws("alice", "bob", t["alice"])
    b = await api.ws("bob", "alice", t["bob"])
    await send(a, fromOpenid="alice", toOpenid="bob", content="RISKY stuff")
    refusal = await read(a)
    assert refusal["code"] == "risky" and refusal["fromOpenid"] == "system" and refusal["content"]
    assert await silent(b)
    await send(a, fromOpenid="alice", toOpenid="bob", content="normal")
    assert (await read(b))["content"] == "normal"


async def _image(app, gid, openid="alice"):
    def make():
        goods = Goods.create(gid=gid, openid=openid, goods_name="单车", goods_title="t",
                             goods_dec="d", goods_price_new=1, goods_price_old=2, state=1)
        return Image.create(openid=openid, gid=goods.gid, url="a" * 32 + ".jpg").id
    return await app.run_db(make)


@pytest.mark.gen_test(timeout=20)
async def test_media_callback_signed_hides_risky_image_and_listing_forged_refused(api, app, wechat):
    image_id = await _image(app, 501)
    trace = await app.content.submit_image(image_id, 501, "alice", "https://host/uploads/x.jpg")
    assert wechat.media_checks[-1]["media_type"] == 2 and wechat.media_checks[-1]["version"] == 2
    event = {"ToUserName": "gh_x", "FromUserName": "o_wechat", "CreateTime": 1700000000,
             "MsgType": "event", "Event": "wxa_media_check", "appid": "wx-server-appid",
             "trace_id": trace, "version": 2, "errcode": 0, "errmsg": "ok",
             "result": {"suggest": "risky", "label": 20001}}
    body = json.dumps(event).encode()
    forged = await api.fetch("POST", "/wx/wechat/callback", signed(token="guess"), body=body)
    assert forged.status == 403
    unsigned = await api.fetch("POST", "/wx/wechat/callback", None, body=body)
    assert unsigned.status == 403
    goods = await app.run_db(Goods.get_by_id, 501)
    assert not goods.hidden
    ok = await api.fetch("POST", "/wx/wechat/callback", signed(), body=body)
    assert ok.status == 200 and ok.body == b"success"
    goods = await app.run_db(Goods.get_by_id, 501)
    image = await app.run_db(Image.get_by_id, image_id)
    assert goods.hidden and image.hidden and "risky" in goods.hold_reason
    check = await app.run_db(lambda: MediaCheck.get(MediaCheck.trace_id == trace))
    assert check.status == "risky"
    echo = await api.get("/wx/wechat/callback", **signed({"echostr": "e123"}))
    assert echo.body == b"e123"


@pytest.mark.gen_test(timeout=20)
async def test_media_check_unavailable_holds_the_image_then_a_moderator_releases(app, wechat):
    from services import content_checks
    wechat.media_down = True
    image_id = await _image(app, 502)
    assert await app.content.submit_image(image_id, 502, "alice", "https://h/x.jpg") is None
    goods = await app.run_db(Goods.get_by_id, 502)
    assert goods.hidden and goods.hold_reason
    held = await app.run_db(content_checks.held_items)
    assert [g["gid"] for g in held["goods"]] == [502] and [i["id"] for i in held["images"]] == [image_id]
    await app.run_db(content_checks.release, 502, image_id)
    goods = await app.run_db(Goods.get_by_id, 502)
    assert not goods.hidden and not goods.hold_reason


@pytest.mark.gen_test(timeout=30)
async def test_one_notice_for_three_offline_messages_none_when_online_none_without_grant(api, app, wechat):
    t = await users(api, "alice", "bob", "carol")
    no_grant = await api.ws("carol", "bob", t["carol"], query={"v": "2"})
    await send(no_grant, toOpenid="bob", content="no grant yet")
    assert (await read(no_grant))["status"] == "stored"
    await asyncio.sleep(0.3)
    assert wechat.sent == []
    reply = await api.post_json("/wx/notify/subscribe",
                                {"openid": "bob", "templateIds": ["TPL-CHAT", "TPL-CHAT"]}, t["bob"])
    assert reply.code == 200 and reply.extend["grants"] == {"TPL-CHAT": 2}
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    for i in range(3):
        await send(a, toOpenid="bob", content="离线消息%d" % i)
        assert (await read(a))["status"] == "stored"
    await asyncio.sleep(0.3)
    assert len(wechat.sent) == 1
    sent = wechat.sent[0]
    assert sent["touser"] == "bob" and sent["template_id"] == "TPL-CHAT"
    assert sent["data"]["thing1"]["value"] == "名字-alice" and "离线消息0" in sent["data"]["thing2"]["value"]
    b = await api.ws("bob", "alice", t["bob"])  # bob opens: online now, and the chat is read
    for _ in range(3):
        await read(b)
    await send(a, toOpenid="bob", content="live")
    assert (await read(b))["content"] == "live"
    await asyncio.sleep(0.3)
    assert len(wechat.sent) == 1  # none while online


@pytest.mark.gen_test(timeout=30)
async def test_refused_notice_43101_drops_the_grant(api, app, wechat):
    from services import subscriptions
    t = await users(api, "alice", "bob")
    await api.post_json("/wx/notify/subscribe", {"openid": "bob", "templateIds": ["TPL-CHAT"]}, t["bob"])
    wechat.send_errcode = 43101
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    await send(a, toOpenid="bob", content="x")
    assert (await read(a))["status"] == "stored"
    await asyncio.sleep(0.3)
    assert await app.run_db(subscriptions.grants, "bob") == {"TPL-CHAT": 0}
    assert app.notifier.counts["refused"] == 1


@pytest.mark.gen_test(timeout=30)
async def test_reports_grouped_limited_and_acted_on(api, app):
    from services import reports
    t = await users(api, "alice", "bob", "carol")
    await _image(app, 601, openid="bob")
    for who in ("alice", "carol"):
        reply = await api.post_json("/wx/report", {"openid": who, "targetType": "goods",
                                                   "targetId": "601", "reason": "假货"}, t[who])
        assert reply.code == 200 and reply.extend["reportId"]
    bad = await api.post_json("/wx/report", {"openid": "alice", "targetType": "goods",
                                             "targetId": "999", "reason": "x"}, t["alice"])
    assert bad.status == 404
    other = await api.post_json("/wx/report", {"openid": "bob", "targetType": "user",
                                               "targetId": "alice", "reason": "x"}, t["alice"])
    assert other.status == 403
    # a chat report's context is the stored messages of the reporter's own conversation
    a = await api.ws("alice", "bob", t["alice"])
    b = await api.ws("bob", "alice", t["bob"])
    for text in ("你好", "坏话", "还在吗"):
        await send(b, toOpenid="alice", content=text)
        assert (await read(a))["content"] == text
    seqs = await app.run_db(lambda: [m.seq for m in ChatMessage.select().order_by(ChatMessage.seq)])
    chat = await api.post_json("/wx/report", {
        "openid": "alice", "targetType": "chat", "targetId": "bob", "reason": "骚扰",
        "seq": seqs[1], "messages": [{"fromOpenid": "bob", "content": "forged by the client"}]},
        t["alice"])
    assert chat.code == 200, chat
    # carol can't file one about a conversation she is not in, nor name its messages
    none = await api.post_json("/wx/report", {"openid": "carol", "targetType": "chat",
                                              "targetId": "bob", "reason": "x"}, t["carol"])
    assert none.status == 404 and none.code == 100
    theirs = await api.post_json("/wx/report", {"openid": "carol", "targetType": "chat",
                                                "targetId": "alice", "reason": "x",
                                                "seq": seqs[1]}, t["carol"])
    assert theirs.status == 404
    queue = await app.run_db(reports.queue)
    top = queue[0]
    assert (top["targetType"], top["targetId"], top["count"]) == ("goods", "601", 2)
    chat_group = [g for g in queue if g["targetType"] == "chat"][0]
    shown = chat_group["context"]["messages"]["stored"]
    assert [m["content"] for m in shown] == ["你好", "坏话", "还在吗"]
    assert [m["reported"] for m in shown] == [False, True, False]
    assert {m["fromOpenid"] for m in shown} == {"bob"}
    blocked = await app.run_db(reports.act, "mod", "goods", "601", "take_down", "fake goods")
    assert blocked is None
    assert (await app.run_db(Goods.get_by_id, 601)).deleted
    assert await app.run_db(lambda: Report.select().where(Report.status == "open",
                                                         Report.target_type == "goods").count()) == 0
    app.config["reports"]["per_hour_user"] = 2
    flood = [await api.post_json("/wx/report", {"openid": "carol", "targetType": "user",
                                                "targetId": "bob", "reason": "x"}, t["carol"])
             for _ in range(2)]
    assert flood[-1].status == 429


@pytest.mark.gen_test(timeout=20)
async def test_trust_metrics(api, app, wechat):
    from prometheus_client.parser import text_string_to_metric_families
    await app.content.check_text("alice", 2, "RISKY")
    await app.content.check_text("alice", 2, "fine")
    wechat.media_down = True
    await app.content.submit_image(await _image(app, 701), 701, "alice", "https://h/x.jpg")
    reply = await api.get("/metrics")
    families = {f.name: f for f in text_string_to_metric_families(reply.body.decode())}
    checks = {tuple(s.labels.values()): s.value for s in families["market_content_checks"].samples}
    assert checks[("text", "risky")] == 1 and checks[("text", "pass")] == 1
    assert checks[("image", "error")] == 1
    assert families["market_held_items"].samples[0].value == 1
    assert families["market_reports_open"].samples[0].value == 0
    assert {s.labels["outcome"] for s in families["market_notify_messages"].samples} >= {"sent"}


@pytest.mark.gen_test(timeout=30)
async def test_review_and_verification_results_notify_when_granted(api, app, wechat):
    from services import admin_accounts
    t = await users(api, "seller", "other")
    await app.run_db(admin_accounts.create_admin, "root", "correct horse battery")
    login = await api.post_form("/wx/admin/adminLogin", {"username": "root",
                                                         "passwd": "correct horse battery"})
    admin_token = login.json["token"]
    await _image(app, 801, openid="seller")
    await app.run_db(lambda: Goods.update(state=0).where(Goods.gid == 801).execute())
    await _image(app, 802, openid="other")
    await app.run_db(lambda: Goods.update(state=0).where(Goods.gid == 802).execute())
    await api.post_json("/wx/notify/subscribe", {"openid": "seller",
                                                 "templateIds": ["TPL-REVIEW", "TPL-VERIFY"]},
                        t["seller"])
    assert (await api.get("/wx/admin/setState", admin_token, gid=801, state=1)).code == 200
    assert (await api.get("/wx/admin/setState", admin_token, gid=802, state=2,
                          reason="照片不清楚")).code == 200  # no grant: no notice
    assert (await api.get("/wx/admin/userCheck", admin_token, openid="seller", state=1)).code == 200
    for _ in range(50):
        if len(wechat.sent) >= 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    assert [(m["touser"], m["template_id"]) for m in wechat.sent] == [
        ("seller", "TPL-REVIEW"), ("seller", "TPL-VERIFY")]
    assert wechat.sent[0]["data"]["thing1"]["value"] == "单车"
    assert wechat.sent[0]["data"]["phrase2"]["value"] == "通过"


@pytest.mark.gen_test(timeout=20)
async def test_profile_names_checked(api, wechat):
    token = await api.login("dora", register=False)
    risky = await api.post_json("/wx/user/register", {"openid": "dora", "wxname": "RISKY name"}, token)
    assert risky.status == 400 and risky.json["msg"] == "内容含有违规信息，请修改后再发布"
    assert (await api.get("/wx/user/isRegister", token, openid="dora")).code == 200  # not saved
    ok = await api.post_json("/wx/user/register", {"openid": "dora", "wxname": "多拉"}, token)
    assert ok.code == 200
    assert wechat.text_checks[-1]["scene"] == 1 and wechat.text_checks[-1]["content"] == "多拉"


@pytest.mark.gen_test(timeout=30)
async def test_every_suggest_on_listing_fields_and_wechat_down_held_then_released(api, app, wechat):
    from services import moderation
    from tests.test_goods import goods_body
    t = await users(api, "sam")
    for field in ("goodsName", "goodsTitle", "goodsDec"):
        risky = await api.post_json("/wx/goods/goodsIssue", goods_body("sam", **{field: "RISKY"}), t["sam"])
        assert risky.status == 400 and risky.extend["error"] == "内容含有违规信息，请修改后再发布"
    gids = {}
    for name, text in (("pass", "山地车"), ("review", "REVIEW 山地车"), ("down", "DOWN 山地车")):
        reply = await api.post_json("/wx/goods/goodsIssue", goods_body("sam", goodsTitle=text), t["sam"])
        assert reply.code == 200
        gids[name] = reply.extend["gid"]
    assert wechat.text_checks[-1]["scene"] == 3 and "DOWN 山地车" in wechat.text_checks[-1]["content"]
    held = {k: (await app.run_db(Goods.get_by_id, g)).hold_reason for k, g in gids.items()}
    assert held["pass"] == "" and "review" in held["review"] and "unavailable" in held["down"]
    pending = await app.run_db(moderation.pending_goods)
    assert {g["gid"] for g in pending["items"]} >= set(gids.values())
    await app.run_db(moderation.review_goods, "root", gids["down"], 1)  # a moderator decides
    public = await api.get("/wx/goods/getSimpleGoods", state=1)
    assert [v["gid"] for v in public.extend.values()] == [gids["down"]]


@pytest.mark.gen_test(timeout=30)
async def test_every_suggest_on_comments_and_replies(api, app, wechat):
    t = await users(api, "sam", "ann")
    await _image(app, 901, openid="sam")
    add = lambda text: api.post_json("/wx/pl/addMainComments", {"info": json.dumps(
        {"goodId": "901", "fromOpenid": "ann", "content": text})}, t["ann"])
    assert (await add("RISKY")).status == 400
    shown = await add("还在吗")
    held = await add("REVIEW 这个")
    assert shown.code == 200 and held.code == 200
    listed = (await api.get("/wx/pl/getAllComments", gid=901, openid="ann")).json
    assert [c["content"] for c in listed] == ["还在吗"]
    assert wechat.text_checks[-1]["scene"] == 2
    from services import content_checks
    queue = await app.run_db(content_checks.held_items)
    assert [(h["kind"], h["content"]) for h in queue["texts"]] == [("comment", "REVIEW 这个")]
    await app.run_db(content_checks.release, None, None, "root",
                     held.extend["commentsInfo"]["inId"])
    listed = (await api.get("/wx/pl/getAllComments", gid=901, openid="ann")).json
    assert [c["content"] for c in listed] == ["REVIEW 这个", "还在吗"]  # newest first
    in_id = shown.extend["commentsInfo"]["inId"]
    reply = lambda text: api.post_json("/wx/pl/addSonCommments", {
        "fromOpenid": "sam", "toOpenid": "ann", "commentId": in_id, "content": text}, t["sam"])
    assert (await reply("RISKY")).status == 400
    assert (await reply("REVIEW 在的")).code == 200
    assert (await reply("在的")).code == 200
    thread = await api.get("/wx/pl/getMainAllSonCom", inId=in_id, openid="ann")
    assert [r["content"] for r in thread.extend["commentsInfo"]["commentsReplies"]] == ["在的"]


@pytest.mark.gen_test(timeout=30)
async def test_goods_photo_goes_to_media_check_and_a_risky_verdict_hides_it(api, app, wechat):
    from tests.test_goods import goods_body
    from tests.test_images import picture, upload
    t = await users(api, "sam")
    gid = (await api.post_json("/wx/goods/goodsIssue", goods_body("sam"), t["sam"])).extend["gid"]
    await app.run_db(lambda: Goods.update(state=1).where(Goods.gid == gid).execute())
    reply = await upload(api, t["sam"], "sam", picture("PNG"), filename="p.png", ctype="image/png")
    assert reply.code == 200
    photo = lambda: [c for c in wechat.media_checks if c["media_url"] == reply.extend["imageUrl"]]
    for _ in range(50):
        if photo():
            break
        await asyncio.sleep(0.05)
    check = photo()[0]
    assert check["openid"] == "sam" and check["scene"] == 3
    assert (await api.get("/wx/goods/getDeGoodfwl", gid=gid)).status == 404  # back in review
    await app.run_db(lambda: Goods.update(state=1).where(Goods.gid == gid).execute())
    detail = await api.get("/wx/goods/getDeGoodfwl", gid=gid)
    assert detail.extend["goodInfo"]["imageUrl"] == [reply.extend["imageUrl"]]
    event = {"Event": "wxa_media_check", "MsgType": "event", "trace_id": check["trace_id"],
             "result": {"suggest": "risky", "label": 20002}, "errcode": 0, "version": 2}
    ok = await api.fetch("POST", "/wx/wechat/callback", signed(), body=json.dumps(event).encode())
    assert ok.status == 200
    listed = await api.get("/wx/goods/getSimpleGoods", state=1)
    assert listed.code == 100  # the listing left the public list until a moderator decides


@pytest.mark.gen_test(timeout=30)
async def test_announcements_checked_with_an_admin_openid(api, app, wechat):
    from services import admin_accounts
    await app.run_db(admin_accounts.create_admin, "root", "correct horse battery")
    token = (await api.post_form("/wx/admin/adminLogin", {"username": "root",
                                                          "passwd": "correct horse battery"})).json["token"]
    await app.run_db(admin_accounts.add_admin_openid, "root", "modopenid")
    risky = await api.get("/wx/admin/getNotice", token, mid=1, noticeInfo="RISKY 公告")
    assert risky.status == 400
    ok = await api.get("/wx/admin/getNotice", token, mid=1, noticeInfo="周末跳蚤市场")
    assert ok.extend["Info1"]["noticeInfo"] == "周末跳蚤市场"
    assert wechat.text_checks[-1]["openid"] == "modopenid" and wechat.text_checks[-1]["scene"] == 3


@pytest.mark.gen_test(timeout=30)
async def test_avatar_goes_to_media_check_and_a_risky_one_is_removed(api, app, wechat):
    from models.user import User
    token = await api.login("eve", register=False)
    body = {"openid": "eve", "wxname": "伊芙", "headImg": "https://thirdwx.qlogo.cn/eve/132"}
    assert (await api.post_json("/wx/user/register", body, token)).code == 200
    for _ in range(50):
        if wechat.media_checks:
            break
        await asyncio.sleep(0.05)
    check = wechat.media_checks[-1]
    assert check["media_url"] == body["headImg"] and check["scene"] == 1
    event = {"Event": "wxa_media_check", "trace_id": check["trace_id"],
             "result": {"suggest": "risky", "label": 20002}}
    assert (await api.fetch("POST", "/wx/wechat/callback", signed(),
                            body=json.dumps(event).encode())).status == 200
    assert (await app.run_db(User.by_openid, "eve")).head_img == ""


@pytest.mark.gen_test(timeout=30)
async def test_bad_data_47003_is_counted_and_the_grant_kept_for_next_time(api, app, wechat):
    from services import subscriptions
    t = await users(api, "alice", "bob")
    await api.post_json("/wx/notify/subscribe", {"openid": "bob", "templateIds": ["TPL-CHAT"] * 2},
                        t["bob"])
    wechat.send_errcode = 47003
    a = await api.ws("alice", "bob", t["alice"], query={"v": "2"})
    await send(a, toOpenid="bob", content="x")
    assert (await read(a))["status"] == "stored"
    for _ in range(40):
        if app.notifier.counts["refused"]:
            break
        await asyncio.sleep(0.05)
    assert app.notifier.counts["refused"] == 1 and wechat.sent == []
    assert await app.run_db(subscriptions.grants, "bob") == {"TPL-CHAT": 1}  # one use spent, one left


@pytest.mark.gen_test(timeout=30)
async def test_a_forged_host_header_never_reaches_wechat_or_the_answers(api, app, wechat, config):
    """Issue 14 item 3: the photo WeChat's mediaCheckAsync fetches, and every absolute URL in
    the answers (upload, lists, detail, banners, signed student-ID photos, admin calls), are on
    server.public_url, whatever Host the client sends."""
    from models.goods import BANNER
    from services import tokens
    from tests.test_goods import goods_body
    from tests.test_images import multipart, picture
    public = config["server"]["public_url"]
    forged = {"Host": "attacker.invalid:8080", "X-Forwarded-Host": "attacker.invalid"}
    t = await users(api, "sam")
    gid = (await api.post_json("/wx/goods/goodsIssue", goods_body("sam"), t["sam"])).extend["gid"]
    body, ctype = multipart({"openid": "sam", "flag": "0"},
                            [("file", "p.png", "image/png", picture("PNG"))])
    reply = await api.fetch("POST", "/wx/images/upload", token=t["sam"], body=body,
                            headers=dict(forged, **{"Content-Type": ctype}))
    assert reply.code == 200, reply
    photos = lambda: [c["media_url"] for c in wechat.media_checks if "/uploads/" in c["media_url"]]
    for _ in range(50):
        if photos():
            break
        await asyncio.sleep(0.05)
    assert photos() == [reply.extend["imageUrl"]]
    assert reply.extend["imageUrl"].startswith(public + "/uploads/")
    assert reply.extend["thumbUrl"].startswith(public + "/uploads/")
    body, ctype = multipart({"openid": "sam", "flag": "1"},
                            [("file", "id.png", "image/png", picture("PNG"))])
    student = await api.fetch("POST", "/wx/images/upload", token=t["sam"], body=body,
                              headers=dict(forged, **{"Content-Type": ctype}))
    assert student.extend["imageUrl"].startswith(public + "/wx/images/private/")
    await app.run_db(lambda: (Goods.update(state=1).where(Goods.gid == gid).execute(),
                               search_index.reindex(gid)))  # approved, as a review does
    await app.run_db(lambda: Image.create(openid="", flag=BANNER, url="b" * 32 + ".png", thumb=""))
    admin = tokens.issue(config["auth"]["token_secret"], "boss", 600, role="admin")
    answers = [await api.fetch("GET", path, headers=forged, token=token) for path, token in [
        ("/wx/goods/getSimpleGoods?state=1", None), ("/wx/goods/getDeGoodfwl?gid=%d" % gid, None),
        ("/wx/goods/query?flag=%E4%B9%A6", None), ("/wx/images/getHomeImages", None),
        ("/wx/images/studentId?openid=sam", t["sam"]),
        ("/wx/admin/getDeUserAndImage?openid=sam", admin)]]
    text = b"".join(a.body for a in answers).decode()
    assert all(a.code == 200 for a in answers), answers
    assert "attacker.invalid" not in text and text.count(public) >= 6, text
