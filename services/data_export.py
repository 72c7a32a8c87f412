"""A student's data on request (PIPL Art. 45): one zip of JSON files plus the
student's own photos, of everything the server holds about them (docs/privacy.md lists every
file and field). Plain functions: the reads on the database executor, the zip writing on a
file thread (actions/privacy.py runs them). An archive is found by its owner's openid only; its
file name is random (32 hex digits) in privacy.export_dir, which is never served as static
files; it is removed `privacy.export_keep_hours` after it was prepared, and a student may ask
once a day."""
import datetime
import decimal
import json
import os
import re
import secrets
import zipfile

from models import write_txn
from models.account import UserBlock
from models.admin import AdminAction, record
from models.chat import ChatList, ChatMessage
from models.comment import Comment, Liked, Notice, Reply
from models.goods import (CHAT_IMAGE, GOODS_PHOTO, STUDENT_ID, Favourite, Goods, Image,
                          SearchCounted)
from models.privacy import READY, PREPARING, Consent, DataExport
from models.rating import HandOver, Rating
from models.report import Report
from models.subscription import NotifyGrant, NotifySent
from models.user import DELETED, User
from models.wanted import WantedPost
from services import clock
from errors import NotFound, TooMany

DAY = datetime.timedelta(days=1)
STALE = datetime.timedelta(minutes=10)  # a preparation this old never finished (a crash)
REMOVED = "removed"                     # the file is gone; the row stays for the daily rule
NAME = re.compile(r"^[0-9a-f]{32}$")
PHOTO_FOLDERS = {GOODS_PHOTO: "listings", STUDENT_ID: "student-id", CHAT_IMAGE: "chat"}


def _user(openid):
    user = User.by_openid(openid)
    if user is None or user.state == DELETED:
        raise NotFound("no such user")
    return user


def start(openid, now, keep_hours):
    """Begin an archive for `openid`: TooMany when one was made (or is being made) in the last
    24 hours; else a row in state preparing, audited. Returns {"id", "name"}. One at a time per
    student: the no-op UPDATE locks the user's row (InnoDB) or the database (SQLite) first."""
    def write():
        user = _user(openid)
        User.update(updated_at=User.updated_at).where(User.id == user.id).execute()
        last = (DataExport.select().where(
            DataExport.openid == openid, DataExport.requested_at > now - DAY,
            DataExport.user_id == user.id,  # not a deleted account's
            (DataExport.state != PREPARING) | (DataExport.requested_at > now - STALE))
            .order_by(DataExport.requested_at.desc()).first())
        if last is not None:
            raise TooMany("you can ask for your data once a day: try again after %(time)s",
                          time=clock.display(last.requested_at + DAY)[:16])
        row = DataExport.create(openid=openid, user_id=user.id, name=secrets.token_hex(16), state=PREPARING,
                                requested_at=now,
                                expires_at=now + datetime.timedelta(hours=keep_hours))
        record(openid, "data_export", "user:" + openid, new=str(row.id))
        return {"id": row.id, "name": row.name}
    with write_txn():
        return write()


def ready(export_id, size):
    """The archive's file is complete: it may be downloaded until it expires."""
    DataExport.update(state=READY, size=size).where(DataExport.id == export_id).execute()
    row = DataExport.get_by_id(export_id)
    return {"state": READY, "size": size, "expiresAt": _iso(row.expires_at)}


def forget(export_id, folder):
    """A preparation that failed: its row and any partial file go (the student may ask again)."""
    row = DataExport.get_or_none(DataExport.id == export_id)
    if row is not None:
        _remove(folder, row.name)
        DataExport.delete().where(DataExport.id == export_id).execute()


def for_download(openid, now):
    """The file name of the caller's newest ready archive (audited), or NotFound. Only ever
    looked up by the caller's own openid: no id or name from the request is used."""
    user = _user(openid)
    # a deleted account's archive (the same openid's later login is a fresh account, another
    # user row) is never handed out
    row = (DataExport.select().where(DataExport.openid == openid, DataExport.state == READY,
                                     DataExport.expires_at > now,
                                     DataExport.user_id == user.id)
           .order_by(DataExport.requested_at.desc()).first())
    if row is None:
        raise NotFound("no archive of your data is ready: ask for one first")
    record(openid, "data_export_download", "user:" + openid, new=str(row.id))
    return {"name": row.name, "requestedAt": row.requested_at}


def sweep(now, folder, batch=200):
    """Remove expired archives' files (rows kept a day for the once-a-day rule, then deleted),
    and rows of preparations that never finished. Returns the files removed."""
    removed = 0
    orphans = [row for row in DataExport.select().where(DataExport.state != REMOVED)
               .order_by(DataExport.id).limit(batch * 5) if _orphan(row)]
    expired = list(DataExport.select().where(DataExport.state != REMOVED,
                                             DataExport.expires_at <= now).limit(batch))
    for row in {r.id: r for r in orphans + expired}.values():
        _remove(folder, row.name)
        DataExport.update(state=REMOVED).where(DataExport.id == row.id).execute()
        removed += 1
    for row in (DataExport.select().where(DataExport.state == PREPARING,
                                          DataExport.requested_at < now - STALE).limit(batch)):
        _remove(folder, row.name)
        DataExport.update(state=REMOVED).where(DataExport.id == row.id).execute()
    DataExport.delete().where(DataExport.state == REMOVED,
                              DataExport.requested_at < now - DAY).execute()
    return removed


def _orphan(row):
    """True when the archive's account was deleted since (no live user began before it)."""
    user = User.by_openid(row.openid)
    return user is None or user.state == DELETED or user.id != row.user_id


def path_of(folder, name):
    """The archive's file (only names this module made)."""
    if not NAME.match(name or ""):
        raise NotFound("no archive of your data is ready: ask for one first")
    return os.path.join(folder, name + ".zip")


def _remove(folder, name):
    for path in (path_of(folder, name), path_of(folder, name) + ".part"):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


# -- what the archive holds ------------------------------------------------------------------
def _iso(value):
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")  # UTC
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def _rows(query, drop=()):
    """Every column of every row, by the model's field names (docs/privacy.md lists them)."""
    fields = [f for f in query.model._meta.sorted_fields if f.name not in drop]
    return [{f.name: _iso(getattr(row, f.name)) for f in fields} for row in query]


def _without_peers_recalls(messages, me):
    """A message the other party recalled is theirs to withdraw: the archive keeps the row and
    its time, not its content (the student's own recalled messages stay whole)."""
    for m in messages:
        if m["recalled_at"] and m["from_openid"] != me:
            m["content"] = ""
    return messages


def collect(openid, public_folder, private_folder):
    """({file name: JSON-able content}, [(path in the archive, file on disk)]) of everything
    stored about `openid`. Reads only."""
    user = _user(openid)
    me = openid
    photos, names = [], {}
    for image in Image.select().where(Image.openid == me,
                                      Image.flag.in_(list(PHOTO_FOLDERS))).order_by(Image.id):
        folder = public_folder if image.flag == GOODS_PHOTO else private_folder
        inside = "photos/%s/%s" % (PHOTO_FOLDERS[image.flag], image.url)
        names[image.id] = inside
        photos.append((inside, os.path.join(folder, image.url)))
    listings = _rows(Goods.select().where(Goods.openid == me).order_by(Goods.gid))
    images = list(Image.select().where(Image.openid == me).order_by(Image.id))
    for listing in listings:
        listing["photos"] = [names[i.id] for i in images
                             if i.gid == listing["gid"] and i.flag == GOODS_PHOTO and i.id in names]
    files = {
        "profile.json": {"user": _rows(User.select().where(User.id == user.id))[0],
                         "studentIdPhotos": [names[i.id] for i in images
                                             if i.flag == STUDENT_ID and i.id in names],
                         "chatPictures": [names[i.id] for i in images
                                          if i.flag == CHAT_IMAGE and i.id in names]},
        "listings.json": listings,
        "comments.json": {
            "comments": _rows(Comment.select().where(Comment.from_openid == me)
                              .order_by(Comment.in_id)),
            "replies": _rows(Reply.select().where((Reply.from_openid == me) |
                                                  (Reply.to_openid == me)).order_by(Reply.rid))},
        "likes.json": _rows(Liked.select().where(Liked.openid == me).order_by(Liked.id)),
        "favourites.json": _rows(Favourite.select().where(Favourite.openid == me)
                                 .order_by(Favourite.id)),
        "chat.json": {
            "messages": _without_peers_recalls(_rows(ChatMessage.select().where(
                (ChatMessage.from_openid == me) | (ChatMessage.to_openid == me))
                .order_by(ChatMessage.seq), drop=("pair",)), me),
            "conversations": _rows(ChatList.select().where(ChatList.to_openid == me)
                                   .order_by(ChatList.list_id))},
        "ratings.json": {
            "given": _rows(Rating.select().where(Rating.rater == me).order_by(Rating.id)),
            "received": _rows(Rating.select().where(Rating.ratee == me).order_by(Rating.id))},
        "wanted.json": _rows(WantedPost.select().where(WantedPost.openid == me)
                             .order_by(WantedPost.id)),
        "handovers.json": _rows(HandOver.select().where(
            (HandOver.seller == me) | (HandOver.buyer == me)).order_by(HandOver.id)),
        "reports.json": _rows(Report.select().where(Report.reporter == me).order_by(Report.id),
                              drop=("handled_by",)),
        "notices.json": _rows(Notice.select().where(Notice.openid == me).order_by(Notice.id)),
        "subscriptions.json": {
            "grants": _rows(NotifyGrant.select().where(NotifyGrant.openid == me)
                            .order_by(NotifyGrant.id)),
            "chatNoticesSent": _rows(NotifySent.select().where(NotifySent.to_openid == me)
                                     .order_by(NotifySent.id))},
        "searches.json": _rows(SearchCounted.select().where(SearchCounted.who == "u:" + me)
                               .order_by(SearchCounted.id)),
        "consents.json": _rows(Consent.select().where(Consent.openid == me)
                               .order_by(Consent.id)),
        "blocks.json": _rows(UserBlock.select().where(UserBlock.blocker == me)
                             .order_by(UserBlock.id)),
        "moderation.json": _rows(AdminAction.select().where(AdminAction.target == "user:" + me)
                                 .order_by(AdminAction.id), drop=("actor",)),
    }
    return files, photos


README = """这是你在校园二手市场服务器上的全部数据（按《个人信息保护法》第四十五条导出）。
每个 JSON 文件的字段说明见隐私说明页面 /privacy 与项目文档 docs/privacy.md；时间均为 UTC。
photos/ 里是你上传的照片（商品照片、学生证照片、聊天图片）。
This archive holds everything the market's server stores about you; docs/privacy.md
describes every file and field. Times are UTC.
"""


def write_archive(folder, name, files, photos):
    """Write the zip (JSON files, then the photos still on disk) to `name`.zip in `folder`,
    through a .part file renamed at the end; returns its size. No database: a file thread."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    final = path_of(folder, name)
    part = final + ".part"
    with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README)
        for file_name, content in files.items():
            archive.writestr(file_name, json.dumps(content, ensure_ascii=False, indent=1))
        for inside, on_disk in photos:
            if os.path.isfile(on_disk):  # a photo whose file is gone is listed, not packed
                archive.write(on_disk, inside, compress_type=zipfile.ZIP_STORED)
    os.chmod(part, 0o600)
    os.replace(part, final)
    return os.path.getsize(final)
