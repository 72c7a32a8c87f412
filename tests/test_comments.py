"""Comments, replies and likes over real HTTP: contract shapes, refusals, exact concurrent counts."""
import asyncio
import json

import pytest

from models.comment import Liked
from tests.test_goods import approve, publish, roomy_limits, set_user_state  # noqa: F401

COMMENT_KEYS = {"inId", "fromOpenid", "fromName", "formName", "fromAvatar", "content",
                "createTime", "likeNum", "likeState", "sonSums", "userState", "commentsReplies"}
REPLY_KEYS = {"rid", "commentId", "fromOpenid", "fromName", "fromAvatar", "toOpenid", "toName",
              "content", "createTime", "userState", "ipRegion"}  # ipRegion: issue 26, additive


async def comment(api, token, openid, gid, content="还在吗？"):
    info = json.dumps({"goodId": str(gid), "fromOpenid": openid, "content": content},
                      ensure_ascii=False)
    return await api.post_json("/wx/pl/addMainComments", {"info": info}, token)


async def reply(api, token, openid, in_id, to_openid, content="在的"):
    body = {"fromOpenid": openid, "content": content, "toOpenid": to_openid,
            "commentId": str(in_id)}
    return await api.post_json("/wx/pl/addSonCommments", body, token)


async def listing(api, app, seller="sue"):
    token = await api.login(seller, wxname="卖家")
    gid = await publish(api, token, seller)
    await approve(app, gid)
    return token, gid


@pytest.mark.gen_test(timeout=60)
async def test_comment_reply_and_read_shapes(api, app):
    sue, gid = await listing(api, app)
    tom = await api.login("tom", wxname="小汤", headImg="https://img/tom.png")
    await set_user_state(app, "tom", 1)
    added = await comment(api, tom, "tom", gid, "还在吗？😀")
    assert added.code == 200, added
    main = added.extend["commentsInfo"]
    assert COMMENT_KEYS <= set(main)
    assert main["fromName"] == main["formName"] == "小汤" and main["fromAvatar"] == "https://img/tom.png"
    assert (main["content"], main["likeNum"], main["likeState"], main["sonSums"]) == \
        ("还在吗？😀", 0, 0, 0)
    assert main["userState"] == 1 and main["commentsReplies"] == [] and len(main["createTime"]) == 19
    in_id = main["inId"]
    answers = [(await reply(api, sue, "sue", in_id, "tom", "在的%d" % i)) for i in range(4)]
    first = answers[0].extend["commentsReply"]
    assert set(first) == REPLY_KEYS
    assert (first["commentId"], first["fromOpenid"], first["fromName"], first["toOpenid"],
            first["toName"], first["content"]) == (in_id, "sue", "卖家", "tom", "小汤", "在的0")
    back = await reply(api, tom, "tom", in_id, "sue", "好的")
    assert back.extend["commentsReply"]["toName"] == "卖家"
    everything = await api.get("/wx/pl/getAllComments", gid=gid)
    assert isinstance(everything.json, list) and len(everything.json) == 1
    shown = everything.json[0]
    assert shown["sonSums"] == 5 and len(shown["commentsReplies"]) == 3   # a preview, newest first
    assert [r["content"] for r in shown["commentsReplies"]] == ["好的", "在的3", "在的2"]
    full = await api.get("/wx/pl/getMainAllSonCom", inId=in_id, openid="tom")
    info = full.extend["commentsInfo"]
    assert info["inId"] == in_id and len(info["commentsReplies"]) == 5
    assert all(set(r) == REPLY_KEYS for r in info["commentsReplies"])
    assert (await api.get("/wx/pl/getMainAllSonCom", inId=99999)).status == 404
    assert (await api.get("/wx/pl/getAllComments", gid=99999)).status == 404
    assert (await api.get("/wx/pl/getAllComments", gid="x")).status == 400


@pytest.mark.gen_test(timeout=60)
async def test_comment_refusals(api, app):
    sue, gid = await listing(api, app)
    uri = await api.login("uri")
    pending = await publish(api, sue, "sue")
    cases = [
        (await api.post_json("/wx/pl/addMainComments", {"info": "{not json"}, uri), 400),
        (await api.post_json("/wx/pl/addMainComments", {}, uri), 400),
        (await comment(api, uri, "uri", gid, ""), 400),
        (await comment(api, uri, "uri", gid, "长" * 501), 400),
        (await comment(api, uri, "uri", 99999), 404),
        (await comment(api, uri, "uri", pending), 404),      # not visible to others yet
        (await comment(api, uri, "sue", gid), 403),          # openid is not the token's
        (await comment(api, None, "uri", gid), 401),
    ]
    for answer, status in cases:
        assert answer.status == status and answer.code == 100, (status, answer)
    assert (await comment(api, sue, "sue", pending)).code == 200  # the owner can
    in_id = (await comment(api, uri, "uri", gid)).extend["commentsInfo"]["inId"]
    stranger = await reply(api, sue, "sue", in_id, "nobody")
    assert stranger.status == 400 and stranger.code == 100
    assert (await reply(api, sue, "sue", 99999, "uri")).status == 404
    assert (await reply(api, sue, "uri", in_id, "uri")).status == 403
    await set_user_state(app, "uri", 10)
    blocked = await comment(api, uri, "uri", gid)
    assert blocked.status == 403 and "封禁" in blocked.json["msg"]
    assert (await reply(api, uri, "uri", in_id, "uri")).status == 403
    app.config["limits"]["comment_per_minute_user"] = 1
    app.limiter.buckets.clear()
    assert (await comment(api, sue, "sue", gid)).code == 200
    assert (await comment(api, sue, "sue", gid)).status == 429


@pytest.mark.gen_test(timeout=90)
async def test_likes_are_idempotent_and_exact_under_concurrency(api, app):
    sue, gid = await listing(api, app)
    in_id = (await comment(api, sue, "sue", gid)).extend["commentsInfo"]["inId"]
    fans = ["fan%d" % i for i in range(12)]
    tokens = {f: await api.login(f) for f in fans}
    clicks = [api.get("/wx/liked/like", tokens[f], openid=f, objId=in_id, type=1)
              for f in fans for _ in range(3)]
    answers = await asyncio.gather(*clicks)
    assert all(a.code == 200 for a in answers)
    assert max(a.extend["count"] for a in answers) == 12
    assert await app.run_db(lambda: Liked.select().count()) == 12
    again = await api.get("/wx/liked/like", tokens["fan0"], openid="fan0", objId=in_id, type="1")
    assert again.extend == {"count": 12}
    seen = await api.get("/wx/pl/getAllComments", tokens["fan0"], gid=gid)
    assert (seen.json[0]["likeNum"], seen.json[0]["likeState"]) == (12, 1)
    anonymous = await api.get("/wx/pl/getAllComments", gid=gid)
    assert anonymous.json[0]["likeState"] == 0
    unlikes = await asyncio.gather(*[api.get("/wx/liked/unlike", tokens[f], openid=f,
                                             objId=in_id, type=1)
                                     for f in fans[:5] for _ in range(2)])
    assert all(u.code == 200 for u in unlikes)
    final = await api.get("/wx/liked/unlike", tokens["fan0"], openid="fan0", objId=in_id)
    assert final.extend == {"count": 7}
    bad = [await api.get("/wx/liked/like", tokens["fan1"], openid="fan1", objId=in_id, type=2),
           await api.get("/wx/liked/like", tokens["fan1"], openid="fan1", objId="abc"),
           await api.get("/wx/liked/like", tokens["fan1"], openid="fan2", objId=in_id)]
    assert [b.status for b in bad] == [400, 400, 403]
    assert (await api.get("/wx/liked/like", tokens["fan1"], openid="fan1",
                          objId=99999)).status == 404
