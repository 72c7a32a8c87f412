"""A user's account as a whole: the token epoch (every login of an openid ends at once) and
deleting the account. Plain functions on the database executor.

Deleting keeps what other people wrote to or about the user (comments, replies, chat messages,
reports, hand-overs and ratings) but takes the openid out of it (DELETION below lists every
table): every row moves to a pseudonym `deleted-<id>-<hex>`
whose user row is the placeholder "已注销用户" with state DELETED, so every page that names an
author shows the placeholder, and a later login with the same openid finds nothing of it: it
starts a fresh account.
"""
import secrets

from peewee import fn

import models.wechat  # noqa: F401  (every model is known to the registry's generic part)
from models import BaseModel, utcnow, write_txn
from models.account import SessionEpoch
from models.admin import AdminAction, record
from models.chat import ChatList, ChatMessage, pair_key
import models.dispute  # noqa: F401  (these tables are handled by the registry)
import models.privacy  # noqa: F401
import models.suggest  # noqa: F401
import models.words  # noqa: F401
from models.goods import ON_SALE, RESERVED, STUDENT_ID, Goods, Image, SearchCounted
from models.rating import HANDOVER_PROPOSED, HandOver
from models.report import Report
from models.user import DELETED, User
from models.wanted import WANTED_DELETED, WantedKey, WantedPost
from search import index as search_index
from services.users import ensure_user
from errors import Invalid, NotFound

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


# -- what deletion does to each table ------------------------------------------------------
# Every table of the schema, and in it every column that can hold a person's openid (or their
# name), with what deleting the account does to it. tests/test_deletion.py reads the schema and
# fails when a table, or a column that looks like it names someone, is missing here (so the next
# table cannot be forgotten); docs/marketplace.md ("Deleting an account") says the same in words.
REMOVE = "remove"         # the rows where it is the person are deleted
ANONYMISE = "anonymise"   # the value becomes the pseudonym (others keep the row)
KEEP = "keep"             # kept as it is, on purpose (the reason beside it)
NOT_A_USER = "not a user"  # holds something else (an admin's name, a template id, a key)

DELETION = {
    "user": {"openid": ANONYMISE, "wxname": ANONYMISE, "uname": ANONYMISE, "wx": ANONYMISE,
             "school": ANONYMISE, "uclass": ANONYMISE, "ip_region": ANONYMISE,
             "last_ip": ANONYMISE},  # the placeholder row, profile and addresses wiped
    "goods": {"openid": ANONYMISE},       # taken down; kept for the comments and chats citing it
    "image": {"openid": ANONYMISE},       # student-ID photos removed, with their files
    "media_check": {"openid": ANONYMISE, "trace_id": NOT_A_USER},  # follows its image
    "favourite": {"openid": REMOVE},
    "notice": {"openid": REMOVE, "actor_openid": ANONYMISE},
    "notify_grant": {"openid": REMOVE, "template_id": NOT_A_USER},
    "notify_sent": {"to_openid": REMOVE, "from_openid": REMOVE},
    "chat_list": {"to_openid": REMOVE, "from_openid": ANONYMISE, "from_name": ANONYMISE},
    "chat_message": {"pair": ANONYMISE, "from_openid": ANONYMISE, "to_openid": ANONYMISE,
                     "client_msg_id": NOT_A_USER},
    "comment": {"from_openid": ANONYMISE},
    "reply": {"from_openid": ANONYMISE, "to_openid": ANONYMISE},
    "liked": {"openid": ANONYMISE},
    "report": {"reporter": ANONYMISE, "target_id": ANONYMISE,  # a report of the user
               "handled_by": NOT_A_USER},
    "admin_openid": {"openid": REMOVE},
    "user_block": {"blocker": REMOVE, "blocked": REMOVE},
    "search_counted": {"who": REMOVE, "keyword": NOT_A_USER},  # "u:<openid>"
    "search_keyword": {"keyword": NOT_A_USER},
    "wanted_post": {"openid": ANONYMISE},  # deleted (off the board, keys dropped), reports kept
    "wanted_key": {"key": NOT_A_USER},
    "hand_over": {"seller": ANONYMISE, "buyer": ANONYMISE},  # a proposed one is removed
    "rating": {"rater": ANONYMISE, "ratee": ANONYMISE},  # the other party's summary stays true
    "consent": {"openid": REMOVE},
    "data_export": {"openid": ANONYMISE,  # the sweep removes a deleted account's archive file
                    "user_id": KEEP,  # the placeholder row's id: marks the archive an orphan
                    "name": NOT_A_USER},
    # a safety notice shown; the dashboard's per-day counts stay true
    "chat_safety_notice": {"recipient": ANONYMISE, "sender": ANONYMISE,
                           "day": NOT_A_USER, "kind": NOT_A_USER},
    "dispute": {"opener": ANONYMISE,  # stays for the other party and the moderators
                "decided_by": NOT_A_USER, "opener_role": NOT_A_USER},  # an admin; a role
    "admin_action": {"target": ANONYMISE,  # "user:<openid>" of a moderation
                     "actor": NOT_A_USER},  # an admin; the deletion's own line: the pseudonym
    "session_epoch": {"openid": KEEP},  # keeps the deleted account's tokens dead for ever
    "admin": {"username": NOT_A_USER},
    "sensitive_word": {"word": NOT_A_USER, "actor": NOT_A_USER},  # an admin's change
    # words of public listings: the taken-down listings leave them through search.index.reindex
    "suggest_term": {"term": NOT_A_USER}, "suggest_key": {"skey": NOT_A_USER},
    "suggest_prefix": {"prefix": NOT_A_USER}, "goods_suggest": {"terms": NOT_A_USER},
    "word_list_version": {},
    "admin_notice": {}, "wechat_token": {}, "goods_search": {}, "schema_migration": {},
    "goods_fts": {}, "goods_fts_config": {}, "goods_fts_data": {}, "goods_fts_docsize": {},
    "goods_fts_idx": {},  # SQLite's full-text index of goods_search: words, no people
}


# done by delete_account's own code, not the plain loop: values that are not the bare openid
# ("u:<openid>", "user:<openid>", a pair key, a display name) or rows that need more
BY_CODE = {("user", c) for c in DELETION["user"]} | {
    ("chat_message", "pair"), ("chat_list", "from_name"), ("report", "target_id"),
    ("admin_action", "target"), ("search_counted", "who")}


def _models():
    """{table name: model} of every model (the generic part of deletion)."""
    found, todo = {}, list(BaseModel.__subclasses__())
    while todo:
        model = todo.pop()
        found[model._meta.table_name] = model
        todo.extend(model.__subclasses__())
    return found


def delete_account(openid):
    """Delete the account of `openid` in one transaction (see the module docstring and
    DELETION); returns {"ghost", "epoch", "files": private student-ID file names to remove,
    "gids" taken down}."""
    def write():
        user = User.by_openid(openid)
        if user is None or user.state == DELETED:
            raise NotFound("no such user")
        ghost = "deleted-%d-%s" % (user.id, secrets.token_hex(4))
        files = [i.url for i in Image.select(Image.url).where(Image.openid == openid,
                                                              Image.flag == STUDENT_ID)]
        Image.delete().where(Image.openid == openid, Image.flag == STUDENT_ID).execute()
        gids = [g.gid for g in Goods.select(Goods.gid).where(Goods.openid == openid)]
        Goods.update(deleted=True).where(Goods.openid == openid).execute()
        for gid in gids:
            search_index.reindex(gid)  # out of the index (and this process's candidate cache)
        SearchCounted.delete().where(SearchCounted.who == "u:" + openid).execute()
        _wanted_and_handovers(openid)
        _anonymise(openid, ghost)
        _by_registry(openid, ghost)
        User.update(openid=ghost, wxname=PLACEHOLDER, head_img="", sex=0, uname="", qq="", wx="",
                    school="", xuehao="", uclass="", state=DELETED, reason="", registered=False,
                    ip_region="", last_ip="", ip_seen_at=None, updated_at=utcnow()).where(User.id == user.id).execute()
        epoch = _bump_epoch(openid)
        record(ghost, "account_delete", "user:" + ghost, old=user.state, new=DELETED)
        return {"ghost": ghost, "epoch": epoch, "files": files, "gids": gids}
    with write_txn():
        return write()


def _by_registry(openid, ghost):
    """The plain part of DELETION: rows where a REMOVE column is the person go, ANONYMISE
    columns that are the person become the pseudonym (what needs more, e.g. the chat pair,
    was done before)."""
    by_name = _models()
    for table, columns in DELETION.items():
        model = by_name.get(table)
        for column, policy in columns.items():
            field = model._meta.columns.get(column) if model else None
            if field is None or policy not in (REMOVE, ANONYMISE) or (table, column) in BY_CODE:
                continue
            if policy == REMOVE:
                model.delete().where(field == openid).execute()
            else:
                model.update({field: ghost}).where(field == openid).execute()


def _wanted_and_handovers(openid):
    """The person's want-to-buy posts leave the board (deleted, their keys dropped; the rows
    stay, under the pseudonym, for reports citing them); a hand-over still waiting for a
    confirmation is withdrawn (a listing it reserved goes back on sale)."""
    posts = [p.id for p in WantedPost.select(WantedPost.id).where(WantedPost.openid == openid)]
    if posts:
        WantedPost.update(state=WANTED_DELETED).where(WantedPost.id.in_(posts)).execute()
        WantedKey.delete().where(WantedKey.wanted_id.in_(posts)).execute()
    waiting = list(HandOver.select().where(
        (HandOver.seller == openid) | (HandOver.buyer == openid),
        HandOver.state == HANDOVER_PROPOSED))
    for h in waiting:
        HandOver.delete().where(HandOver.id == h.id).execute()
        if h.seller != openid and Goods.update(sale_state=ON_SALE).where(
                Goods.gid == h.gid, Goods.sale_state == RESERVED).execute():
            search_index.reindex(h.gid)


def _anonymise(openid, ghost):
    """What needs more than a plain update: the chat pair keys, the conversation rows' names,
    a report of the user, the audit lines naming the user."""
    Report.update(target_id=ghost).where(Report.target_type == "user",
                                         Report.target_id == openid).execute()
    AdminAction.update(target="user:" + ghost).where(
        AdminAction.target == "user:" + openid).execute()
    peers = {m.peer for m in ChatMessage.select(fn.DISTINCT(ChatMessage.to_openid).alias("peer"))
             .where(ChatMessage.from_openid == openid).objects()}
    peers |= {m.peer for m in ChatMessage.select(fn.DISTINCT(ChatMessage.from_openid)
                                                 .alias("peer"))
              .where(ChatMessage.to_openid == openid).objects()}
    for peer in peers:
        ChatMessage.update(pair=pair_key(ghost, peer)).where(
            ChatMessage.pair == pair_key(openid, peer)).execute()
    ChatList.update(from_name=PLACEHOLDER, from_avatar="").where(
        ChatList.from_openid == openid).execute()
