"""A blocked user: every write that others see is refused the same way (403 "this account is
blocked") and changes nothing; their own private state and withdrawals still work; reads too.
The caller routes are enumerated from tests/test_security_identity.py's classification, so a new
route must be classified here as well."""
import json
import uuid

import pytest

from services import tokens
from tests.security_helpers import scene, snapshot
from tests.test_security_identity import CALLER, call, tiny_png

BLOCKED_MSG = "该账号已被封禁"  # "this account is blocked"
# Writes others see (profile names and avatars, school details moderators read, listings,
# photos, comments, replies, likes, reports): refused while blocked.
SEEN = {"/wx/user/register", "/wx/user/updateUserInfo", "/wx/goods/goodsIssue",
        "/wx/images/upload", "/wx/pl/addMainComments", "/wx/pl/addSonCommments",
        "/wx/liked/like", "/wx/report", "/wx/goods/edit",
        "/wx/wanted", "/wx/handover", "/wx/handover/confirm", "/wx/rating",
        "/wx/handover/dispute",
        "/wx/chat/recall"}  # a blocked account's chat is closed, recall included
# The user's own state, or withdrawing their own contribution: allowed while blocked.
OWN = {"/wx/user/deleteMyIssue", "/wx/user/deleteCheckFail", "/wx/user/addGoodsToCar",
       "/wx/liked/unlike", "/wx/lt/haveRead", "/wx/lt/deleteList1", "/wx/notify/subscribe",
       "/wx/goods/state", "/wx/goods/renew",
       "/wx/user/block", "/wx/user/unblock", "/wx/wanted/delete",
       "/wx/user/consent", "/wx/user/export"}  # PIPL rights hold while blocked
# Ending the account: allowed while blocked too, and tested on its own (tests/test_accounts.py)
ACCOUNT = {"/wx/user/deleteAccount"}
READS = {"/wx/user/isRegister", "/wx/user/getUserInfo", "/wx/user/getUserDeInfo",
         "/wx/admin/userIsOk", "/wx/admin/isAdmin", "/wx/goods/getMyIssGoods",
         "/wx/goods/getMyCheckSimGoods", "/wx/user/whyNot", "/wx/user/getFavorites",
         "/wx/user/getMyCarSimpleInfo", "/wx/images/studentId", "/wx/lt/getNoticeInfo",
         "/wx/lt/list", "/wx/chat/history",
         "/wx/user/blocked", "/wx/wanted/mine", "/wx/handover/mine"}


def test_every_caller_route_is_classified_for_blocked_users():
    assert SEEN | OWN | READS | ACCOUNT == set(CALLER), \
        "classify the new route in tests/test_blocked.py"
    assert not (SEEN & OWN or SEEN & READS or OWN & READS or ACCOUNT & (SEEN | OWN | READS))


async def goods_photo(api, token):
    """An upload with flag=0 (a photo of the user's newest listing)."""
    boundary = uuid.uuid4().hex.encode()
    body = (b"--%s\r\nContent-Disposition: form-data; name=\"flag\"\r\n\r\n0\r\n"
            b"--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n%s\r\n--%s--\r\n"
            % (boundary, boundary, tiny_png(), boundary))
    return await api.fetch("POST", "/wx/images/upload", None, token, body,
                           {"Content-Type": "multipart/form-data; boundary=" + boundary.decode()})


@pytest.mark.gen_test(timeout=90)
async def test_a_blocked_user_can_write_nothing_others_see(api, app, config):
    s = await scene(api, app)
    bob = s["tokens"]["bob"]
    admin = tokens.issue(config["auth"]["token_secret"], "root", 3600, role="admin")
    assert (await api.get("/wx/admin/userCheck", admin, openid="bob", state=10,
                          reason="spam")).code == 200
    before = await app.run_db(snapshot)
    replies = {path: await call(api, path, s, "bob", bob) for path in sorted(SEEN)}
    replies["/wx/images/upload flag=0"] = await goods_photo(api, bob)
    # the profile with a full body, as the client sends it (the name and avatar others see)
    replies["register, full body"] = await api.post_json("/wx/user/register", {
        "openid": "bob", "wxname": "官方客服", "headImg": "https://img.example/official",
        "sex": 1, "uname": "u", "qq": "1", "wx": "w"}, bob)
    replies["report, a user"] = await api.post_json("/wx/report", {
        "openid": "bob", "targetType": "user", "targetId": "alice", "reason": "revenge"}, bob)
    for what, reply in replies.items():
        assert reply.status == 403 and reply.code == 100, (what, reply)
        assert reply.json["msg"] == BLOCKED_MSG, (what, reply)  # (goodsIssue adds extend.error)
    assert await app.run_db(snapshot) == before  # the name and avatar others see included


@pytest.mark.gen_test(timeout=90)
async def test_a_blocked_user_still_reads_and_manages_their_own_state(api, app, config):
    s = await scene(api, app)
    bob = s["tokens"]["bob"]
    admin = tokens.issue(config["auth"]["token_secret"], "root", 3600, role="admin")
    assert (await api.get("/wx/admin/userCheck", admin, openid="bob", state=10)).code == 200
    for path in sorted(READS | OWN):
        reply = await call(api, path, s, "bob", bob)
        assert reply.status < 500 and reply.status != 403, (path, reply)
        assert BLOCKED_MSG not in reply.body.decode(), (path, reply)
    state = await api.get("/wx/admin/userIsOk", bob, openid="bob")
    assert state.extend["state"] == 10
    # unblocked, the same writes go through again
    assert (await api.get("/wx/admin/userCheck", admin, openid="bob", state=1)).code == 200
    reply = await api.post_json("/wx/user/register", {"openid": "bob", "wxname": "bob again"}, bob)
    assert reply.code == 200
    reply = await api.post_json("/wx/report", {"openid": "bob", "targetType": "goods",
                                               "targetId": str(s["approved"]), "reason": "x"}, bob)
    assert reply.code == 200, reply
    assert json.loads(reply.body)["extend"]["reportId"]
