"""Chinese first, English available (issue 19): every text a person reads has a zh_CN line in
locale/zh_CN.csv; answers are Chinese by default and English for Accept-Language: en."""
import csv
import json
import os
import re

import pytest
import tornado.locale
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from handlers.base import choose_locale
from models.goods import Goods
from services import validate
from services.chat import OFFLINE_FULL_TEXT
from services.content_checks import RISKY_TEXT
from errors import render
from tests.chat_helpers import read
from tests.locale_strings import ROOT, scan, template_texts
from tests.test_goods import goods_body

CATALOGUE = os.path.join(ROOT, "locale", "zh_CN.csv")
# status words of the protocol, kept as they are in every language (a client may compare them)
UNTRANSLATED = {"success", "ok"}
PARAM = re.compile(r"%\((\w+)\)[sd]|%[sd]")
HAN = re.compile("[\u4e00-\u9fff]")


def catalogue():
    """{english: chinese} as tornado.locale reads it (rows of 2 columns, or 3 with plural)."""
    entries = {}
    with open(CATALOGUE, encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            assert len(row) in (2, 3), "locale/zh_CN.csv:%d: %r" % (n, row)
            assert len(row) == 2 or row[2] in ("plural", "singular"), (n, row)
            if len(row) == 2:
                entries[row[0]] = row[1]
    return entries


# -- the catalogue covers the code ----------------------------------------------------------
def test_every_user_facing_text_has_a_chinese_line():
    """Texts passed to the error classes, chat refusals, Phrase(), tr()/_()/translate(),
    ok(msg=)/fail(), the admin flash messages and {{ _("...") }} in templates: each has a
    zh_CN line, with the same named parameters, in Chinese."""
    found = scan()
    assert not found.problems, "\n".join("%s: %s" % p for p in found.problems)
    texts = dict(found.texts, **template_texts())
    assert len(texts) > 150  # the scan finds the code's texts (not an empty walk)
    zh = catalogue()
    missing = sorted("%s: %r" % (place, text) for text, place in texts.items()
                     if text not in zh and text not in UNTRANSLATED)
    assert not missing, "no zh_CN line in locale/zh_CN.csv for:\n" + "\n".join(missing)
    for english, chinese in zh.items():
        assert sorted(PARAM.findall(english)) == sorted(PARAM.findall(chinese)), english
        assert HAN.search(chinese), (english, chinese)


def test_every_field_a_check_names_has_a_label():
    """validate.text(value, "goodsTitle", ...) and the like: the field name has a label, so a
    refusal says 商品标题, never goodsTitle."""
    unlabelled = sorted("%s: %s" % (place, name) for name, place in scan().fields.items()
                        if name not in validate.LABELS)
    assert not unlabelled, "add to services/validate.py LABELS:\n" + "\n".join(unlabelled)


def test_texts_fixed_by_the_contract_are_kept():
    """The offline-limit bubble and the content-check refusal read exactly as before."""
    tornado.locale.load_translations(os.path.join(ROOT, "locale"))
    zh = tornado.locale.get("zh_CN").translate
    assert render(OFFLINE_FULL_TEXT, {"limit": 3}, zh) == "对方不在线，最多发送3条离线消息"
    assert render(RISKY_TEXT, {}, zh) == "内容含有违规信息，请修改后再发布"


def test_accept_language_picks_english_only_when_asked():
    assert choose_locale(None, "zh_CN") == choose_locale("", "zh_CN") == "zh_CN"
    assert choose_locale("en-US,en;q=0.9", "zh_CN") == "en_US"
    assert choose_locale("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN") == "zh_CN"
    assert choose_locale("fr-FR", "zh_CN") == "zh_CN"  # neither: the default, not en_US
    assert choose_locale("fr-FR", "en_US") == "en_US"
    assert choose_locale("fr, en;q=0.5", "zh_CN") == "en_US"
    assert choose_locale("en;q=0.2, zh-TW;q=0.8", "zh_CN") == "zh_CN"
    assert choose_locale("en;q=0", "zh_CN") == "zh_CN"


# -- over real HTTP, on both databases ------------------------------------------------------
@pytest.mark.gen_test
async def test_bad_publish_is_chinese_by_default_and_english_on_request(api, app):
    token = await api.login("alice")
    body = json.dumps(goods_body("alice", goodsTitle="")).encode()

    async def publish(headers):
        return await api.fetch("POST", "/wx/goods/goodsIssue", None, token, body,
                               dict({"Content-Type": "application/json"}, **headers))
    chinese = await publish({})
    assert (chinese.status, chinese.code) == (400, 100)
    assert chinese.json["msg"] == chinese.extend["error"] == "请填写商品标题", chinese
    zh = await publish({"Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh.json["msg"] == "请填写商品标题"
    english = await publish({"Accept-Language": "en-US,en;q=0.9"})
    assert (english.status, english.code) == (400, 100)
    assert english.json["msg"] == english.extend["error"] == "title is required", english
    assert "goodsTitle" not in chinese.json["msg"] + english.json["msg"]
    # a too-long price: the parameter is put into the Chinese text, the field named in Chinese
    long = await api.post_json("/wx/goods/goodsIssue", goods_body("alice", goodsDec="x" * 2001),
                               token)
    assert long.extend["error"] == "商品描述太长了（最多2000个字）", long
    # the rate limit's "what" is translated too
    app.config["limits"]["publish_per_minute_user"] = 1
    assert (await api.post_json("/wx/goods/goodsIssue", goods_body("alice"), token)).code == 200
    limited = await api.post_json("/wx/goods/goodsIssue", goods_body("alice"), token)
    assert limited.status == 429 and limited.extend["error"] == "发布商品太频繁了，请稍后再试"
    assert await app.run_db(lambda: Goods.select().count()) == 1  # the refusals wrote nothing


@pytest.mark.gen_test
async def test_other_refusals_and_answers_follow_the_language(api):
    unknown = await api.get("/wx/nothing/here/at/all")
    assert (unknown.status, unknown.json) == (404, {"code": 100, "msg": "没有这个接口"})
    english = await api.fetch("GET", "/wx/nothing/here/at/all", headers={"Accept-Language": "en"})
    assert english.json == {"code": 100, "msg": "no such endpoint"}
    anonymous = await api.post_json("/wx/goods/goodsIssue", goods_body("bob"))
    assert anonymous.status == 401 and anonymous.extend["error"] == "请先登录"
    bad = await api.fetch("POST", "/wx/user/register", body=b"{", headers={
        "Content-Type": "application/json"})
    assert (bad.status, bad.code, bad.json["msg"]) == (400, 100, "请求内容不是有效的JSON")
    empty = await api.get("/wx/goods/getSimpleGoods", state=1)
    assert (empty.code, empty.json["msg"]) == (100, "没有更多商品了")
    token = await api.login("carol")
    again = await api.get("/wx/user/isRegister", token, openid="carol")
    assert (again.code, again.json["msg"]) == (100, "已经注册过了")


@pytest.mark.gen_test
async def test_chat_refusal_bubbles_follow_the_upgrade_request(api):
    tokens = {o: await api.login(o) for o in ("alice", "bob")}
    chinese = await api.ws("alice", "bob", tokens["alice"])
    chinese.write_message("{not json")
    bubble = await read(chinese)
    assert bubble["type"] == "error" and bubble["code"] == "bad_json", bubble
    assert bubble["fromOpenid"] == "system" and bubble["content"] == "消息格式不正确（不是有效的JSON）"
    chinese.write_message(json.dumps({"toOpenid": "bob", "content": "x" * 2001}))
    too_long = await read(chinese)
    assert too_long["code"] == "too_long" and too_long["content"] == "消息太长了（最多2000个字）"
    url = api.base.replace("http", "ws", 1) + "/wx/alice/bob"
    english = await websocket_connect(HTTPRequest(url, headers={
        "Authorization": "Bearer " + tokens["alice"], "Accept-Language": "en-US"}))
    english.write_message("{not json")
    bubble = await read(english)
    assert bubble["code"] == "bad_json" and bubble["content"] == "the message is not valid JSON"
    chinese.close()
    english.close()
    # a handshake refusal is translated as well (the JSON body of the 403)
    refused = await api.fetch("GET", "/wx/alice/alice", token=tokens["alice"], headers={
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert refused.status == 403 and refused.json == {"code": 100, "msg": "不能和自己聊天"}


@pytest.mark.gen_test
async def test_admin_pages_carry_the_language(api):
    page = await api.get("/admin/login")
    assert page.status == 200 and b'<html lang="zh-CN">' in page.body
    assert "登录".encode() in page.body and b"Sign in" not in page.body
    english = await api.fetch("GET", "/admin/login", headers={"Accept-Language": "en-GB"})
    assert b'<html lang="en-US">' in english.body and b"Sign in" in english.body
    missing = await api.get("/admin/no-such-page")
    assert missing.status == 404 and "没有这个页面。".encode() in missing.body


@pytest.fixture
def english_default(settings_env):
    """locale.default: en_US (config.yaml), set through its environment variable."""
    settings_env["MARKET_LOCALE_DEFAULT"] = "en_US"


@pytest.mark.gen_test
async def test_locale_default_setting_makes_english_the_default(english_default, api, app):
    assert app.config["locale"]["default"] == "en_US"
    unknown = await api.get("/wx/nothing/here/at/all")
    assert unknown.json == {"code": 100, "msg": "no such endpoint"}
    chinese = await api.fetch("GET", "/wx/nothing/here/at/all",
                              headers={"Accept-Language": "zh-CN"})
    assert chinese.json == {"code": 100, "msg": "没有这个接口"}  # a client asking still gets it
