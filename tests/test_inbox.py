"""The inbox over real HTTP: who gets which notice, unlike, haveRead."""
import pytest

from tests.test_comments import comment, listing, reply
from tests.test_goods import roomy_limits, set_user_state  # noqa: F401

NOTICE_KEYS = {"openid", "wxname", "headImg", "state", "gid", "goodsName", "goodsTitle",
               "content", "sendTime"}


async def inbox(api, token, openid, kind):
    answer = await api.get("/wx/lt/getNoticeInfo", token, type=kind, openid=openid)
    assert answer.code == 200, answer
    return answer.extend["info"]


@pytest.mark.gen_test(timeout=60)
async def test_comments_replies_and_likes_notify_the_right_people(api, app):
    sue, gid = await listing(api, app)
    amy = await api.login("amy", wxname="阿美", headImg="https://img/amy.png")
    await set_user_state(app, "amy", 1)
    in_id = (await comment(api, amy, "amy", gid, "便宜点？")).extend["commentsInfo"]["inId"]
    assert (await comment(api, sue, "sue", gid, "自己的")).code == 200   # no notice to oneself
    lines = await inbox(api, sue, "sue", 0)
    assert len(lines) == 1 and set(lines[0]) == NOTICE_KEYS
    assert {k: lines[0][k] for k in ("openid", "wxname", "headImg", "state", "gid", "goodsName",
                                     "goodsTitle", "content")} == {
        "openid": "amy", "wxname": "阿美", "headImg": "https://img/amy.png", "state": 1,
        "gid": gid, "goodsName": "书", "goodsTitle": "九成新教材", "content": "便宜点？"}
    assert len(lines[0]["sendTime"]) == 19
    await reply(api, sue, "sue", in_id, "amy", "不行")
    replies = await inbox(api, amy, "amy", 0)
    assert [(r["openid"], r["content"]) for r in replies] == [("sue", "不行")]
    await reply(api, amy, "amy", in_id, "amy", "自言自语")   # to oneself: nothing
    assert len(await inbox(api, amy, "amy", 0)) == 1
    # likes: type 1, once per liker, removed by unlike while unread
    await api.get("/wx/liked/like", sue, openid="sue", objId=in_id, type=1)
    await api.get("/wx/liked/like", sue, openid="sue", objId=in_id, type=1)
    await api.get("/wx/liked/like", amy, openid="amy", objId=in_id, type=1)   # own comment
    likes = await inbox(api, amy, "amy", 1)
    assert [(n["openid"], n["gid"], n["content"]) for n in likes] == [("sue", gid, "便宜点？")]
    await api.get("/wx/liked/unlike", sue, openid="sue", objId=in_id, type=1)
    assert await inbox(api, amy, "amy", 1) == []
    # haveRead empties that inbox only, until new notices arrive
    read = await api.get("/wx/lt/haveRead", sue, type=0, openid="sue")
    assert read.code == 200 and read.extend["count"] == 1
    assert await inbox(api, sue, "sue", 0) == []
    assert len(await inbox(api, amy, "amy", 0)) == 1
    await api.get("/wx/liked/like", sue, openid="sue", objId=in_id, type=1)
    await api.get("/wx/lt/haveRead", amy, type=1, openid="amy")
    await api.get("/wx/liked/unlike", sue, openid="sue", objId=in_id, type=1)
    assert await inbox(api, amy, "amy", 1) == []
    await comment(api, amy, "amy", gid, "再问一次")
    assert [n["content"] for n in await inbox(api, sue, "sue", 0)] == ["再问一次"]


@pytest.mark.gen_test
async def test_inbox_refusals(api):
    bea = await api.login("bea")
    for answer, status in (
            (await api.get("/wx/lt/getNoticeInfo", bea, type=6, openid="bea"), 400),  # 2-4: issue 18, 5: 25
            (await api.get("/wx/lt/getNoticeInfo", bea, openid="bea"), 400),
            (await api.get("/wx/lt/getNoticeInfo", bea, type=0, openid="cat"), 403),
            (await api.get("/wx/lt/getNoticeInfo", type=0, openid="bea"), 401),
            (await api.get("/wx/lt/haveRead", bea, type="x", openid="bea"), 400),
            (await api.get("/wx/lt/haveRead", bea, type=1, openid="cat"), 403)):
        assert answer.status == status and answer.code == 100, (status, answer)
    assert await inbox(api, bea, "bea", 1) == []
