"""Issue 19 #6: `main.py seed-demo` fills a trial database with a living market (both
databases): the REST lists, search and detail show its listings, their photos and thumbnails
are served, the chat and the report are stored; a second run adds nothing; a database with real
users is refused unless --force."""
import io
import os
import subprocess

import pytest
from PIL import Image as PILImage

from models.chat import ChatList, ChatMessage
from models.comment import Comment, Reply
from models.goods import APPROVED, GOODS_PHOTO, PENDING, Goods, Image
from models.report import Report
from models.user import User
from tools import demo
from tests.serverproc import PYTHON, ROOT

TABLES = (User, Goods, Image, Comment, Reply, ChatMessage, ChatList, Report)


def seed_demo(tmp_path, settings_env, *flags):
    """Run the real command against the test's database and uploads folder."""
    config = tmp_path / "demo.yaml"
    config.write_text("{}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKET_")}
    env.update(settings_env)
    return subprocess.run([PYTHON, "main.py", "--config", str(config), "seed-demo", *flags],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def counts(database):
    with database.connection_context():
        return {m.__name__: m.select().count() for m in TABLES}


def listed(reply):
    assert reply.code == 200, reply
    return list(reply.extend.values())


@pytest.mark.gen_test(timeout=120)
async def test_seed_demo_makes_a_living_market(api, app, database, settings_env, tmp_path,
                                               http_client):
    done = seed_demo(tmp_path, settings_env)
    assert done.returncode == 0, done.stderr
    assert "added 5 users, 8 listings, 16 photos, 5 comments, 4 messages, 1 reports" in done.stdout
    first = counts(database)
    again = seed_demo(tmp_path, settings_env)  # idempotent
    assert again.returncode == 0 and "nothing added" in again.stdout, again.stdout + again.stderr
    assert counts(database) == first
    assert first["User"] == 5 and first["Goods"] == 8 and first["Image"] == 16
    assert first["ChatMessage"] == 4 and first["ChatList"] == 2 and first["Report"] == 1

    # the market, as the mini-program sees it
    items = listed(await api.get("/wx/goods/getSimpleGoods", state=1, pageNum=0))
    names = {g["goodsName"] for g in items}
    assert len(items) == 7 and "九成新自行车" in names and "篮球 斯伯丁" not in names  # pending
    found = listed(await api.get("/wx/goods/query", flag="自行车", pageNum=0))
    assert [g["goodsName"] for g in found] == ["九成新自行车"]
    assert [g["goodsName"] for g in listed(await api.get("/wx/goods/query", flag="gaoshu",
                                                         pageNum=0))] == ["高等数学教材"]
    free = listed(await api.get("/wx/goods/getSimFrGoods", pageNum=0))
    assert [g["goodsName"] for g in free] == ["免费送 收纳箱"]
    bike = found[0]
    detail = await api.get("/wx/goods/getDeGoodfwl", gid=bike["gid"])
    assert detail.code == 200, detail
    info = detail.extend["goodInfo"]
    text = repr(info)
    assert "捷安特" in text and "莉莉" in text
    with database.connection_context():
        photos = list(Image.select().where(Image.gid == bike["gid"], Image.flag == GOODS_PHOTO))
        assert Goods.get_by_id(bike["gid"]).state == APPROVED
        assert Goods.get(Goods.goods_name == "篮球 斯伯丁").state == PENDING  # the review queue
    assert len(photos) == 2 and all(p.thumb for p in photos)
    for photo in photos:
        assert photo.url in text  # the detail lists its photos
        for name, size in ((photo.url, (800, 600)), (photo.thumb, None)):
            reply = await api.fetch("GET", "/uploads/" + name)
            assert reply.status == 200 and reply.headers["Content-Type"].startswith("image/")
            im = PILImage.open(io.BytesIO(reply.body))
            assert im.size == size if size else max(im.size) <= 360
    # comments with a reply, the chat (stored, both list rows), an open report
    comments = await api.get("/wx/pl/getAllComments", gid=bike["gid"])
    assert "周末可以试骑吗？" in repr(comments.json) and "周六下午在南区见" in repr(comments.json)
    ahao = await api.login("demo-ahao", register=False)
    history = await api.get("/wx/chat/history", ahao, openid="demo-ahao", peer="demo-lili")
    assert [m["content"] for m in history.extend["messages"]][0] == "没问题，到了给我发消息", history
    conversations = await api.get("/wx/lt/list", ahao, openid="demo-ahao")
    assert "没问题，到了给我发消息" in repr(conversations.json) and "莉莉" in repr(conversations.json)
    with database.connection_context():
        report = Report.get()
        assert report.reporter == "demo-yueyue" and report.status == "open"


@pytest.mark.gen_test(timeout=120)
async def test_seed_demo_refuses_a_database_with_real_users(api, app, database, settings_env,
                                                            tmp_path):
    await api.login("real-student")
    refused = seed_demo(tmp_path, settings_env)
    assert refused.returncode == 1 and "1 real user(s)" in refused.stderr, refused.stderr
    assert counts(database)["Goods"] == 0 and counts(database)["User"] == 1
    skipped = seed_demo(tmp_path, settings_env, "--skip-if-real")  # what scripts/run passes
    assert skipped.returncode == 0 and "no demo added" in skipped.stdout, skipped.stderr
    assert counts(database)["Goods"] == 0 and counts(database)["User"] == 1
    forced = seed_demo(tmp_path, settings_env, "--force")
    assert forced.returncode == 0, forced.stderr
    assert counts(database)["Goods"] == len(demo.LISTINGS) + 1
