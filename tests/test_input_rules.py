"""Bad input changes nothing: an empty body, `{}`, or any required field removed, on every JSON
POST (enumerated from the route table, required fields read from docs/openapi.yaml); and the
published client's calls as it sends them with auth.require_token off."""
import json
import os

import pytest
import tornado.web
import yaml

from models.goods import Goods
from services import admin_accounts, tokens
from tests.security_helpers import goods_body, scene, snapshot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = yaml.safe_load(open(os.path.join(ROOT, "docs", "openapi.yaml"), encoding="utf-8"))
PASSWORD = "correct horse battery"
# POST routes of /wx/ that take no JSON object body, each with the test that covers it
NOT_JSON = {
    "/wx/images/upload": "multipart: tests/test_images.py, tests/test_security_identity.py",
    "/wx/wechat/callback": "WeChat's signature first: test_security_identity.py",
    "/wx/user/export": "no fields: an empty body is the whole request (tests/test_privacy.py)",
}
READ_ONLY = {"/wx/admin/getAllUserSimInfo", "/wx/admin/getDeUserAndImage"}  # POST reads as GET
# a renewal within the second of the listing's last touch changes nothing MariaDB's DATETIME
# keeps (touched_at to the second): tests/test_listing_life.py proves renewals with its clock
SAME_SECOND = {"/wx/goods/renew"}


@pytest.fixture(autouse=True)
def roomy(settings_env):
    settings_env["MARKET_LIMITS_PER_MINUTE_ADDRESS"] = "100000"
    settings_env["MARKET_LIMITS_PUBLISH_PER_MINUTE_USER"] = "1000"
    settings_env["MARKET_WANTED_PER_MINUTE_USER"] = "1000"
    settings_env["MARKET_RATINGS_PER_MINUTE_USER"] = "1000"
    settings_env["MARKET_LIMITS_COMMENT_PER_MINUTE_USER"] = "1000"
    settings_env["MARKET_NOTIFY_CHAT_TEMPLATE"] = "TPL-CHAT"


def json_posts(app):
    """Every /wx/ route whose handler serves POST with a JSON body, from the route table."""
    found = []
    for rule in app.wildcard_router.rules:
        path = rule.matcher.regex.pattern.rstrip("$")
        post = getattr(rule.target, "post", None)
        if path.startswith("/wx/") and post is not tornado.web.RequestHandler.post \
                and path not in NOT_JSON:
            found.append(path)
    return found


def resolve(node):
    """Follow a local $ref of the description."""
    if isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return resolve(target)
    return node


def required_fields(path):
    """The body's required fields as the description lists them (a POST that behaves as GET:
    the GET's required query parameters)."""
    operations = SPEC["paths"][path]
    body = resolve(operations.get("post", {}).get("requestBody", {}))
    for content in body.get("content", {}).values():
        schema = resolve(content.get("schema", {}))
        if "required" in schema:
            return list(schema["required"])
    params = [resolve(p) for p in operations.get("get", {}).get("parameters", [])]
    return [p["name"] for p in params if p.get("required") and p["in"] == "query"]


def valid_bodies(s):
    """A body that succeeds, per JSON POST; ordered so that no call spoils a later one."""
    issue = goods_body("bob")
    issue.pop("openid")
    return {
        "/wx/user/register": {"wxname": "新名字", "headImg": "https://img.example/n", "sex": 2,
                              "uname": "u2", "qq": "2", "wx": "w2"},
        "/wx/user/updateUserInfo": {"school": "二手大学", "xuehao": "2024001", "uclass": "1班"},
        "/wx/goods/goodsIssue": issue,
        "/wx/user/addGoodsToCar": {"gid": []},  # an explicit empty list still clears them
        "/wx/pl/addMainComments": {"info": {"goodId": s["approved"], "content": "新评论"}},
        "/wx/pl/addSonCommments": {"commentId": s["comment"], "content": "回复"},
        "/wx/report": {"targetType": "goods", "targetId": str(s["approved"]), "reason": "spam"},
        "/wx/notify/subscribe": {"templateIds": ["TPL-CHAT"]},
        "/wx/goods/edit": {"gid": s["approved"], "goodsPriceNew": "5"},  # issue 18
        "/wx/goods/state": {"gid": s["approved"], "saleState": 1},
        "/wx/goods/renew": {"gid": s["approved"]},
        "/wx/wanted": {"keywords": "台灯", "maxPrice": "20", "place": "东区"},
        "/wx/wanted/delete": _bobs_post,
        "/wx/handover": _chatted_with_alice,
        "/wx/handover/confirm": _sold_to_bob,
        "/wx/rating": _bobs_handover,
        "/wx/handover/dispute": _bobs_dispute,  # issue 25
        "/wx/chat/recall": _bobs_message,  # issue 25: bob recalls his own message at once
        "/wx/user/block": {"openid": "alice"},  # issue 18 (and unblocked at once)
        "/wx/user/unblock": {"openid": "alice"},
        "/wx/admin/adminLogin": {"username": "root", "passwd": PASSWORD},
        "/wx/admin/getNotice": {"mid": 1, "noticeInfo": "公告"},
        "/wx/admin/getAllUserSimInfo": {},
        "/wx/admin/getDeUserAndImage": {"openid": "bob"},
        "/wx/admin/setState": {"gid": s["pending"], "state": 1},
        "/wx/admin/userCheck": {"openid": "alice", "state": 1},
        "/wx/admin/delete": {"gid": s["approved"]},
        "/wx/user/consent": {"version": "2026-12-07"},  # issue 26
        "/wx/user/deleteAccount": {"confirm": "注销"},  # last: bob's account ends
    }


# Bodies that need state made just before (async: (api, app, s) -> body), issue 18's calls.
async def _bobs_post(api, app, s):
    from models.wanted import WantedPost
    return {"id": await app.run_db(lambda: WantedPost.select().where(
        WantedPost.openid == "bob").order_by(WantedPost.id.desc()).get().id)}


async def _chatted_with_alice(api, app, s):
    """alice writes to bob (a stored chat message: what a hand-over needs)."""
    import asyncio
    from models.chat import ChatMessage
    ws = await api.ws("alice", "bob", s["tokens"]["alice"])
    await ws.write_message(json.dumps({"fromOpenid": "alice", "toOpenid": "bob", "content": "在吗"}))
    for _ in range(100):
        if await app.run_db(lambda: ChatMessage.select().count()):
            break
        await asyncio.sleep(0.05)
    ws.close()
    await asyncio.sleep(0.2)
    await app.list_writer.flush()
    return {"gid": s["approved"], "buyer": "alice"}


async def _sold_to_bob(api, app, s):
    """alice's own listing, marked sold to bob (who confirms it)."""
    alice = s["tokens"]["alice"]
    gid = (await api.post_json("/wx/goods/goodsIssue", goods_body("alice"), alice)).extend["gid"]
    reply = await api.post_json("/wx/handover", {"openid": "alice", "gid": gid, "buyer": "bob"},
                                alice)
    assert reply.code == 200, reply
    return {"id": reply.extend["handover"]["id"]}


async def _bobs_handover(api, app, s):
    from models.rating import HandOver
    return {"handoverId": await app.run_db(lambda: HandOver.get(HandOver.buyer == "bob").id),
            "score": 4}


async def _bobs_dispute(api, app, s):
    from models.rating import HandOver
    return {"hid": await app.run_db(lambda: HandOver.get(HandOver.buyer == "bob").id),
            "reason": "没收到货"}


async def _bobs_message(api, app, s):
    """bob writes to alice (a stored message of his own), to be recalled."""
    import asyncio
    from models.chat import ChatMessage
    ws = await api.ws("bob", "alice", s["tokens"]["bob"])
    await ws.write_message(json.dumps({"fromOpenid": "bob", "toOpenid": "alice", "content": "撤回我"}))
    mine = lambda: ChatMessage.select(ChatMessage.seq).where(  # noqa: E731
        ChatMessage.from_openid == "bob").scalar()
    for _ in range(100):
        seq = await app.run_db(mine)
        if seq:
            break
        await asyncio.sleep(0.05)
    ws.close()
    await app.list_writer.flush()  # its conversation rows written now, not during the probe
    return {"peer": "alice", "seq": seq}


def encode(body):
    """JSON bytes; addMainComments' `info` travels as a JSON string, as the client sends it."""
    if isinstance(body.get("info"), dict):
        body = dict(body, info=json.dumps(body["info"], ensure_ascii=False))
    return json.dumps(body, ensure_ascii=False).encode()


def without(body, field):
    return {k: v for k, v in body.items() if k != field}


def stripped_bodies(path, valid):
    """(label, bytes) of every body missing something required."""
    out = [("empty body", b""), ("{}", b"{}")]
    for field in required_fields(path):
        out.append(("without " + field, encode(without(valid, field))))
    for field in SPEC["paths"][path].get("post", {}).get("x-info-required", []):
        out.append(("info without " + field,
                    encode(dict(valid, info=without(valid["info"], field)))))
    return out


def test_every_json_post_has_a_valid_body_and_a_description(app):
    """A new JSON POST must be described (with its required fields) and given a body here."""
    posts = json_posts(app)
    s = {"approved": 1, "pending": 2, "comment": 1}
    assert sorted(posts) == sorted(valid_bodies(s)), "add the new endpoint to valid_bodies()"
    for path in posts:
        assert path in SPEC["paths"], path


@pytest.mark.gen_test(timeout=180)
async def test_missing_fields_change_nothing_on_every_json_post(api, app, config):
    """Empty body, `{}`, each required field removed in turn (also inside addMainComments'
    info): a 400 refusal and every table's rows unchanged. The valid body then succeeds and
    changes something (so the refusals were about the missing field)."""
    s = await scene(api, app)
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    admin = tokens.issue(config["auth"]["token_secret"], "root", 3600, role="admin")
    for path, valid in valid_bodies(s).items():
        if callable(valid):
            valid = await valid(api, app, s)
        token = None if path == "/wx/admin/adminLogin" else \
            admin if path.startswith("/wx/admin/") else s["tokens"]["bob"]
        required = required_fields(path)
        for label, body in stripped_bodies(path, valid):
            before = await app.run_db(snapshot)
            reply = await api.fetch("POST", path, token=token, body=body,
                                    headers={"Content-Type": "application/json"})
            assert reply.status < 500 and reply.code in (100, 200), (path, label, reply)
            if required:
                assert reply.status == 400 and reply.code == 100, (path, label, reply)
            assert await app.run_db(snapshot) == before, (path, label, reply)
        before = await app.run_db(snapshot)
        reply = await api.fetch("POST", path, token=token, body=encode(valid),
                                headers={"Content-Type": "application/json"})
        assert reply.status == 200 and reply.code == 200, (path, reply)
        if path not in READ_ONLY | SAME_SECOND:
            assert await app.run_db(snapshot) != before, path


@pytest.mark.gen_test(timeout=30)
async def test_favourites_missing_gid_is_refused_an_empty_list_or_empty_text_clears(api, app):
    s = await scene(api, app)
    bob = s["tokens"]["bob"]
    for body in ({}, {"openid": "bob"}, {"openid": "bob", "gid": None}):
        reply = await api.post_json("/wx/user/addGoodsToCar", body, bob)
        assert reply.status == 400 and "商品列表" in reply.json["msg"], reply
        assert (await api.get("/wx/user/getFavorites", bob, openid="bob")).extend == {
            "favorites": [s["approved"]]}
    for cleared in ([], ""):
        await api.post_json("/wx/user/addGoodsToCar", {"openid": "bob", "gid": [s["approved"]]},
                            bob)
        reply = await api.post_json("/wx/user/addGoodsToCar", {"openid": "bob", "gid": cleared},
                                    bob)
        assert reply.code == 200 and reply.extend == {"favorites": []}


@pytest.mark.gen_test(timeout=30)
async def test_register_keeps_what_is_not_sent_and_needs_a_name(api, app):
    token = await api.login("erin", wxname="Erin", headImg="https://img.example/e")
    reply = await api.post_json("/wx/user/register", {"openid": "erin", "qq": "777"}, token)
    assert reply.status == 400 and reply.json["msg"] == "请填写微信昵称"
    reply = await api.post_json("/wx/user/register", {"openid": "erin", "wxname": "Erin 2",
                                                      "qq": "777"}, token)
    assert reply.code == 200
    profile = await api.get("/wx/admin/getDeUserAndImage", openid="erin")
    assert profile.extend["uimage"]["headImg"] == "https://img.example/e"  # not blanked
    assert profile.extend["uimage"]["wxname"] == "Erin 2"
    info = await api.get("/wx/user/getUserInfo", token, openid="erin")
    assert info.extend["userinfo"] == {"uname": "u", "qq": "777", "wx": "w"}
    reply = await api.post_json("/wx/user/updateUserInfo", {"openid": "erin", "school": "X"},
                                token)
    assert reply.status == 400 and reply.json["msg"] == "请填写学号"
    assert (await api.get("/wx/user/getUserDeInfo", token, openid="erin")).extend["userDe"] == {
        "school": "", "xuehao": "", "uclass": ""}  # (extend.rating beside it: issue 18)


# -- the published client with tokens off -------------------------------------------------------
def contract_calls(s):
    """Every call of the contract (docs: mini-program-api.md) with exactly the parameters the
    published client sends, as alice, bob and an admin of the original (no identity at all)."""
    approved, pending, comment = s["approved"], s["pending"], s["comment"]
    info = {"goodId": approved, "fromOpenid": "alice", "content": "还在吗"}
    return [
        ("GET", "/wx/user/isRegister", {"openid": "alice"}),
        ("POST", "/wx/user/register", {"openid": "alice", "wxname": "A", "headImg":
                                       "https://img.example/a", "sex": 1, "uname": "u",
                                       "qq": "1", "wx": "w"}),
        ("GET", "/wx/user/getUserInfo", {"openid": "alice"}),
        ("GET", "/wx/user/getUserDeInfo", {"openid": "alice"}),
        ("POST", "/wx/user/updateUserInfo", {"openid": "alice", "school": "S", "xuehao": "1",
                                             "uclass": "C"}),
        ("GET", "/wx/admin/userIsOk", {"openid": "alice"}),
        ("GET", "/wx/admin/isAdmin", {"openid": "alice"}),
        ("POST", "/wx/goods/goodsIssue", goods_body("alice")),
        ("GET", "/wx/images/getHomeImages", {}),
        ("GET", "/wx/goods/getSimpleGoods", {"state": "1", "pageNum": "0"}),
        ("GET", "/wx/goods/getSimpleGoods", {"state": "0"}),
        ("GET", "/wx/goods/getSimFrGoods", {"pageNum": "0"}),
        ("GET", "/wx/goods/getDeGoodfwl", {"gid": str(approved)}),
        ("GET", "/wx/goods/query", {"flag": "书"}),
        ("GET", "/wx/goods/getMyIssGoods", {"openid": "bob", "pageNum": "0"}),
        ("GET", "/wx/goods/getAllSimpleGoods", {"openid": "bob", "pageNum": "0"}),
        ("GET", "/wx/goods/getMyCheckSimGoods", {"openid": "bob"}),
        ("GET", "/wx/user/getFavorites", {"openid": "bob"}),
        ("POST", "/wx/user/addGoodsToCar", {"openid": "alice", "gid": [approved]}),
        ("GET", "/wx/user/getMyCarSimpleInfo", {"openid": "alice"}),
        ("GET", "/wx/pl/getAllComments", {"gid": str(approved), "openid": "alice"}),
        ("POST", "/wx/pl/addMainComments", {"info": json.dumps(info)}),
        ("POST", "/wx/pl/addSonCommments", {"fromOpenid": "alice", "content": "好",
                                            "toOpenid": "bob", "commentId": str(comment)}),
        ("GET", "/wx/pl/getMainAllSonCom", {"inId": str(comment), "openid": "alice"}),
        ("GET", "/wx/liked/like", {"openid": "alice", "objId": str(comment), "type": "1"}),
        ("GET", "/wx/liked/unlike", {"openid": "alice", "objId": str(comment), "type": "1"}),
        ("GET", "/wx/lt/list", {"openid": "bob"}),
        ("GET", "/wx/lt/getNoticeInfo", {"type": "0", "openid": "bob"}),
        ("GET", "/wx/lt/haveRead", {"type": "0", "openid": "bob"}),
        ("GET", "/wx/lt/deleteList1", {"myOpenid": "bob", "beDeleteOpenid": "alice"}),
        ("GET", "/wx/admin/captcha", {}),
        ("GET", "/wx/admin/getAllUserSimInfo", {}),
        ("GET", "/wx/admin/getDeUserAndImage", {"openid": "bob"}),
        ("GET", "/wx/admin/userCheck", {"openid": "alice", "state": "1"}),
        ("GET", "/wx/admin/getNotice", {}),
        ("GET", "/wx/admin/getNotice", {"mid": "1", "noticeInfo": "公告"}),
        ("GET", "/wx/admin/setState", {"gid": str(pending), "state": "2", "reason": "模糊"}),
        ("GET", "/wx/user/whyNot", {"gid": str(pending)}),  # the review-status page: gid only
        ("GET", "/wx/user/deleteCheckFail", {"gid": str(pending), "state": "2"}),
        ("GET", "/wx/user/deleteMyIssue", {"gid": str(approved)}),
        ("GET", "/wx/admin/delete", {"gid": str(approved)}),
    ]


# answers with code 100 that the client reads as "no" or "no more", not as a failure
NO_ANSWERS = {"/wx/user/isRegister", "/wx/admin/isAdmin", "/wx/goods/getSimpleGoods",
              "/wx/goods/getSimFrGoods", "/wx/goods/getMyIssGoods", "/wx/admin/delete"}


@pytest.mark.gen_test(timeout=60)
async def test_every_contract_call_works_as_sent_with_tokens_off(api, app):
    """auth.require_token off: each call of the contract, with only what the client sends,
    answers 200 (code 200, or a "no" the client expects); the deletes from the review-status
    pages (gid only) act on the gid."""
    s = await scene(api, app)
    app.config["auth"]["require_token"] = False
    for method, path, params in contract_calls(s):
        if method == "GET":
            reply = await api.fetch("GET", path, params)
        else:
            reply = await api.post_json(path, params)
        assert reply.status == 200, (path, params, reply)
        assert reply.code == 200 or path in NO_ANSWERS or isinstance(reply.json, list), \
            (path, params, reply)
    gone = await app.run_db(lambda: {g.gid: g.deleted for g in Goods.select()})
    assert gone[s["approved"]] and gone[s["pending"]]


@pytest.mark.gen_test(timeout=30)
async def test_a_token_keeps_the_owner_check_when_tokens_are_off(api, app):
    s = await scene(api, app)
    alice, bob = s["tokens"]["alice"], s["tokens"]["bob"]
    for require in (True, False):
        app.config["auth"]["require_token"] = require
        for path in ("/wx/user/deleteMyIssue", "/wx/user/deleteCheckFail"):
            reply = await api.get(path, alice, gid=s["approved"])
            assert reply.status == 403, (require, path, reply)
    app.config["auth"]["require_token"] = False
    named = await api.get("/wx/user/deleteMyIssue", gid=s["approved"], openid="alice")
    assert named.status == 403  # an openid that is named is still the owner it must be
    app.config["auth"]["require_token"] = True
    assert (await api.get("/wx/user/deleteMyIssue", gid=s["approved"])).status == 401
    assert (await api.get("/wx/user/deleteMyIssue", bob, gid=s["approved"])).code == 200
    assert (await app.run_db(Goods.get_by_id, s["approved"])).deleted


@pytest.mark.gen_test(timeout=30)
async def test_the_announcement_form_without_text_clears_nothing(api, app):
    """Sibling on the admin pages: a form post missing `text` is refused, an empty one clears."""
    from tests.test_admin_pages import Session
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    s = Session(api)
    await s.sign_in()
    await s.get("/admin/notices")
    assert (await s.post("/admin/notices", {"mid": "1", "text": "公告"})).status == 302
    refused = await s.post("/admin/notices", {"mid": "1"})
    assert refused.status == 400 and "请填写".encode() in refused.body  # text is required
    assert (await api.get("/wx/admin/getNotice")).extend["Info1"] == {"noticeInfo": "公告"}
    # clearing a shown slot asks first (a reason and a confirmation, issue 19)
    assert (await s.post("/admin/notices", {"mid": "1", "text": ""})).status == 200
    assert (await api.get("/wx/admin/getNotice")).extend["Info1"] == {"noticeInfo": "公告"}
    assert (await s.post("/admin/notices", {"mid": "1", "text": "", "reason": "过期",
                                            "confirm": "yes"})).status == 302
    assert (await api.get("/wx/admin/getNotice")).extend["Info1"] == {"noticeInfo": ""}
