"""Favourites over real HTTP: the client's list replaces ours; only public listings count."""
import pytest

from models.goods import Favourite
from tests.test_goods import ITEM_KEYS, approve, publish, roomy_limits, set_goods  # noqa: F401


@pytest.mark.gen_test(timeout=60)
async def test_replace_list_and_read_favourites(api, app):
    ann, ben = await api.login("ann"), await api.login("ben")
    a, b, c = [await publish(api, ann, "ann", goodsName="物%d" % i) for i in range(3)]
    pending = await publish(api, ann, "ann")
    await approve(app, a, b, c)
    empty = await api.get("/wx/user/getFavorites", ben, openid="ben")
    assert empty.json == {"code": 200, "msg": "success", "extend": {"favorites": []}}
    fresh = await api.post_json("/wx/user/addGoodsToCar", {"openid": "ben", "gid": ""}, ben)
    assert fresh.code == 200 and fresh.extend["favorites"] == []
    body = {"openid": "ben", "gid": [str(a), c, 99999, pending, str(a)]}
    saved = await api.post_json("/wx/user/addGoodsToCar", body, ben)
    assert saved.extend["favorites"] == [a, c]   # unknown, pending and repeated ids ignored
    again = await api.post_json("/wx/user/addGoodsToCar", body, ben)
    assert again.extend["favorites"] == [a, c]   # idempotent
    assert await app.run_db(lambda: Favourite.select().count()) == 2
    favs = await api.get("/wx/user/getFavorites", ben, openid="ben")
    assert sorted(favs.extend["favorites"]) == [a, c]
    items = await api.get("/wx/user/getMyCarSimpleInfo", ben, openid="ben")
    assert items.code == 200 and list(items.extend) == ["0", "1"]
    assert set(items.extend["0"]) == ITEM_KEYS | {"saleState"}  # issue 18, additive
    assert {i["gid"] for i in items.extend.values()} == {a, c}
    replaced = await api.post_json("/wx/user/addGoodsToCar", {"openid": "ben", "gid": [b]}, ben)
    assert replaced.extend["favorites"] == [b]
    await set_goods(app, b, deleted=True)
    assert (await api.get("/wx/user/getFavorites", ben, openid="ben")).extend["favorites"] == []
    gone = await api.get("/wx/user/getMyCarSimpleInfo", ben, openid="ben")
    assert gone.code == 200 and gone.extend == {}


@pytest.mark.gen_test
async def test_favourites_refusals(api):
    cid = await api.login("cid")
    cases = [
        (await api.post_json("/wx/user/addGoodsToCar", {"openid": "cid", "gid": "a,b"}, cid), 400),
        (await api.post_json("/wx/user/addGoodsToCar", {"openid": "cid", "gid": {"x": 1}}, cid),
         400),
        (await api.post_json("/wx/user/addGoodsToCar",
                             {"openid": "cid", "gid": list(range(1, 600))}, cid), 400),
        (await api.post_json("/wx/user/addGoodsToCar", {"openid": "dee", "gid": []}, cid), 403),
        (await api.get("/wx/user/getFavorites", cid, openid="dee"), 403),
        (await api.get("/wx/user/getFavorites", openid="cid"), 401),
        (await api.get("/wx/user/getMyCarSimpleInfo", cid, openid="dee"), 403),
    ]
    for answer, status in cases:
        assert answer.status == status and answer.code == 100, (status, answer)
    ok = await api.post_json("/wx/user/addGoodsToCar", {"openid": "cid", "gid": "1, 2"}, cid)
    assert ok.code == 200 and ok.extend["favorites"] == []  # no such listings: ignored
