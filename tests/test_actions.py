"""The shape of every change (issue 15): actions run their follow-ups after the commit, from every
entry point alike; follow-ups are tracked and stopped at shutdown; long-lived objects are made in
make_app; rules hold for every entry point (a rejection needs a reason; a listing's shape is
checked before its text goes to WeChat). The layers are tests/test_house.py's. Both databases
where a database is involved."""
import asyncio
import logging

import pytest

from actions.context import FollowUps
from models.admin import AdminAction
from models.goods import PENDING, Goods
from services import admin_accounts, images, moderation
from errors import Invalid
from tests.chat_helpers import read, users
from tests.test_goods import goods_body

def test_the_application_keeps_no_follow_ups_of_its_own(config, database):
    from application import MarketApp
    for name in ("goods_reviewed", "user_checked", "background"):
        assert not hasattr(MarketApp, name)


# -- follow-ups -------------------------------------------------------------------------------
@pytest.mark.gen_test(timeout=10)
async def test_a_failed_follow_up_is_logged_with_its_traceback(caplog):
    async def broken():
        raise RuntimeError("WeChat said no")
    follow_ups = FollowUps()
    with caplog.at_level(logging.ERROR, logger="market.actions"):
        task = follow_ups.later(broken(), "review notice")
        await asyncio.wait([task])
        await asyncio.sleep(0)
    record = next(r for r in caplog.records if "review notice" in r.getMessage())
    assert "WeChat said no" in record.getMessage() and record.exc_info is not None
    assert follow_ups.running == set()


@pytest.mark.gen_test(timeout=10)
async def test_shutdown_waits_for_follow_ups_then_cancels_what_is_left(app):
    finished, cancelled = [], []

    async def quick():
        await asyncio.sleep(0.05)
        finished.append(True)

    async def stuck():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
    app.actions.later(quick(), "quick")
    app.actions.later(stuck(), "stuck")
    await app.shutdown(0.5)
    assert finished == [True] and cancelled == [True]
    assert app.actions.follow_ups.running == set()


@pytest.mark.gen_test(timeout=10)
async def test_long_lived_objects_are_made_in_make_app_and_stopped_in_shutdown(app, api):
    throttle, views = app.sign_in_throttle, app.views
    assert views._task and not views._task.done()  # started with the app, not by a first view
    await app.run_db(admin_accounts.create_admin, "root", "correct horse battery")
    assert (await api.post_form("/wx/admin/adminLogin",
                                {"username": "root", "passwd": "wrong"})).code == 100
    assert app.sign_in_throttle is throttle and throttle.failures  # the same one, counting
    await app.shutdown(0.2)
    assert views._task is None


# -- one follow-up path for every entry point ---------------------------------------------------
@pytest.mark.gen_test(timeout=30)
async def test_a_block_closes_the_users_sockets_from_every_entry_point(api, app):
    from services import reports
    t = await users(api, "mod", "bob")
    await app.run_db(admin_accounts.create_admin, "root", "correct horse battery")
    login = await api.post_form("/wx/admin/adminLogin", {"username": "root",
                                                         "passwd": "correct horse battery"})
    admin = login.json["token"]

    async def blocked_after(block):
        ws = await api.ws("bob", "mod", t["bob"])
        await block()
        assert await read(ws) is None and ws.close_code == 4403
        await api.get("/wx/admin/userCheck", admin, openid="bob", state=0)  # unblock again

    await blocked_after(lambda: api.get("/wx/admin/userCheck", admin, openid="bob", state=10))

    async def by_report():
        assert (await api.post_json("/wx/report", {"openid": "mod", "targetType": "user",
                                                   "targetId": "bob", "reason": "spam"},
                                    t["mod"])).code == 200
        from actions.reports import do_act_on_reports
        await do_act_on_reports(app.actions, "root", "user", "bob", "block", "spam")
    await blocked_after(by_report)
    assert await app.run_db(reports.open_count) == 0


# -- item 3: a rejection needs a reason, whoever rejects ---------------------------------------
@pytest.mark.gen_test(timeout=30)
async def test_set_state_cannot_reject_without_a_reason(api, app):
    t = await users(api, "sam")
    gid = (await api.post_json("/wx/goods/goodsIssue", goods_body("sam"), t["sam"])).extend["gid"]
    await app.run_db(admin_accounts.create_admin, "root", "correct horse battery")
    admin = (await api.post_form("/wx/admin/adminLogin", {"username": "root",
                                                          "passwd": "correct horse battery"})
             ).json["token"]
    for params in ({"gid": gid, "state": 2}, {"gid": gid, "state": "2", "reason": ""},
                   {"gid": gid, "state": "2", "reason": "   "}):
        reply = await api.get("/wx/admin/setState", admin, **params)
        assert reply.status == 400 and reply.json == {
            "code": 100, "msg": "请填写卖家将看到的原因"}, reply
    listing = await app.run_db(Goods.get_by_id, gid)
    assert listing.state == PENDING and listing.reason == ""
    assert await app.run_db(AdminAction.select().where(
        AdminAction.action == "goods.reject").count) == 0
    with pytest.raises(Invalid):  # the rule itself, for any future entry point
        await app.run_db(moderation.review_goods, "root", gid, 2)
    # approving needs none (the published client sends none), rejecting with one works
    assert (await api.get("/wx/admin/setState", admin, gid=gid, state=1)).code == 200
    assert (await api.get("/wx/admin/setState", admin, gid=gid, state=2,
                          reason="照片模糊")).code == 200


# -- item 4: the shape first, then WeChat -------------------------------------------------------
@pytest.fixture
def settings_env(settings_env):
    settings_env.update(MARKET_MODERATION_ENABLED="true",
                        MARKET_LIMITS_PUBLISH_PER_MINUTE_USER="100")
    return settings_env


@pytest.mark.gen_test(timeout=30)
async def test_a_bad_listing_is_refused_before_its_text_goes_to_wechat(api, app, wechat):
    t = await users(api, "sam")
    before = len(wechat.text_checks)
    for bad in (dict(goodsName="书" * 101), dict(goodsDec=None), dict(goodsPriceNew="-1"),
                dict(goodsTitle=["a list"])):
        body = {k: v for k, v in goods_body("sam", **bad).items() if v is not None}
        reply = await api.post_json("/wx/goods/goodsIssue", body, t["sam"])
        assert reply.status == 400 and reply.code == 100 and reply.extend["error"] == reply.json["msg"]
    assert len(wechat.text_checks) == before  # no msgSecCheck for a listing that can't be stored
    assert await app.run_db(Goods.select().count) == 0
    risky = await api.post_json("/wx/goods/goodsIssue", goods_body("sam", goodsName="RISKY"), t["sam"])
    assert risky.status == 400 and risky.extend == {"error": "内容含有违规信息，请修改后再发布"}
    assert len(wechat.text_checks) == before + 1
    ok = await api.post_json("/wx/goods/goodsIssue", goods_body("sam"), t["sam"])
    assert ok.code == 200 and len(wechat.text_checks) == before + 2


@pytest.mark.gen_test(timeout=30)
async def test_a_too_long_comment_or_name_costs_no_wechat_call(api, app, wechat):
    t = await users(api, "sam")
    gid = (await api.post_json("/wx/goods/goodsIssue", goods_body("sam"), t["sam"])).extend["gid"]
    before = len(wechat.text_checks)
    long_comment = await api.post_json("/wx/pl/addMainComments", {"info": {
        "goodId": gid, "fromOpenid": "sam", "content": "字" * 5000}}, t["sam"])
    long_name = await api.post_json("/wx/user/register", {"openid": "sam", "wxname": "名" * 65},
                                    t["sam"])
    assert long_comment.status == 400 and long_name.status == 400
    assert len(wechat.text_checks) == before


# -- item 9: one builder of image URLs --------------------------------------------------------
def test_one_builder_of_image_urls():
    assert images.upload_url("https://m.example", "a.jpg") == "https://m.example/uploads/a.jpg"
    assert images.upload_url("", "a.jpg") == "/uploads/a.jpg"  # the admin pages: same host
    assert images.upload_url("https://m.example", "https://cdn/x.png") == "https://cdn/x.png"
    assert images.upload_url("https://m.example", None) == ""
    name = "0" * 32 + ".jpg"
    signed = images.photo_url("https://m.example", "secret", name)
    assert signed.startswith("https://m.example/wx/images/private/" + name + "?e=")
    assert images.photo_url("", "secret", "/uploads/old.jpg") == "/uploads/old.jpg"


# -- item 11: metrics say why the database figures are missing ----------------------------------
@pytest.mark.gen_test(timeout=10)
async def test_metrics_log_why_the_database_figures_are_missing(app, caplog):
    async def down(fn, *args):
        raise OSError("connection refused")
    with caplog.at_level(logging.WARNING, logger="market.metrics"):
        await app.metrics.refresh(down)
    assert app.metrics.database_up == 0
    assert any("OSError: connection refused" in r.getMessage() for r in caplog.records)


# -- one root: every REST kind spends the address budget ---------------------------------------
@pytest.mark.gen_test(timeout=30)
async def test_a_streamed_upload_spends_the_address_budget_like_every_api_call(api, app):
    """UploadHandler refuses from the headers in its own prepare(); it must still spend the
    per-address budget of AppHandler.limit_address (ApiHandler.prepare is a coroutine, so
    calling it without awaiting spent nothing)."""
    from tests.test_images import multipart, picture
    t = await users(api, "sam")
    app.config["limits"]["per_minute_address"] = 2
    app.limiter.buckets.clear()
    body, ctype = multipart({"openid": "sam", "flag": "0"},
                            [("file", "p.png", "image/png", picture("PNG"))])
    statuses = []
    for _ in range(3):
        reply = await api.fetch("POST", "/wx/images/upload", token=t["sam"], body=body,
                                headers={"Content-Type": ctype})
        statuses.append(reply.status)
    assert statuses == [404, 404, 429]  # no listing yet, twice; then the address budget is spent
