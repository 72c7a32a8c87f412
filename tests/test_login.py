"""Login by openid through (fake) WeChat, tokens, and the profile calls' exact shapes."""
import logging
import time

import pytest

from services import tokens
from tests.wechat_fake import SESSION_KEY


@pytest.mark.gen_test
async def test_get_openid_uses_server_credentials_and_hides_session_key(api, wechat, caplog):
    caplog.set_level(logging.DEBUG)
    reply = await api.get("/wx/user/getOpenid", code="ok-alice", appid="client-appid",
                          secret="client-shipped-secret")
    assert reply.status == 200
    assert reply.json["openid"] == "alice" and reply.json["code"] == 200
    assert tokens.verify(api_secret(api), reply.json["token"])["sub"] == "alice"
    assert wechat.calls[-1] == {"appid": "wx-server-appid", "secret": "server-secret-xyz",
                                "js_code": "ok-alice", "grant_type": "authorization_code"}
    assert SESSION_KEY.encode() not in reply.body
    assert SESSION_KEY not in caplog.text and "server-secret-xyz" not in caplog.text
    # the user row exists: isRegister says "not registered yet" (200), then register works
    token = reply.json["token"]
    assert (await api.get("/wx/user/isRegister", token, openid="alice")).code == 200


def api_secret(api):
    return api.config["auth"]["token_secret"]


@pytest.fixture
def api(api, config):
    api.config = config
    return api


@pytest.mark.parametrize("code,status", [
    ("err-40029", 401), ("err-40163", 401), ("err-45011", 429), ("err-40226", 403),
    ("err--1", 503), ("err-99999", 503), ("garbage", 503), ("http500", 503), ("slow", 503),
    ("", 400),
])
@pytest.mark.gen_test(timeout=20)
async def test_wechat_failures_answer_clearly(api, code, status):
    reply = await api.get("/wx/user/getOpenid", code=code)
    assert reply.status == status, reply
    assert reply.json["code"] == 100 and reply.json["msg"]
    assert "token" not in reply.json


@pytest.mark.gen_test
async def test_wechat_unreachable_is_503(api, app):
    app.config["wechat"]["api_base"] = "http://127.0.0.1:9"
    reply = await api.get("/wx/user/getOpenid", code="ok-bob")
    assert reply.status == 503 and reply.json["code"] == 100


@pytest.mark.gen_test
async def test_register_and_profile_shapes(api):
    token = await api.login("carol", register=False)
    assert (await api.get("/wx/user/isRegister", token, openid="carol")).code == 200
    body = {"openid": "carol", "wxname": "小明🚲", "headImg": "https://img/1.png", "sex": 1,
            "uname": "张三😀", "qq": "12345", "wx": "wx_zs"}
    assert (await api.post_json("/wx/user/register", body, token)).code == 200
    assert (await api.get("/wx/user/isRegister", token, openid="carol")).code == 100
    info = await api.get("/wx/user/getUserInfo", token, openid="carol")
    privacy = info.json["extend"].pop("privacy")  # newer clients: the policy and consent
    assert info.json == {"code": 200, "msg": "success",
                         "extend": {"userinfo": {"uname": "张三😀", "qq": "12345", "wx": "wx_zs"}}}
    assert privacy["current"] is False and privacy["consentedVersion"] == ""
    update = {"openid": "carol", "school": "二手大学🎓", "xuehao": "2024001", "uclass": "计科1班"}
    assert (await api.post_json("/wx/user/updateUserInfo", update, token)).code == 200
    de = await api.get("/wx/user/getUserDeInfo", token, openid="carol")
    assert de.extend == {"userDe": {"school": "二手大学🎓", "xuehao": "2024001", "uclass": "计科1班"},
                         "rating": {"average": None, "count": 0, "sales": 0}}  # additive (issue 18)
    ok = await api.get("/wx/admin/userIsOk", token, openid="carol")
    assert ok.extend == {"state": 0, "result": {"noticeInfo": ""}}
    assert (await api.get("/wx/admin/isAdmin", token, openid="carol")).code == 100


@pytest.mark.gen_test
async def test_register_validates_fields(api):
    token = await api.login("dave", register=False)
    for bad in ({"openid": "dave", "wxname": "x" * 65}, {"openid": "dave", "sex": "abc"},
                {"openid": "dave", "qq": ["list"]}, {"openid": "dave", "headImg": "javascript:alert(1)"},
                {"openid": "dave", "headImg": "data:image/png;base64,AAAA"}):
        reply = await api.post_json("/wx/user/register", bad, token)
        assert reply.status == 400 and reply.json["code"] == 100 and reply.json["msg"]
    reply = await api.fetch("POST", "/wx/user/register", token=token, body=b"{not json")
    assert reply.status == 400 and "JSON" in reply.json["msg"]


@pytest.mark.gen_test
async def test_token_checks(api, config):
    token = await api.login("erin")
    secret = config["auth"]["token_secret"]
    missing = await api.get("/wx/user/getUserInfo", openid="erin")
    assert missing.status == 401 and missing.json["code"] == 100
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert (await api.get("/wx/user/getUserInfo", tampered, openid="erin")).status == 401
    expired = tokens.issue(secret, "erin", 60, now=time.time() - 3600)
    reply = await api.get("/wx/user/getUserInfo", expired, openid="erin")
    assert reply.status == 401 and "过期" in reply.json["msg"]
    other_key = tokens.issue("another-secret-of-enough-length-for-hs256", "erin", 60)
    assert (await api.get("/wx/user/getUserInfo", other_key, openid="erin")).status == 401
    wrong = await api.get("/wx/user/getUserInfo", token, openid="frank")
    assert wrong.status == 403 and wrong.json["code"] == 100
    by_query = await api.fetch("GET", "/wx/user/getUserInfo", {"openid": "erin", "token": token})
    assert by_query.status == 200


@pytest.mark.gen_test
async def test_without_require_token_the_openid_is_trusted(api, app):
    app.config["auth"]["require_token"] = False
    reply = await api.post_json("/wx/user/register", {"openid": "gina", "wxname": "G"})
    assert reply.code == 200
    assert (await api.get("/wx/user/isRegister", openid="gina")).code == 100
    assert (await api.get("/wx/user/getUserInfo", openid="bad openid!")).status == 400


@pytest.mark.gen_test
async def test_dev_login_is_off_unless_configured(api, app):
    app.config["auth"]["dev_login"] = False
    reply = await api.get("/wx/user/devLogin", openid="x")
    assert reply.status == 404 and reply.json["code"] == 100


@pytest.mark.gen_test
async def test_unknown_path_and_errors_are_envelopes(api):
    reply = await api.get("/nothing/here")
    assert reply.status == 404 and reply.json["code"] == 100
    reply = await api.get("/wx/goods/typo")
    assert reply.status == 404 and reply.json["code"] == 100
    reply = await api.fetch("DELETE", "/wx/user/getOpenid")
    assert reply.status == 405 and reply.json["code"] == 100


@pytest.mark.gen_test
async def test_login_without_wechat_credentials_says_so(api, app, wechat):
    app.config["wechat"]["appid"] = ""
    reply = await api.get("/wx/user/getOpenid", code="ok-zed")
    assert reply.status == 503 and "wechat.appid" in reply.json["msg"]
    assert wechat.calls == []
