"""Uploaded images: store, attach and purge them, and sign private URLs (the one builder of every
image URL). The bytes arrive decoded, checked and re-encoded by imaging.clean.process.

Student-ID photos and chat pictures live in a separate folder that no static route serves;
they are read through signed, expiring URLs.
"""
import hashlib
import hmac
import os
import re
import time

from models import is_mysql, write_txn
from models.goods import APPROVED, BANNER, CHAT_IMAGE, GOODS_PHOTO, STUDENT_ID, Goods, Image
from models.goods import PENDING as IN_REVIEW  # models.user has its own PENDING (state 3)
from models.user import BLOCKED, PENDING, User
from services import validate
from errors import Conflict, Forbidden, NotFound
from services.users import require_active

CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}
NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp|gif)$")
SIGNED_TTL = 900  # seconds a student-ID photo URL stays valid


def folders(config):
    """(public folder served at /uploads/, private folder for student-ID photos)."""
    public = config["uploads"]["dir"]
    return public, public.rstrip("/\\") + "-private"


def _write(folder, name, data):
    """Create a new file (never overwrite) under folder."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "xb") as f:
        f.write(data)


def remove_private(config, names):
    """Remove student-ID photo files (their rows are already gone)."""
    _remove(folders(config)[1], *names)


def _remove(folder, *names):
    for name in names:
        if name and NAME.match(name):
            try:
                os.remove(os.path.join(folder, name))
            except FileNotFoundError:
                pass


def may_upload(openid, flag, per_goods):
    """Refusals that need no decoding, made before it: a blocked caller; for a goods photo, no
    listing or a full one. Reads only; the save checks again (things may change meanwhile)."""
    user = User.by_openid(openid)
    if user is not None and user.state == BLOCKED:
        raise Forbidden("this account is blocked")
    if flag == GOODS_PHOTO:
        _room_on_newest_goods(openid, per_goods, lock=False)


def _room_on_newest_goods(openid, per_goods, lock):
    """The caller's newest listing, or NotFound / Conflict when it has no room for a photo."""
    query = Goods.live().where(Goods.openid == openid).order_by(Goods.gid.desc()).limit(1)
    goods = (query.for_update() if lock and is_mysql() else query).first()
    if goods is None:
        raise NotFound("publish the goods before uploading its photos")
    count = Image.select().where(Image.gid == goods.gid, Image.flag == GOODS_PHOTO).count()
    if count >= per_goods:
        raise Conflict("at most %(n)d photos per goods", n=per_goods)
    return goods


def save_goods_photo(openid, processed, folder, per_goods):
    """flag=0: attach to the caller's newest listing (at most per_goods photos); the file names.
    A photo added to an approved listing sends it back to review (state 0): nothing a moderator
    has not seen goes public."""
    require_active(openid)
    with write_txn():
        goods = _room_on_newest_goods(openid, per_goods, lock=True)
        _write(folder, processed.name, processed.data)
        _write(folder, processed.thumb, processed.thumb_data)
        image = Image.create(openid=openid, flag=GOODS_PHOTO, url=processed.name,
                             thumb=processed.thumb, gid=goods.gid)
        if goods.state == APPROVED:  # a moderator approved it without this photo: review again
            Goods.update(state=IN_REVIEW).where(Goods.gid == goods.gid).execute()
    return {"gid": goods.gid, "url": processed.name, "thumb": processed.thumb, "id": image.id,
            "state": IN_REVIEW if goods.state == APPROVED else goods.state}


def save_student_id(openid, processed, folder, keep):
    """flag=1: store a private student-ID photo (the newest `keep` stay); the user becomes pending."""
    user = require_active(openid)
    with write_txn():
        old = list(Image.select().where(Image.openid == openid, Image.flag == STUDENT_ID)
                   .order_by(Image.id.desc()).offset(max(keep - 1, 0)))
        if old:
            Image.delete().where(Image.id.in_([i.id for i in old])).execute()
        _write(folder, processed.name, processed.data)
        Image.create(openid=openid, flag=STUDENT_ID, url=processed.name, thumb="")
        User.update(state=PENDING).where(User.id == user.id, User.state != BLOCKED).execute()
    _remove(folder, *[i.url for i in old])
    return {"url": processed.name}


def save_chat_image(openid, processed, folder):
    """flag=3: a picture for a chat message, kept private (signed URLs only, services/chat_media)."""
    require_active(openid)
    with write_txn():
        _write(folder, processed.name, processed.data)
        _write(folder, processed.thumb, processed.thumb_data)
        image = Image.create(openid=openid, flag=CHAT_IMAGE, url=processed.name,
                             thumb=processed.thumb)
    return {"id": image.id, "url": processed.name, "thumb": processed.thumb}


def purge_chat_images(cutoff, folder, batch=200):
    """Delete up to `batch` chat pictures uploaded before `cutoff` (their messages are purged
    with them) and their files; how many went."""
    old = list(Image.select().where(Image.flag == CHAT_IMAGE, Image.created_at < cutoff)
               .order_by(Image.id).limit(batch))
    if old:
        with write_txn():
            Image.delete().where(Image.id.in_([i.id for i in old])).execute()
        _remove(folder, *[name for i in old for name in (i.url, i.thumb)])
    return len(old)


# -- URLs: the one builder of every image URL ----------------------------------------------
def upload_url(base, name):
    """The URL of a public upload (a stored name, a path, or already a URL) on `base` (a
    scheme and host; "" for a same-host path, as the admin pages use)."""
    if not name or name.startswith(("http://", "https://")):
        return name or ""
    return base + (name if name.startswith("/") else "/uploads/" + name)


def photo_url(base, secret, name):
    """A student-ID photo's URL: signed and expiring for a stored name; a URL or path kept."""
    if not name or name.startswith(("http://", "https://", "/")):
        return upload_url(base, name)
    return private_url(base, secret, name)


def _signature(secret, name, expires):
    message = ("student-id:%s:%d" % (name, expires)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def private_url(base, secret, name, ttl=SIGNED_TTL, now=None):
    """A URL for one private photo, valid for ttl seconds."""
    expires = int(now if now is not None else time.time()) + ttl
    return "%s/wx/images/private/%s?e=%d&s=%s" % (base, name, expires,
                                                   _signature(secret, name, expires))


def check_signature(secret, name, expires, signature, now=None):
    """True when (name, expires) was signed with secret and has not expired."""
    if not isinstance(expires, int) or isinstance(expires, bool):
        expires = validate.strict_int(expires)  # ASCII digits only, as every number
    if expires is None:
        return False
    if expires < (now if now is not None else time.time()) or not NAME.match(name or ""):
        return False
    # bytes: compare_digest raises TypeError on a str with non-ASCII characters (a 500)
    return hmac.compare_digest(_signature(secret, name, expires).encode(),
                               str(signature or "").encode())


def student_id_images(openid, base, secret):
    """[{imageUrl}] signed URLs of a user's student-ID photos, newest first (owner/admins only)."""
    query = (Image.select().where(Image.openid == openid, Image.flag == STUDENT_ID)
             .order_by(Image.id.desc()))
    return [{"imageUrl": private_url(base, secret, i.url)} for i in query]


def private_file(folder, name):
    """(bytes, content type) of a stored private photo (a student-ID photo, a chat picture or its
    thumbnail), or NotFound."""
    if not NAME.match(name or ""):
        raise NotFound("no such image")
    private = ((Image.flag == STUDENT_ID) & (Image.url == name)) | (
        (Image.flag == CHAT_IMAGE) & (Image.hidden == False)  # noqa: E712 (held: not shown)
        & ((Image.url == name) | (Image.thumb == name)))
    if not Image.select().where(private).exists():
        raise NotFound("no such image")
    try:
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
    except OSError:
        raise NotFound("no such image")
    return data, CONTENT_TYPES[name.rsplit(".", 1)[1]]


def home_images(base):
    """/images/getHomeImages: banner image URLs, in their order."""
    query = Image.select().where(Image.flag == BANNER).order_by(Image.id)
    return [upload_url(base, i.url) for i in query]
