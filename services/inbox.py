"""The inbox: type 0 comments and replies, type 1 likes, 2 "still selling?" reminders, 3 price
drops of favourites, 4 listings matching a want-to-buy post (newer clients; for 4 gid
is the listing, content the post's keywords, openid/wxname the seller), 5 disputes about a
hand-over (gid the listing, content what happened; services/disputes.py); unread lines until
haveRead."""
from models.account import UserBlock
from models.comment import NOTICE_COMMENT, NOTICE_EXPIRY, NOTICE_LIKE, NOTICE_PRICE_DROP, Notice
from models.goods import Goods
from models.user import User
from services import clock, validate
from services.disputes import NOTICE_DISPUTE
from services.wanted import NOTICE_WANTED

MAX_LINES = 200


def kind(value):
    """The inbox `type`: 0 (comments and replies), 1 (likes), 2 (expiry reminders), 3 (price
    drops), 4 (want-to-buy matches), 5 (disputes)."""
    return validate.choice(value, "type", (NOTICE_COMMENT, NOTICE_LIKE, NOTICE_EXPIRY,
                                           NOTICE_PRICE_DROP, NOTICE_WANTED, NOTICE_DISPUTE))


def unread(openid, notice_type):
    """/lt/getNoticeInfo: extend.info, the unread lines, newest first, with actor and goods;
    none whose actor `openid` blocks (a block hides the blocked from everything the blocker
    reads: lines written before the block too)."""
    notices = list(Notice.select().where(Notice.openid == openid, Notice.type == notice_type,
                                         Notice.read == False,  # noqa: E712
                                         UserBlock.not_blocked_by(openid, Notice.actor_openid))
                   .order_by(Notice.id.desc()).limit(MAX_LINES))
    actors = User.names(n.actor_openid for n in notices)
    gids = {n.gid for n in notices if n.gid}
    goods = {g.gid: g for g in Goods.select().where(Goods.gid.in_(list(gids)))} if gids else {}
    info = []
    for n in notices:
        actor, item = actors.get(n.actor_openid), goods.get(n.gid)
        info.append({"openid": n.actor_openid, "wxname": actor.wxname if actor else "",
                     "headImg": actor.head_img if actor else "",
                     "state": actor.state if actor else 0, "gid": n.gid,
                     "goodsName": item.goods_name if item else "",
                     "goodsTitle": item.goods_title if item else "",
                     "content": n.content, "sendTime": clock.display(n.send_time)})
    return info


def mark_read(openid, notice_type):
    """/lt/haveRead: mark that inbox read; returns how many lines changed."""
    return (Notice.update(read=True)
            .where(Notice.openid == openid, Notice.type == notice_type,
                   Notice.read == False).execute())  # noqa: E712
