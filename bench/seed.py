"""Migrate a benchmark database and fill it fast: users, and listings in bulk (Peewee
insert_many in chunks, one transaction per chunk), then their search index."""
import random

import migrations
from models import bind, is_mysql, open_database, utcnow
from models.goods import APPROVED, PENDING, Goods
from models.user import User
from search import index as search_index
from search import suggest

ITEMS = ["自行车", "台灯", "教材", "耳机", "键盘", "显示器", "吉他", "篮球", "书桌", "电饭煲",
         "风扇", "雨伞", "滑板", "相机", "充电宝", "鼠标", "背包", "棉被", "衣柜", "羽毛球拍",
         "bike", "lamp", "textbook", "headphones", "keyboard", "monitor", "guitar", "calculator"]
ADJECTIVES = ["九成新", "全新", "二手", "闲置", "毕业甩卖", "便宜出", "可小刀", "自提"]
PLACES = ["东区", "西区", "南门", "北苑", "图书馆", "一食堂"]


def open_bound(url):
    database = bind(open_database(url, 2))
    database.connect(reuse_if_open=True)
    return database


def prepare(url, openids=(), goods=0, sellers=200, seed=8, vocabulary=None):
    """Migrate, add users (by openid) and `goods` listings (90 % approved); returns the
    approved gids. With a `vocabulary` (table 7), each title also has two of its words (a
    realistic number of distinct words) and the suggestions' tables are filled."""
    database = open_bound(url)
    try:
        migrations.migrate(database, log=lambda *a: None)
        now = utcnow()
        rows = [{"openid": o, "wxname": o, "created_at": now, "updated_at": now} for o in openids]
        chunk = 2000 if is_mysql(database) else 400
        for i in range(0, len(rows), chunk):
            with database.atomic():
                User.insert_many(rows[i:i + chunk]).execute()
        approved = []
        if goods:
            rng = random.Random(seed)
            seller_ids = ["seller%04d" % i for i in range(sellers)]
            rows = [{"openid": o, "wxname": o, "created_at": now, "updated_at": now}
                    for o in seller_ids]
            with database.atomic():
                User.insert_many(rows).execute()
            batch, states = [], []
            for n in range(goods):
                item, adj = rng.choice(ITEMS), rng.choice(ADJECTIVES)
                state = APPROVED if rng.random() < 0.9 else PENDING
                states.append(state)
                price = rng.randint(1, 2000)
                batch.append({
                    "openid": rng.choice(seller_ids), "goods_name": "%s %s" % (adj, item),
                    "goods_title": "%s，%s，%s可面交" % (item, adj, rng.choice(PLACES)) + (
                        "，%s %s" % (rng.choice(vocabulary), rng.choice(vocabulary))
                        if vocabulary else ""),
                    "goods_dec": "出一个%s，用了%d个月，功能完好，%s。" % (
                        item, rng.randint(1, 30), rng.choice(ADJECTIVES)),
                    "goods_price_new": price, "goods_price_old": price * 2,
                    "goods_xueyuan": "计算机学院", "goods_address": rng.choice(PLACES),
                    "state": state, "reason": "", "issue_time": now, "open_sum": 0,
                    "deleted": False, "hidden": False})
                if len(batch) == chunk:
                    with database.atomic():
                        Goods.insert_many(batch).execute()
                    batch = []
            if batch:
                with database.atomic():
                    Goods.insert_many(batch).execute()
            search_index.backfill(batch=chunk)  # listings inserted in bulk: fill the search index
            if vocabulary:  # and the suggestions' words (~1 s per 1k listings)
                suggest.rebuild(batch=chunk)
            gids = [g.gid for g in Goods.select(Goods.gid).where(Goods.state == APPROVED)]
            approved = gids
        return approved
    finally:
        database.close_all()
