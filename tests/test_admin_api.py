"""The mini-program's /wx/admin/* calls on both databases: shapes, effects, audit, refusals."""
import logging

import pytest
from tornado.httpclient import HTTPClientError

from models.admin import AdminAction
from models.goods import Goods, Image, STUDENT_ID
from models.user import User
from process import ratelimit
from services import admin_accounts, tokens

PASSWORD = "correct horse battery"


async def make_admin(app, username="root"):
    await app.run_db(admin_accounts.create_admin, username, PASSWORD)


async def admin_token(api, app, username="root"):
    await make_admin(app, username)
    reply = await api.post_form("/wx/admin/adminLogin", {"username": username, "passwd": PASSWORD})
    assert reply.code == 200, reply
    return reply.json["token"]


async def make_goods(app, openid, title="旧自行车🚲", state=0):
    def create():
        return Goods.create(openid=openid, goods_name="单车", goods_title=title, goods_dec="好",
                            goods_price_new="10.00", goods_price_old="20.00", state=state).gid
    return await app.run_db(create)


async def audit_actions(app):
    return await app.run_db(lambda: [(a.actor, a.action, a.target, a.reason)
                                     for a in AdminAction.select().order_by(AdminAction.id)])


@pytest.mark.gen_test
async def test_admin_login_shapes_and_wrong_password(api, app, config, caplog):
    caplog.set_level(logging.DEBUG)
    await make_admin(app)
    wrong = await api.post_form("/wx/admin/adminLogin", {"username": "root", "passwd": "nope"})
    assert wrong.status == 200 and wrong.json["code"] == 100 and "token" not in wrong.json
    unknown = await api.post_form("/wx/admin/adminLogin", {"username": "ghost", "passwd": "x"})
    assert unknown.code == 100
    ok = await api.post_form("/wx/admin/adminLogin", {"username": "root", "passwd": PASSWORD})
    assert ok.json["code"] == 200 and ok.json["msg"]
    assert ok.json["token"] == ok.json["extend"]["token"]
    claims = tokens.verify(config["auth"]["token_secret"], ok.json["token"])
    assert claims["role"] == "admin" and claims["sub"] == "root"
    assert claims["exp"] - claims["iat"] == int(config["admin"]["session_hours"] * 3600)
    assert ("root", "admin.login", "mini-program", "") in await audit_actions(app)
    assert (await api.get("/wx/admin/captcha")).code == 200
    assert PASSWORD not in caplog.text and "nope" not in caplog.text


@pytest.mark.gen_test
async def test_repeated_failed_logins_are_slowed_down(api, app):
    await make_admin(app)
    for _ in range(5):
        reply = await api.post_form("/wx/admin/adminLogin", {"username": "root", "passwd": "bad"})
        assert reply.code == 100 and reply.status == 200
    refused = await api.post_form("/wx/admin/adminLogin", {"username": "root",
                                                           "passwd": PASSWORD})
    assert refused.status == 429 and refused.code == 100 and "秒后再试" in refused.json["msg"]


@pytest.mark.gen_test
async def test_admin_calls_refuse_users_and_anonymous(api, app):
    user = await api.login("alice")
    gid = await make_goods(app, "alice")
    calls = [("/wx/admin/setState", {"gid": gid, "state": 1}),
             ("/wx/admin/delete", {"gid": gid}),
             ("/wx/admin/getAllUserSimInfo", {}),
             ("/wx/admin/userCheck", {"openid": "alice", "state": 1}),
             ("/wx/admin/getNotice", {"mid": 1, "noticeInfo": "hacked"})]
    for path, params in calls:
        anonymous = await api.get(path, **params)
        assert anonymous.status == 401 and anonymous.code == 100, (path, anonymous)
        as_user = await api.get(path, user, **params)
        assert as_user.status == 403 and as_user.code == 100, (path, as_user)
        posted = await api.post_form(path, params, user)
        assert posted.status == 403 and posted.code == 100, (path, posted)
    goods = await app.run_db(Goods.get_by_id, gid)
    assert goods.state == 0 and not goods.deleted
    assert (await app.run_db(User.by_openid, "alice")).state == 0
    notices = await api.get("/wx/admin/getNotice")
    assert notices.extend["Info1"] == {"noticeInfo": ""}
    assert await audit_actions(app) == []


@pytest.mark.gen_test
async def test_set_state_and_delete_by_get_and_post(api, app):
    token = await admin_token(api, app)
    await api.login("bob")
    approve, reject, gone = [await make_goods(app, "bob") for _ in range(3)]
    assert (await api.get("/wx/admin/setState", token, gid=approve, state="1")).code == 200
    reply = await api.post_form("/wx/admin/setState",
                                {"gid": str(reject), "state": "2", "reason": "照片模糊😅"}, token)
    assert reply.code == 200 and reply.extend == {"gid": reject, "state": 2}
    assert (await api.post_json("/wx/admin/delete", {"gid": gone}, token)).code == 200
    rows = {g.gid: g for g in await app.run_db(lambda: list(Goods.select()))}
    assert rows[approve].state == 1 and rows[approve].reason == ""
    assert rows[reject].state == 2 and rows[reject].reason == "照片模糊😅"
    assert rows[gone].deleted and rows[gone].state == 0
    assert [a[1:] for a in await audit_actions(app)][-3:] == [
        ("goods.approve", "goods:%d" % approve, ""),
        ("goods.reject", "goods:%d" % reject, "照片模糊😅"),
        ("goods.delete", "goods:%d" % gone, "")]
    for bad in ({"gid": approve, "state": 5}, {"gid": "x", "state": 1}, {"state": 1}):
        reply = await api.get("/wx/admin/setState", token, **bad)
        assert reply.status == 400 and reply.code == 100
    missing = await api.get("/wx/admin/setState", token, gid=999999, state=1)
    assert missing.status == 404 and missing.code == 100


@pytest.mark.gen_test
async def test_user_lists_and_profile(api, app):
    token = await admin_token(api, app)
    await api.login("carol", wxname="卡罗尔")
    await api.login("dave")

    def add_student_id():
        User.update(state=3, qq="123").where(User.openid == "carol").execute()
        Image.create(openid="carol", flag=STUDENT_ID, url="/uploads/private/abc.jpg")
    await app.run_db(add_student_id)
    users = await api.get("/wx/admin/getAllUserSimInfo", token)
    assert list(users.extend) == ["0", "1"]
    assert users.extend["0"] == {"openid": "carol", "wxname": "卡罗尔",
                                 "headImg": "https://img.example/carol", "qq": "123",
                                 "wx": "w", "state": 3}
    full = await api.get("/wx/admin/getDeUserAndImage", token, openid="carol")
    uimage = full.extend["uimage"]
    assert uimage["openid"] == "carol" and uimage["state"] == 3 and uimage["qq"] == "123"
    assert len(uimage["image"]) == 1
    assert uimage["image"][0]["imageUrl"].startswith("http://127.0.0.1:")
    assert uimage["image"][0]["imageUrl"].endswith("/uploads/private/abc.jpg")
    dave = await api.login("dave")
    for who in (None, dave):
        public = (await api.get("/wx/admin/getDeUserAndImage", who, openid="carol")).extend
        assert public["uimage"]["openid"] == "carol" and public["uimage"]["wxname"] == "卡罗尔"
        assert public["uimage"]["image"] == [] and public["uimage"]["qq"] == ""
    assert (await api.get("/wx/admin/getDeUserAndImage", openid="nobody")).status == 404


@pytest.mark.gen_test(timeout=20)
async def test_user_check_verify_reject_block_unblock(api, app):
    token = await admin_token(api, app)
    erin = await api.login("erin")
    await api.login("fred")
    await app.run_db(lambda: User.update(state=3).where(User.openid == "erin").execute())
    reply = await api.get("/wx/admin/userCheck", token, openid="erin", state=2, reason="学生证看不清")
    assert reply.code == 200
    seen = await api.get("/wx/admin/userIsOk", erin, openid="erin")
    assert seen.extend == {"state": 2, "result": {"noticeInfo": "学生证看不清"}}
    assert (await api.get("/wx/admin/userCheck", token, openid="erin", state=1)).code == 200
    assert (await api.get("/wx/admin/userIsOk", erin, openid="erin")).extend["state"] == 1
    socket = await api.ws("erin", "fred", erin)
    blocked = await api.post_form("/wx/admin/userCheck",
                                  {"openid": "erin", "state": "10", "reason": "spam"}, token)
    assert blocked.code == 200 and blocked.extend["state"] == 10
    assert await socket.read_message() is None and socket.close_code == 4403
    with pytest.raises(HTTPClientError) as refused:
        await api.ws("erin", "fred", erin)
    assert refused.value.code == 403
    seen = await api.get("/wx/admin/userIsOk", erin, openid="erin")
    assert seen.extend == {"state": 10, "result": {"noticeInfo": "spam"}}
    restored = await api.get("/wx/admin/userCheck", token, openid="erin", state=0)
    assert restored.extend["state"] == 1  # back to verified, the state before the block
    (await api.ws("erin", "fred", erin)).close()
    bad = await api.get("/wx/admin/userCheck", token, openid="erin", state=7)
    assert bad.status == 400 and bad.code == 100


@pytest.mark.gen_test
async def test_notices_always_three_slots(api, app):
    token = await admin_token(api, app)
    empty = await api.get("/wx/admin/getNotice")
    assert empty.json == {"code": 200, "msg": "success", "extend": {
        "Info1": {"noticeInfo": ""}, "Info2": {"noticeInfo": ""}, "Info3": {"noticeInfo": ""}}}
    updated = await api.get("/wx/admin/getNotice", token, mid="2", noticeInfo="期末闲置大促🎉")
    assert updated.code == 200 and updated.extend["Info2"] == {"noticeInfo": "期末闲置大促🎉"}
    again = await api.post_form("/wx/admin/getNotice", {"mid": 2, "noticeInfo": "<b>x</b>"}, token)
    assert again.extend["Info2"]["noticeInfo"] == "<b>x</b>"
    read = await api.get("/wx/admin/getNotice")
    assert read.extend == {"Info1": {"noticeInfo": ""}, "Info2": {"noticeInfo": "<b>x</b>"},
                           "Info3": {"noticeInfo": ""}}
    assert (await api.get("/wx/admin/getNotice", token, mid=4, noticeInfo="x")).status == 400


@pytest.mark.gen_test
async def test_without_require_token_admin_calls_trust_everyone(api, app):
    app.config["auth"]["require_token"] = False
    await api.login("gina")
    gid = await make_goods(app, "gina")
    assert (await api.get("/wx/admin/setState", gid=gid, state=1)).code == 200
    assert (await api.get("/wx/admin/getAllUserSimInfo")).extend["0"]["openid"] == "gina"
    assert (await app.run_db(Goods.get_by_id, gid)).state == 1
    assert (await audit_actions(app))[-1][:2] == ("anonymous", "goods.approve")


@pytest.mark.gen_test
async def test_student_id_urls_are_signed(api, app):
    token = await admin_token(api, app)
    await api.login("hana")
    await app.run_db(lambda: Image.create(openid="hana", flag=STUDENT_ID, url="ab" * 16 + ".jpg"))
    uimage = (await api.get("/wx/admin/getDeUserAndImage", token, openid="hana")).extend["uimage"]
    url = uimage["image"][0]["imageUrl"]
    assert "/wx/images/private/" + "ab" * 16 + ".jpg?e=" in url and "&s=" in url
    tampered = await api.fetch("GET", url[len(api.base):-2] + "00")
    assert tampered.status in (403, 404)


def test_create_admin_command_reads_the_password_from_stdin(tmp_path):
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, MARKET_DATABASE_URL="sqlite:///" + str(tmp_path / "a.db"))
    config = tmp_path / "c.yaml"
    config.write_text("")
    run = lambda *args, stdin="": subprocess.run(  # noqa: E731
        [sys.executable, os.path.join(root, "main.py"), "--config", str(config)] + list(args),
        input=stdin, capture_output=True, text=True, env=env, timeout=60)
    assert run("migrate").returncode == 0
    made = run("create-admin", "--username", "ops", stdin=PASSWORD + "\n" + PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    assert PASSWORD not in made.stdout + made.stderr
    mismatch = run("create-admin", "--username", "ops2", stdin=PASSWORD + "\nother\n")
    assert mismatch.returncode != 0
    from models import bind, open_database
    database = bind(open_database(env["MARKET_DATABASE_URL"], 1))
    with database.connection_context():
        assert admin_accounts.check_password("ops", PASSWORD)
        assert not admin_accounts.check_password("ops2", PASSWORD)
    database.close_all()


@pytest.mark.gen_test
async def test_admin_login_by_json_and_never_by_get(api, app):
    await make_admin(app)
    ok = await api.post_json("/wx/admin/adminLogin", {"username": "root", "passwd": PASSWORD})
    assert ok.code == 200 and ok.json["token"]
    bad = await api.post_json("/wx/admin/adminLogin", {"username": "root", "passwd": ["x"]})
    assert bad.status == 400 and bad.code == 100
    by_get = await api.get("/wx/admin/adminLogin", username="root", passwd=PASSWORD)
    assert by_get.status == 405 and by_get.code == 100 and "token" not in by_get.json


def test_sign_in_throttle_by_name_and_address_with_a_backstop():
    throttle = ratelimit.SignInThrottle(free_pair=2, free_address=3, free_name=6, window=100, cap=8,
                                     name_cap=4)
    throttle.check("1.1.1.1", "root", now=0)
    for t in (1, 2):
        throttle.failed("1.1.1.1", "Root", now=t)
    assert throttle.wait_seconds("1.1.1.1", "ｒｏｏｔ", now=2) == 1  # one name, however spelt
    with pytest.raises(Exception) as refused:
        throttle.check("1.1.1.1", "ROOT", now=2.5)
    assert refused.value.status == 429
    # another address may still try root: one address cannot lock the name out for everyone
    assert throttle.wait_seconds("9.9.9.9", "root", now=2) == 0
    throttle.check("9.9.9.9", "root", now=2.5)
    # one address across names
    throttle.failed("1.1.1.1", "other", now=3)
    assert throttle.wait_seconds("1.1.1.1", "third", now=3) == 1
    assert throttle.wait_seconds("5.5.5.5", "other", now=3) == 0
    # the backstop: root guessed from many addresses is slowed everywhere, with a short cap
    for i, t in enumerate((4, 5, 6, 7)):
        throttle.failed("2.0.0.%d" % i, "root", now=t)
    assert throttle.wait_seconds("8.8.8.8", "root", now=7) == 1  # 6 failures: 2**0
    for i in range(6):
        throttle.failed("3.0.0.%d" % i, "root", now=8)
    assert throttle.wait_seconds("8.8.8.8", "root", now=8) == 4  # name_cap, not cap
    assert throttle.wait_seconds("8.8.8.8", "alice", now=8) == 0  # the backstop is per name
    assert throttle.wait_seconds("8.8.8.8", "root", now=8 + 101) == 0  # the window passed
    throttle.succeeded("1.1.1.1", "rooT")
    assert ("pair", ("root", "1.1.1.1")) not in throttle.failures


@pytest.mark.gen_test
async def test_right_password_from_another_address_while_root_is_throttled(api, app, config):
    """The pages and adminLogin share the throttle; behind nginx (xheaders) each client has its
    own address, so a guesser at one address does not lock the real admin out."""
    import tornado.httpserver
    import tornado.testing
    from tests.conftest import Api
    await make_admin(app)
    sock, port = tornado.testing.bind_unused_port()
    server = tornado.httpserver.HTTPServer(app, xheaders=True)
    server.add_socket(sock)
    proxied = Api(api.http, "http://127.0.0.1:%d" % port)

    async def login(name, password, address):
        return await proxied.fetch("POST", "/wx/admin/adminLogin", None, None,
                                   "username=%s&passwd=%s" % (name, password),
                                   {"Content-Type": "application/x-www-form-urlencoded",
                                    "X-Real-Ip": address})
    try:
        for _ in range(5):
            assert (await login("root", "guess", "10.0.0.66")).code == 100
        assert (await login("root", PASSWORD, "10.0.0.66")).status == 429
        assert (await login("ROOT", PASSWORD, "10.0.0.66")).status == 429  # same name
        ok = await login("root", PASSWORD, "10.0.0.7")
        assert ok.code == 200 and ok.json["token"], ok
    finally:
        server.stop()
