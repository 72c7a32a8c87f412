"""The dashboard's 30-day trends on both databases: counts per China day from stored rows
(listings, reports, chat messages, the review queue), grouped in SQL, drawn as inline SVG and
read back from the page in a real headless Chromium."""
import datetime
import json
import os
import re

import pytest
import tornado.httpserver
import tornado.testing
from playwright.async_api import expect

from application import make_app

from handlers.charts import bar_chart, scale_top
from models.chat import ChatMessage, pair_key
from models.goods import Goods
from models.report import Report
from services import admin_accounts, dashboard
from tests.conftest import Api
from tests.test_admin_pages import PASSWORD, Browser, Session, sign_in

DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def no_kept_days():
    """Each test seeds its own past days: start without counts kept from another test."""
    dashboard.past_days.forget()


def listing(at, state=1, deleted=False, openid="seller"):
    return Goods.create(openid=openid, goods_name="n", goods_title="t", goods_dec="d",
                        goods_price_new="1.00", goods_price_old="2.00", state=state,
                        deleted=deleted, issue_time=at)


def message(at, n=[0]):
    n[0] += 1
    return ChatMessage.create(pair=pair_key("a", "b"), from_openid="a", to_openid="b",
                              content="hi", client_msg_id="m%d" % n[0], send_time=at)


def report(at):
    return Report.create(reporter="a", target_type="goods", target_id="1", reason="r",
                         created_at=at)


def test_counts_per_china_day_at_the_day_boundaries(database):
    # 2026-03-10 12:00 in China; China's 00:00 of the 10th is 2026-03-09 16:00 UTC
    now = datetime.datetime(2026, 3, 10, 4, 0)
    midnight = datetime.datetime(2026, 3, 9, 16, 0)
    assert dashboard.china_midnight_utc(now) == midnight
    listing(midnight)                                   # today, at 00:00:00 exactly
    listing(midnight - datetime.timedelta(seconds=1))   # 23:59:59 yesterday
    listing(midnight - datetime.timedelta(microseconds=1))
    listing(midnight - 2 * DAY + datetime.timedelta(hours=5), state=0)  # waiting, 2 days ago
    listing(midnight - 29 * DAY, state=0)               # the first day shown, waiting
    listing(midnight - 30 * DAY, state=0)               # before the window: waiting, older
    listing(midnight - DAY, state=0, deleted=True)      # taken down: counted as new, not waiting
    listing(midnight + DAY)                             # tomorrow (a wrong clock): not shown
    for at in (midnight + datetime.timedelta(hours=3), midnight - 3 * DAY, midnight - 3 * DAY):
        report(at)
    for i in range(5):
        message(midnight - 7 * DAY + datetime.timedelta(minutes=i))
    message(midnight + datetime.timedelta(hours=11, minutes=59))
    t = dashboard.trends(now)
    assert len(t["days"]) == 30 and t["days"][-1] == "2026-03-10" and t["days"][0] == "2026-02-09"
    by_day = lambda name: {d: n for d, n in zip(t["days"], t[name]) if n}  # noqa: E731
    assert by_day("listings") == {"2026-03-10": 1, "2026-03-09": 3, "2026-03-08": 1,
                                  "2026-02-09": 1}
    assert by_day("reports") == {"2026-03-10": 1, "2026-03-07": 2}
    assert by_day("messages") == {"2026-03-03": 5, "2026-03-10": 1}
    assert by_day("waiting_by_day") == {"2026-03-08": 1, "2026-02-09": 1}
    assert t["waiting"] == 3 and t["waiting_before"] == 1
    assert t["oldest_hours"] == 30 * 24 + 12  # since 2026-01-09 00:00 China time


def test_the_day_counts_are_range_counts_of_an_index(database):
    """Each day of each series is a range count over an indexed column (EXPLAIN names the
    index), all days in one statement: the cost is the index entries of the days counted."""
    from models import is_mysql
    start = datetime.datetime(2026, 1, 1)
    for model, column, index in ((Goods, Goods.issue_time, "goods_issue_time"),
                                 (Report, Report.created_at, "report_created_at"),
                                 (ChatMessage, ChatMessage.send_time, "chat_message_send_time")):
        sql, params = dashboard.range_count(model.select(), column, start).sql()
        plan = database.execute_sql(("EXPLAIN " if is_mysql() else "EXPLAIN QUERY PLAN ") + sql,
                                    params).fetchall()
        assert index in repr(plan), (index, plan)
        if not is_mysql():
            assert "COVERING INDEX" in repr(plan), plan  # the table itself is not read


def test_days_already_over_are_counted_once(database):
    now = datetime.datetime(2026, 3, 10, 4, 0)
    today = dashboard.china_midnight_utc(now)
    listing(today - 3 * DAY)
    assert dashboard.trends(now)["listings"][-4:] == [1, 0, 0, 0]
    listing(today - 3 * DAY)  # a row written into a day already over (only a test does that)
    listing(today)
    again = dashboard.trends(now)["listings"]
    assert again[-4:] == [1, 0, 0, 1]  # today is always counted; the past day was kept
    dashboard.past_days.forget()
    assert dashboard.trends(now)["listings"][-4:] == [2, 0, 0, 1]
    later = dashboard.trends(now + DAY)["listings"]  # the next day: yesterday is now "past"
    assert later[-5:] == [2, 0, 0, 1, 0]


def test_bars_scale_to_a_round_top():
    assert [scale_top(n) for n in (0, 1, 3, 7, 10, 11, 120, 501)] == [
        1, 1, 5, 10, 10, 20, 200, 1000]
    chart = bar_chart(["2026-03-0%d" % d for d in range(1, 5)], [0, 5, 10, 2])
    assert chart["top"] == 10 and chart["total"] == 17 and chart["today"] == 2
    heights = [b["h"] for b in chart["bars"]]
    assert heights == [0, 40, 80, 16] and chart["bars"][2]["y"] == 0


@pytest.mark.gen_test(timeout=90)
async def test_the_dashboard_draws_the_last_30_days_in_a_real_browser(api, app, config, database,
                                                                        tmp_path):
    base = api.base
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    a = await api.login("alice")
    await api.login("bob")
    today = dashboard.china_midnight_utc()
    label = lambda k: (today - k * DAY + datetime.timedelta(hours=8)).strftime("%Y-%m-%d")  # noqa: E731

    def seed():
        for k, n in ((0, 2), (1, 1), (6, 4)):
            for _ in range(n):
                listing(today - k * DAY)
        listing(today - 3 * DAY, state=0)
        for k in (2, 2, 2, 10):
            report(today - k * DAY)
        for k in (4, 4, 29):
            message(today - k * DAY)
    await app.run_db(seed)
    # two messages through the real chat socket to bob (offline): stored, so counted today
    ws = await api.ws("alice", "bob", a, query={"v": "2"})
    for i in range(2):
        ws.write_message(json.dumps({"fromOpenid": "alice", "toOpenid": "bob",
                                     "content": "在吗 %d" % i, "msgId": "x%d" % i},
                                    ensure_ascii=False))
        ack = json.loads(await ws.read_message())
        assert ack["type"] == "ack" and ack["status"] == "stored", ack
    ws.close()

    async with Browser() as b:
        page = b.page
        await sign_in(page, base)
        await page.wait_for_url("**/admin/review")
        reply = await page.goto(base + "/admin/")
        assert "script-src" not in reply.headers["content-security-policy"]
        assert "default-src 'none'" in reply.headers["content-security-policy"]
        await expect(page.locator("#trend-listings svg")).to_be_visible()
        assert await page.locator("script").count() == 0

        async def bars(chart):
            rects = page.locator("#trend-%s svg rect" % chart)
            assert await rects.count() == 30
            out = {}
            for i in range(30):
                r = rects.nth(i)
                n = int(await r.get_attribute("data-count"))
                if n:
                    height = float(await r.get_attribute("height"))
                    out[await r.get_attribute("data-day")] = (n, height)
            return out
        listings = await bars("listings")
        assert {d: n for d, (n, h) in listings.items()} == {label(0): 2, label(1): 1, label(6): 4,
                                                            label(3): 1}
        top = listings[label(6)][1]
        assert top > listings[label(0)][1] > listings[label(1)][1] > 0  # heights follow counts
        reports = await bars("reports")
        assert {d: n for d, (n, h) in reports.items()} == {label(2): 3, label(10): 1}
        messages = await bars("messages")
        assert {d: n for d, (n, h) in messages.items()} == {label(0): 2, label(4): 2, label(29): 1}
        assert {d: n for d, (n, h) in (await bars("waiting")).items()} == {label(3): 1}
        tooltip = await page.locator(
            "#trend-reports rect[data-day='%s'] title" % label(2)).text_content()
        assert tooltip == "%s: 3" % label(2)
        text = await page.inner_text("main")
        assert "2\n今日聊天消息" in text
        assert re.search(r"\b7[2-9] h\n|\b9[0-5] h\n|\b8\d h\n", text), text  # waited 3 days+
        caption = await page.inner_text("#trend-messages figcaption")
        assert "近 30 天: 5" in caption and "今天: 2" in caption
        await page.screenshot(path=os.environ.get("TRENDS_SCREENSHOT") or
                              str(tmp_path / "trends.png"), full_page=True)
    # counted from the database: another application on it (another process, which relayed
    # none of the messages, or this one after a restart) shows the same figures
    other = make_app(config, database)
    await other.start()
    sock, port = tornado.testing.bind_unused_port()
    server = tornado.httpserver.HTTPServer(other)
    server.add_socket(sock)
    try:
        s = Session(Api(api.http, "http://127.0.0.1:%d" % port))
        await s.sign_in()
        body = (await s.get("/admin/")).body.decode()
        assert other.chat.counts["stored"] == 0
        for k, n in ((0, 2), (4, 2), (29, 1)):
            assert 'data-day="%s" data-count="%d"' % (label(k), n) in body
        assert re.search(r"<b>2</b>\s*今日聊天消息", body)
    finally:
        server.stop()
        await other.shutdown(1)
        other.db_executor.shutdown(wait=True)
