"""IP region (issue 26, item 3), over real HTTP on both databases, behind a proxy
(server.xheaders): the province (abroad: the country) of an account's latest request on its
public profile, listing detail and comments; unknown (loopback, private, IPv6) is ""; the raw
address only for admins; recorded at login and at most once per window otherwise; X-Real-IP /
X-Forwarded-For from a peer that is not a trusted proxy ignored; the setting turns it all off."""
import pytest

from models.user import User
from services import admin_accounts, ip_region
from tests.test_admin_pages import PASSWORD, Session
from tests.test_comments import comment
from tests.test_goods import approve, publish, roomy_limits  # noqa: F401
from tests.test_wanted import admin

ADDRESSES = [  # address, what its public page shows (ip2region data of 2024-02-28)
    ("223.104.1.1", "广东"), ("36.110.1.1", "北京"), ("61.128.101.1", "新疆"),
    ("218.22.1.1", "安徽"), ("101.226.1.1", "上海"), ("1.36.0.1", "中国香港"),
    ("140.112.1.1", "中国台湾"), ("8.8.8.8", "美国"), ("133.1.1.1", "日本"),
    ("127.0.0.1", ""), ("10.1.2.3", ""), ("192.168.0.7", ""), ("100.64.0.1", ""),
    ("::1", ""), ("2001:db8::1", ""), ("::ffff:218.22.1.1", "安徽"),
]


@pytest.fixture
def settings_env(settings_env):
    settings_env.update(MARKET_SERVER_XHEADERS="true", MARKET_PRIVACY_IP_RECORD_MINUTES="10",
                        MARKET_LIMITS_PUBLISH_PER_MINUTE_USER="1000",
                        MARKET_LIMITS_LOGIN_PER_MINUTE_USER="1000",
                        MARKET_LIMITS_PER_MINUTE_ADDRESS="100000")
    return settings_env


async def login_from(api, openid, address, header="X-Real-Ip"):
    reply = await api.fetch("GET", "/wx/user/devLogin", {"openid": openid},
                            headers={header: address})
    assert reply.status == 200, reply
    return reply.json["token"]


async def shown(api, app, openid, token=None):
    """ipRegion of `openid` on its public profile (anonymous, or with `token`)."""
    await app.ip_recorder.flush()
    reply = await api.get("/wx/admin/getDeUserAndImage", token, openid=openid)
    assert reply.code == 200, reply
    return reply.extend["uimage"]


@pytest.mark.gen_test(timeout=90)
async def test_region_of_the_latest_login_on_profile_listing_and_comments(api, app, config):
    token = await api.login("dan")
    for address, expected in ADDRESSES:
        await login_from(api, "dan", address)
        uimage = await shown(api, app, "dan")
        assert uimage["ipRegion"] == expected, (address, uimage)
        assert "lastIp" not in uimage and address not in str(uimage)
    await login_from(api, "dan", "223.104.1.1")
    gid = await publish(api, token, "dan")
    await approve(app, gid)
    assert (await comment(api, token, "dan", gid, "还在")).code == 200
    await app.ip_recorder.flush()
    detail = await api.get("/wx/goods/getDeGoodfwl", gid=gid)
    assert detail.extend["goodInfo"]["ipRegion"] == "广东", detail
    comments = await api.get("/wx/pl/getAllComments", gid=gid, openid="dan")
    assert comments.json[0]["ipRegion"] == "广东"
    for body in (detail.body, comments.body):
        assert b"223.104.1.1" not in body  # never the raw address in a public answer
    # an admin sees the raw address: the API with an admin token, and the user's admin page
    assert (await shown(api, app, "dan", admin(config)))["lastIp"] == "223.104.1.1"
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    session = Session(api)
    await session.sign_in()
    page = (await session.get("/admin/users/dan")).body.decode()
    assert "223.104.1.1" in page and "广东" in page


@pytest.mark.gen_test(timeout=60)
async def test_recorded_at_login_and_at_most_once_per_window(api, app):
    token = await login_from(api, "eve", "223.104.1.1")
    assert (await shown(api, app, "eve"))["ipRegion"] == "广东"
    # later requests within the window change nothing: no write per request
    written = app.ip_recorder.written
    for _ in range(5):
        r = await api.fetch("GET", "/wx/user/getUserInfo", {"openid": "eve"}, token,
                            headers={"X-Real-Ip": "36.110.1.1"})
        assert r.status in (200, 404)
    assert (await shown(api, app, "eve"))["ipRegion"] == "广东"
    assert app.ip_recorder.written == written
    # once the window has passed, the next request is recorded (the clock moved on)
    app.ip_recorder.seen["eve"] -= 601
    await api.fetch("GET", "/wx/user/getUserInfo", {"openid": "eve"}, token,
                    headers={"X-Real-Ip": "36.110.1.1"})
    assert (await shown(api, app, "eve"))["ipRegion"] == "北京"
    # a login always records, and X-Forwarded-For's last hop counts without X-Real-IP
    await login_from(api, "eve", "10.0.0.1, 61.128.101.1", header="X-Forwarded-For")
    assert (await shown(api, app, "eve"))["ipRegion"] == "新疆"
    # 20 users' logins in one flush: one transaction writes them all
    for i in range(20):
        await login_from(api, "u%d" % i, "218.22.1.%d" % (i + 1))
    await app.ip_recorder.flush()
    regions = await app.run_db(lambda: {u.ip_region for u in User.select().where(
        User.openid.startswith("u"))})
    assert regions == {"安徽"}


@pytest.mark.gen_test(timeout=60)
async def test_a_deleted_account_shows_no_region(api, app):
    token = await login_from(api, "fay", "223.104.1.1")
    assert (await shown(api, app, "fay"))["ipRegion"] == "广东"
    ghost = await app.run_db(lambda: User.get(User.openid == "fay").id)
    assert (await api.post_json("/wx/user/deleteAccount", {"confirm": "注销"}, token)).code == 200
    row = await app.run_db(lambda: User.get_by_id(ghost))
    assert ip_region.shown_user(row) == ""


class TestUntrustedPeer:
    @pytest.fixture
    def settings_env(self, settings_env):
        settings_env["MARKET_SERVER_TRUSTED_PROXIES"] = "10.255.255.1"  # not this loopback peer
        return settings_env

    @pytest.mark.gen_test(timeout=60)
    async def test_spoofed_headers_from_a_peer_that_is_not_a_proxy_are_ignored(self, api, app):
        await login_from(api, "gus", "223.104.1.1")
        await login_from(api, "gus", "223.104.1.1", header="X-Forwarded-For")
        uimage = await shown(api, app, "gus")
        assert uimage["ipRegion"] == ""  # the TCP peer (loopback), not what the client claimed
        assert await app.run_db(lambda: User.get(User.openid == "gus").last_ip) == "127.0.0.1"


class TestTurnedOff:
    @pytest.fixture
    def settings_env(self, settings_env):
        settings_env["MARKET_PRIVACY_IP_REGION"] = "false"  # outside China
        return settings_env

    @pytest.mark.gen_test(timeout=60)
    async def test_nothing_recorded_nothing_shown(self, api, app):
        await login_from(api, "hal", "223.104.1.1")
        assert (await shown(api, app, "hal"))["ipRegion"] == ""
        row = await app.run_db(lambda: User.get(User.openid == "hal"))
        assert row.last_ip == "" and row.ip_seen_at is None


def test_labels_of_ip2region_answers():
    """The label rule on ip2region's own strings (no database)."""
    assert ip_region.label("中国|0|广西壮族自治区|南宁市|电信") == "广西"
    assert ip_region.label("中国|0|内蒙古自治区|呼和浩特|联通") == "内蒙古"
    assert ip_region.label("中国|0|宁夏回族自治区|银川|电信") == "宁夏"
    assert ip_region.label("中国|0|0|0|0") == "中国"
    assert ip_region.label("0|0|0|内网IP|内网IP") == ""
    assert ip_region.label("") == ""
    assert ip_region.region("not an address") == "" and ip_region.region(None) == ""
    assert ip_region.client_address("8.8.8.8", "1.2.3.4", "5.6.7.8", ["127.0.0.1/32"]) \
        == "8.8.8.8"
    assert ip_region.client_address("127.0.0.1", "garbage", "x, 5.6.7.8", ["127.0.0.1/32"]) \
        == "5.6.7.8"
