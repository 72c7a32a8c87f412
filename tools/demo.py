"""Demo data for a fresh install (`python main.py seed-demo`): a living market to look at.

Chinese users, approved listings with photos drawn here with Pillow and stored through the real
image pipeline (`imaging.clean.process` and `save_goods_photo`: cleaned, thumbnailed), one
listing waiting for review, comments and a reply, a stored chat (chat_message and both
conversation-list rows) and an open report, all through the same rules the API uses.

Every demo user's openid starts with `demo-`. Each item is looked up before it is made, so a
second run adds nothing (and a run that stopped half-way is completed). A database with users
that are not demo users is refused unless `force`: the demo is for trial databases.
"""
import datetime
import io
import random

from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from models import utcnow
from models.chat import ChatMessage, pair_key
from models.comment import Comment, Reply
from models.goods import APPROVED, Goods
from models.report import Report
from models.user import VERIFIED, User
from imaging import clean
from services import chat, comments, goods, images, moderation, reports, users
from errors import Conflict

PREFIX = "demo-"
ACTOR = "seed-demo"  # the audit log's actor for the approvals

USERS = [  # openid suffix, nickname, sex, real name, school, class, college
    ("xiaoming", "小明同学", 1, "王小明", "示例大学", "计算机2班", "计算机学院"),
    ("lili", "莉莉", 2, "李莉", "示例大学", "英语1班", "外国语学院"),
    ("dawei", "大伟的小铺", 1, "张大伟", "示例大学", "机械3班", "机械工程学院"),
    ("yueyue", "月月爱读书", 2, "陈月", "示例大学", "中文1班", "文学院"),
    ("ahao", "阿豪", 1, "刘浩", "示例大学", "物理2班", "理学院"),
]

# owner, name, title, description, new price, old price, where, drawing (kind, colour)
LISTINGS = [
    ("xiaoming", "高等数学教材", "同济第七版高数上下册，笔记齐全",
     "大一用过的高等数学上下册，重点都用荧光笔标出来了，附期末复习笔记。适合准备考研的同学。",
     "25.00", "78.00", "图书馆东门", ("book", (52, 101, 164))),
    ("lili", "九成新自行车", "捷安特山地车，通勤代步很方便",
     "毕业出，骑了一年，刹车和变速都刚保养过，送车锁和车筐。可以先试骑。",
     "320.00", "1299.00", "南区宿舍楼下", ("bike", (46, 139, 87))),
    ("dawei", "台灯 护眼LED", "三档调光，宿舍夜读必备",
     "买了半年，功能完好，支持USB充电，无频闪。换了新台灯所以出掉。",
     "35.00", "129.00", "北区3号楼", ("lamp", (218, 165, 32))),
    ("yueyue", "《百年孤独》", "正版精装，几乎全新",
     "只看过一遍，书页干净无折痕。喜欢文学的同学可以私聊，也可以换书。",
     "18.00", "55.00", "文学院楼", ("book", (178, 34, 34))),
    ("ahao", "蓝牙耳机", "降噪入耳式，续航二十小时",
     "九成新，配件齐全，有充电盒和三副耳塞。音质不错，适合上课路上听英语。",
     "99.00", "399.00", "理学院一楼", ("phone", (72, 61, 139))),
    ("xiaoming", "电饭煲 小型", "1.6升，宿舍煮粥煮面都行",
     "功率小不跳闸，内胆不粘。毕业清仓，便宜出。",
     "40.00", "159.00", "东区食堂门口", ("pot", (205, 92, 92))),
    ("lili", "免费送 收纳箱", "两个塑料收纳箱，自取",
     "搬宿舍用不上了，免费送给需要的同学，先到先得。",
     "0.00", "0.00", "南区宿舍楼下", ("box", (95, 158, 160))),
]
PENDING_LISTING = ("dawei", "篮球 斯伯丁", "七号球，室内外通用",
                   "打了一学期，手感很好，气很足。", "60.00", "199.00", "体育馆",
                   ("ball", (210, 105, 30)))

COMMENTS = [  # (listing name, commenter, text, reply from the owner or None)
    ("高等数学教材", "yueyue", "请问笔记是手写的吗？", "是的，字迹很工整，放心～"),
    ("九成新自行车", "ahao", "周末可以试骑吗？", "可以的，周六下午在南区见"),
    ("蓝牙耳机", "lili", "还能便宜一点吗？", None),
]
CHAT = ("ahao", "lili", [  # (sender, text): a conversation about the bike
    ("ahao", "你好，自行车还在吗？"),
    ("lili", "在的，周末可以来试骑"),
    ("ahao", "好的，周六下午三点南区楼下见"),
    ("lili", "没问题，到了给我发消息"),
])
REPORT = ("yueyue", "蓝牙耳机", "图片好像是网上找的，不是实物")


def openid(suffix):
    return PREFIX + suffix


def real_users():
    """How many users are not demo users."""
    return User.select().where(~User.openid.startswith(PREFIX)).count()


def seed(uploads, base, force=False, max_bytes=10 * 1024 * 1024, max_pixels=64_000_000,
         per_goods=6):
    """Add whatever part of the demo is missing; returns {what: number added}. Conflict when
    the database has real users and not `force`. `uploads` is the public uploads folder,
    `base` the scheme://host of avatar URLs."""
    if not force and real_users():
        raise Conflict("this database has %(n)d real user(s); seed-demo is for trial databases "
                       "(--force adds the demo anyway)", n=real_users())
    added = dict(users=0, listings=0, photos=0, comments=0, messages=0, reports=0)
    store = dict(uploads=uploads, max_bytes=max_bytes, max_pixels=max_pixels, per_goods=per_goods)
    for row in USERS:
        added["users"] += _user(row, uploads, base, store)
    gids = {}
    for row in LISTINGS + [PENDING_LISTING]:
        gid, new = _listing(row, store, approve=row is not PENDING_LISTING)
        gids[row[1]] = gid
        added["listings"] += new
        added["photos"] += 2 if new else 0
    for name, who, text, answer in COMMENTS:
        added["comments"] += _comment(gids[name], who, text, answer)
    added["messages"] += _chat(*CHAT)
    reporter, name, reason = REPORT
    added["reports"] += _report(openid(reporter), gids[name], reason)
    return added


# -- users --------------------------------------------------------------------------------
def _user(row, uploads, base, store):
    suffix, nickname, sex, real_name, school, uclass, college = row
    user = User.by_openid(openid(suffix))
    if user is not None and user.registered:
        return 0
    users.ensure_user(openid(suffix))
    avatar = clean.process(_avatar(nickname, suffix), store["max_bytes"], store["max_pixels"])
    images._write(uploads, avatar.name, avatar.data)
    User.update(wxname=nickname, sex=sex, uname=real_name, qq="", wx=suffix + "_wx",
                school=school, xuehao="2023%04d" % (sum(map(ord, suffix)) % 10000),
                uclass=uclass, state=VERIFIED, registered=True,
                head_img=images.upload_url(base, avatar.name), updated_at=utcnow()
                ).where(User.openid == openid(suffix)).execute()
    return 1


# -- listings -----------------------------------------------------------------------------
def _listing(row, store, approve):
    """(gid, 1 if made now): published, two photos through the image pipeline, approved."""
    owner, name, title, dec, new, old, where, drawing = row
    existing = (Goods.select().where(Goods.openid == openid(owner), Goods.goods_name == name)
                .order_by(Goods.gid).first())
    if existing is not None:
        return existing.gid, 0
    fields = goods.listing_fields(
        {"goodsName": name, "goodsTitle": title, "goodsDec": dec, "goodsPriceNew": new,
         "goodsPriceOld": old, "goodsXueyuan": _college(owner), "goodsAddress": where},
        1_000_000)
    gid = goods.publish(openid(owner), fields)
    for variant in range(2):  # photos attach to the owner's newest listing: this one
        raw = _photo(drawing, variant, new)
        processed = clean.process(raw, store["max_bytes"], store["max_pixels"])
        images.save_goods_photo(openid(owner), processed, store["uploads"], store["per_goods"])
    if approve:
        moderation.review_goods(ACTOR, gid, APPROVED)
    return gid, 1


def _college(owner):
    return next(row[6] for row in USERS if row[0] == owner)


# -- comments, chat, report ---------------------------------------------------------------
def _comment(gid, who, text, answer):
    made = 0
    comment = Comment.get_or_none(Comment.gid == gid, Comment.from_openid == openid(who),
                                  Comment.content == text)
    if comment is None:
        shaped = comments.add_main(openid(who), {"goodId": gid, "content": text})
        comment = Comment.get_by_id(shaped["inId"])
        made += 1
    if answer:
        owner = Goods.get_by_id(gid).openid
        if not Reply.select().where(Reply.comment_id == comment.in_id,
                                    Reply.from_openid == owner).exists():
            comments.add_reply(owner, {"commentId": comment.in_id, "content": answer,
                                       "toOpenid": openid(who)})
            made += 1
    return made


def _chat(a, b, lines):
    """The conversation, stored as the chat socket stores it (chat_message, unique msgIds),
    and both conversation-list rows showing its last message."""
    me, peer = openid(a), openid(b)
    chat.open_conversation(me, peer)
    start = utcnow().replace(microsecond=0) - datetime.timedelta(hours=2)
    ops = [{"op": "msg", "from": openid(sender), "to": peer if openid(sender) == me else me,
            "content": text, "type": "text", "msgId": "demo-chat-%d" % i,
            "time": start + datetime.timedelta(minutes=3 * i), "offline": False}
           for i, (sender, text) in enumerate(lines)]
    results = chat.store_batch(ops, 3)
    new = sum(1 for r in results if isinstance(r, dict) and r["status"] == "new")
    if new:  # read by both long ago: nothing waits for delivery
        ChatMessage.update(received=1).where(ChatMessage.pair == pair_key(me, peer),
                                             ChatMessage.client_msg_id.startswith("demo-chat-")
                                             ).execute()
        last_sender, last_text = lines[-1]
        last_time = ops[-1]["time"]
        chat.apply_list_updates({
            (me, peer): {"send_time": last_time, "last_context": last_text,
                         "unread": 1 if openid(last_sender) == peer else 0},
            (peer, me): {"send_time": last_time, "last_context": last_text,
                         "unread": 1 if openid(last_sender) == me else 0}})
    return new


def _report(reporter, gid, reason):
    if Report.select().where(Report.reporter == reporter, Report.target_type == "goods",
                             Report.target_id == str(gid)).exists():
        return 0
    reports.create(reporter, {"targetType": "goods", "targetId": str(gid), "reason": reason}, 20)
    return 1


# -- pictures -----------------------------------------------------------------------------
def _font(size):
    try:
        return ImageFont.load_default(size)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _jpeg(im):
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


def _avatar(nickname, suffix):
    """A round-faced initial on a colour of its own (PNG bytes)."""
    rnd = random.Random(suffix)
    colour = tuple(rnd.randrange(60, 200) for _ in range(3))
    im = PILImage.new("RGB", (240, 240), colour)
    draw = ImageDraw.Draw(im)
    draw.ellipse((40, 40, 200, 200), fill=(255, 255, 255))
    draw.text((120, 120), suffix[0].upper(), fill=colour, font=_font(96), anchor="mm")
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def _photo(drawing, variant, price):
    """A listing's photo: its object drawn on a soft background, the price in a corner."""
    kind, colour = drawing
    w, h = 800, 600
    bg = tuple(min(255, c + 150) for c in colour) if variant == 0 else (245, 245, 240)
    im = PILImage.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(im)
    for y in range(0, h, 40):  # a table top
        draw.line((0, y + 400, w, y + 400), fill=tuple(max(0, c - 20) for c in bg), width=2)
    cx, cy = (w // 2, h // 2) if variant == 0 else (w // 2 - 60, h // 2 + 20)
    DRAW[kind](draw, cx, cy, colour)
    draw.rounded_rectangle((w - 230, 20, w - 20, 100), 16, fill=(255, 255, 255))
    amount = price.rstrip("0").rstrip(".")  # the built-in font has no ¥ or 元
    draw.text((w - 125, 60), "RMB " + amount if amount != "0" else "FREE", fill=(220, 50, 50),
              font=_font(40), anchor="mm")
    return _jpeg(im)


def _book(d, x, y, c):
    d.rectangle((x - 150, y - 190, x + 150, y + 190), fill=c, outline=(30, 30, 30), width=4)
    d.rectangle((x - 150, y - 190, x - 120, y + 190), fill=tuple(c // 2 for c in c))
    d.rectangle((x - 90, y - 120, x + 120, y - 60), fill=(250, 250, 250))


def _bike(d, x, y, c):
    for wx in (x - 170, x + 170):
        d.ellipse((wx - 110, y - 10, wx + 110, y + 210), outline=(40, 40, 40), width=12)
    d.line((x - 170, y + 100, x, y + 100, x + 80, y - 40, x - 90, y - 40, x - 170, y + 100),
           fill=c, width=14)
    d.line((x + 80, y - 40, x + 170, y + 100), fill=c, width=14)
    d.line((x + 60, y - 80, x + 120, y - 80), fill=(40, 40, 40), width=12)


def _lamp(d, x, y, c):
    d.ellipse((x - 120, y + 170, x + 120, y + 220), fill=(60, 60, 60))
    d.line((x, y + 190, x - 60, y, x + 40, y - 120), fill=(80, 80, 80), width=16)
    d.polygon([(x - 40, y - 140), (x + 160, y - 200), (x + 180, y - 60)], fill=c)


def _phone(d, x, y, c):
    d.ellipse((x - 170, y - 60, x - 50, y + 60), fill=c)
    d.ellipse((x + 50, y - 60, x + 170, y + 60), fill=c)
    d.arc((x - 150, y - 220, x + 150, y + 40), 180, 360, fill=(50, 50, 50), width=18)


def _pot(d, x, y, c):
    d.rounded_rectangle((x - 170, y - 110, x + 170, y + 170), 60, fill=c)
    d.ellipse((x - 150, y - 150, x + 150, y - 70), fill=(235, 235, 235), outline=(60, 60, 60),
              width=4)
    d.rectangle((x - 30, y + 20, x + 30, y + 60), fill=(40, 40, 40))


def _box(d, x, y, c):
    d.rectangle((x - 200, y - 100, x + 200, y + 180), fill=c, outline=(40, 40, 40), width=4)
    d.rectangle((x - 220, y - 140, x + 220, y - 100), fill=tuple(max(0, v - 40) for v in c))


def _ball(d, x, y, c):
    d.ellipse((x - 180, y - 180, x + 180, y + 180), fill=c, outline=(40, 40, 40), width=6)
    d.line((x - 180, y, x + 180, y), fill=(40, 40, 40), width=6)
    d.line((x, y - 180, x, y + 180), fill=(40, 40, 40), width=6)
    d.arc((x - 260, y - 180, x - 20, y + 180), 300, 60, fill=(40, 40, 40), width=6)
    d.arc((x + 20, y - 180, x + 260, y + 180), 120, 240, fill=(40, 40, 40), width=6)


DRAW = dict(book=_book, bike=_bike, lamp=_lamp, phone=_phone, pot=_pot, box=_box, ball=_ball)
