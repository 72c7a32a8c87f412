"""A user's account as a whole: the token epoch (every login of an openid ends at once) and
deleting the account (issue 18). Plain functions on the database executor.

Deleting keeps what other people wrote to or about the user (comments, replies, chat messages,
reports) but takes the openid out of it: every row moves to a pseudonym `deleted-<id>-<hex>`
whose user row is the placeholder "已注销用户" with state DELETED, so every page that names an
author shows the placeholder, and a later login with the same openid finds nothing of it: it
starts a fresh account.
"""
import secrets

from peewee import fn

from models import utcnow, write_txn
from models.account import SessionEpoch, UserBlock
from models.admin import AdminOpenid, record
from models.chat import ChatList, ChatMessage, pair_key
from models.comment import Comment, Liked, Notice, Reply
from models.goods import STUDENT_ID, Favourite, Goods, Image, SearchCounted
from models.report import Report
from models.subscription import NotifyGrant, NotifySent
from models.user import DELETED, User
from services import search
from services.users import ensure_user
from services.errors import Invalid, NotFound

CONFIRM = "注销"  # the confirmation a deletion must carry, exactly
PLACEHOLDER = "已注销用户"  # the author shown for what a deleted account wrote


def token_epoch(openid):
    """The epoch a user token of `openid` must carry (its `ep`, 0 when absent) to be valid."""
    row = SessionEpoch.get_or_none(SessionEpoch.openid == openid)
    return row.epoch if row else 0


def log_in(openid):
    """A login: the user row (created on first sight) and the epoch its token carries."""
    if ensure_user(openid).state == DELETED:  # a placeholder's pseudonym is nobody's openid
        raise NotFound("no such user")
    return token_epoch(openid)


def _bump_epoch(openid):
    """End every token of `openid` issued so far (one statement either way, no race)."""
    now = utcnow()
    if not SessionEpoch.update(epoch=SessionEpoch.epoch + 1, updated_at=now).where(
            SessionEpoch.openid == openid).execute():
        SessionEpoch.create(openid=openid, epoch=1, updated_at=now)
    return token_epoch(openid)


def check_confirmation(body):
    """The body must carry {"confirm": "注销"}: missing or anything else is Invalid."""
    if "confirm" not in body:
        raise Invalid('confirm is required: send {"confirm": "%(word)s"}', word=CONFIRM)
    if body["confirm"] != CONFIRM:
        raise Invalid('confirm must be exactly "%(word)s"', word=CONFIRM)


def delete_account(openid):
    """Delete the account of `openid` in one transaction (see the module docstring); returns
    {"ghost", "epoch", "files": private student-ID file names to remove, "gids" taken down}."""
    def write():
        user = User.by_openid(openid)
        if user is None or user.state == DELETED:
            raise NotFound("no such user")
        ghost = "deleted-%d-%s" % (user.id, secrets.token_hex(4))
        files = [i.url for i in Image.select(Image.url).where(Image.openid == openid,
                                                              Image.flag == STUDENT_ID)]
        Image.delete().where(Image.openid == openid, Image.flag == STUDENT_ID).execute()
        Image.update(openid=ghost).where(Image.openid == openid).execute()
        gids = [g.gid for g in Goods.select(Goods.gid).where(Goods.openid == openid)]
        Goods.update(openid=ghost, deleted=True).where(Goods.openid == openid).execute()
        for gid in gids:
            search.reindex(gid)  # out of the index (and this process's candidate cache)
        for model, column in ((Favourite, Favourite.openid), (Notice, Notice.openid),
                              (NotifyGrant, NotifyGrant.openid),
                              (NotifySent, NotifySent.to_openid),
                              (NotifySent, NotifySent.from_openid),
                              (ChatList, ChatList.to_openid),
                              (AdminOpenid, AdminOpenid.openid), (UserBlock, UserBlock.blocker),
                              (UserBlock, UserBlock.blocked)):
            model.delete().where(column == openid).execute()
        SearchCounted.delete().where(SearchCounted.who == "u:" + openid).execute()
        _anonymise(openid, ghost)
        User.update(openid=ghost, wxname=PLACEHOLDER, head_img="", sex=0, uname="", qq="", wx="",
                    school="", xuehao="", uclass="", state=DELETED, reason="", registered=False,
                    updated_at=utcnow()).where(User.id == user.id).execute()
        epoch = _bump_epoch(openid)
        record(ghost, "account_delete", "user:" + ghost, old=user.state, new=DELETED)
        return {"ghost": ghost, "epoch": epoch, "files": files, "gids": gids}
    with write_txn():
        return write()


def _anonymise(openid, ghost):
    """What others keep moves from `openid` to `ghost`: comments, replies, likes, notices they
    received about the user, reports, chat messages (with their pair key) and list rows."""
    Comment.update(from_openid=ghost).where(Comment.from_openid == openid).execute()
    Reply.update(from_openid=ghost).where(Reply.from_openid == openid).execute()
    Reply.update(to_openid=ghost).where(Reply.to_openid == openid).execute()
    Liked.update(openid=ghost).where(Liked.openid == openid).execute()
    Notice.update(actor_openid=ghost).where(Notice.actor_openid == openid).execute()
    Report.update(reporter=ghost).where(Report.reporter == openid).execute()
    Report.update(target_id=ghost).where(Report.target_type == "user",
                                         Report.target_id == openid).execute()
    peers = {m.peer for m in ChatMessage.select(fn.DISTINCT(ChatMessage.to_openid).alias("peer"))
             .where(ChatMessage.from_openid == openid).objects()}
    peers |= {m.peer for m in ChatMessage.select(fn.DISTINCT(ChatMessage.from_openid)
                                                 .alias("peer"))
              .where(ChatMessage.to_openid == openid).objects()}
    for peer in peers:
        ChatMessage.update(pair=pair_key(ghost, peer)).where(
            ChatMessage.pair == pair_key(openid, peer)).execute()
    ChatMessage.update(from_openid=ghost).where(ChatMessage.from_openid == openid).execute()
    ChatMessage.update(to_openid=ghost).where(ChatMessage.to_openid == openid).execute()
    ChatList.update(from_openid=ghost, from_name=PLACEHOLDER, from_avatar="").where(
        ChatList.from_openid == openid).execute()

