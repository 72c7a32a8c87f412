"""Helpers for the security and fault tests: a snapshot of every table (to prove a refused call
changed nothing), a scene with two users' data, and the route table as a list of patterns."""
import datetime
import decimal
import json

from tests.tables import MODELS


# Columns every request may write, whatever it is refused for: the address of the user's latest
# request (issue 26, process.ip_recorder.IpRecorder writes them a second later, in the background).
# tests/test_ip_region.py tests them; "nothing changed" means nothing else did.
REQUEST_COLUMNS = {"User": {"ip_region", "last_ip", "ip_seen_at"}}


def snapshot():
    """Every row of every table as plain values (run on the database executor), without the
    REQUEST_COLUMNS."""
    out = {}
    for model in MODELS:
        rows, skip = [], REQUEST_COLUMNS.get(model.__name__, ())
        for row in model.select().order_by(*model._meta.get_primary_keys()).dicts():
            rows.append({k: _plain(v) for k, v in row.items() if k not in skip})
        out[model.__name__] = rows
    return out


def _plain(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value.normalize())
    if isinstance(value, bytes):
        return value.hex()
    return value


def route_patterns(app):
    """The regex of every route in the application's table, in order."""
    return [rule.matcher.regex.pattern for rule in app.wildcard_router.rules]


def goods_body(openid, **fields):
    body = {"openid": openid, "goodsName": "书", "goodsTitle": "九成新教材",
            "goodsPriceNew": "12.50", "goodsPriceOld": "40", "goodsXueyuan": "计算机学院",
            "goodsDec": "几乎没有笔记", "goodsAddress": "东区宿舍"}
    body.update(fields)
    return body


async def scene(api, app):
    """alice and bob registered; bob owns an approved and a pending listing, a comment, a
    favourite, a conversation row and a notice. Returns {"tokens", "approved", "pending",
    "comment"}."""
    from models.goods import Goods
    tokens = {o: await api.login(o) for o in ("alice", "bob")}
    gids = []
    for title in ("approved", "pending"):
        reply = await api.post_json("/wx/goods/goodsIssue",
                                    goods_body("bob", goodsTitle=title), tokens["bob"])
        assert reply.code == 200, reply
        gids.append(reply.extend["gid"])
    from search import index as search_index

    def approve():  # as a review does: the search index follows
        Goods.update(state=1).where(Goods.gid == gids[0]).execute()
        search_index.reindex(gids[0])
    await app.run_db(approve)
    reply = await api.post_json("/wx/pl/addMainComments", {"info": json.dumps(
        {"goodId": gids[0], "fromOpenid": "bob", "content": "bob's comment"})}, tokens["bob"])
    assert reply.code == 200, reply
    comment = reply.extend["commentsInfo"]["inId"]
    reply = await api.post_json("/wx/pl/addMainComments", {"info": json.dumps(
        {"goodId": gids[0], "fromOpenid": "alice", "content": "alice asks"})}, tokens["alice"])
    assert reply.code == 200, reply
    reply = await api.post_json("/wx/user/addGoodsToCar", {"openid": "bob", "gid": [gids[0]]},
                                tokens["bob"])
    assert reply.code == 200, reply
    ws = await api.ws("bob", "alice", tokens["bob"])  # both conversation rows exist
    ws.close()
    return {"tokens": tokens, "approved": gids[0], "pending": gids[1], "comment": comment}
