"""Uploaded images: decode with Pillow, re-encode without metadata, store, attach, sign private URLs.

Only real JPEG, PNG, WebP and GIF images pass: the bytes are decoded (never trusted by name or
content type), capped in bytes and in pixels (decompression bombs), turned upright from EXIF,
and written anew without EXIF, GPS, comments or XMP under a random name. Student-ID photos live
in a separate folder that no static route serves; they are read through signed, expiring URLs.
"""
import hashlib
import hmac
import io
import os
import re
import secrets
import time
import warnings
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import ImageOps, ImageSequence, UnidentifiedImageError

from models import is_mysql
from models.goods import APPROVED, BANNER, GOODS_PHOTO, STUDENT_ID, Goods, Image
from models.goods import PENDING as IN_REVIEW  # models.user has its own PENDING (state 3)
from models.user import BLOCKED, PENDING, User
from services.errors import Conflict, Invalid, NotFound, TooLarge, Unsupported
from services.goods import upload_url, write_txn
from services.users import require_active

EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}
NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp|gif)$")
THUMB_SIZE = (360, 360)
MAX_FRAMES = 300
KEEP_INFO = ("transparency", "icc_profile")  # everything else (exif, comment, xmp, dpi…) goes
SIGNED_TTL = 900  # seconds a student-ID photo URL stays valid
BROKEN = Exception  # decoders raise almost anything on hostile input (struct.error, KeyError…)

# Pillow's own bomb check (MAX_IMAGE_PIXELS) must refuse, not warn; set once for the process.
warnings.simplefilter("error", PILImage.DecompressionBombWarning)


@dataclass
class Processed:
    """A cleaned image and its thumbnail, ready to store."""
    name: str
    data: bytes
    thumb: str
    thumb_data: bytes


def folders(config):
    """(public folder served at /uploads/, private folder for student-ID photos)."""
    public = config["uploads"]["dir"]
    return public, public.rstrip("/\\") + "-private"


def process(raw, max_bytes, max_pixels):
    """Decode, check and re-encode an upload; Invalid / TooLarge / Unsupported when refused."""
    with warnings.catch_warnings():  # also when something reset the process-wide filter
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)
        return _process(raw, max_bytes, max_pixels)


def _process(raw, max_bytes, max_pixels):
    if not raw:
        raise Invalid("file is empty")
    if len(raw) > max_bytes:
        raise TooLarge("the image is larger than %d bytes" % max_bytes)
    try:
        im = PILImage.open(io.BytesIO(raw), formats=list(EXTENSIONS))
    except UnidentifiedImageError:
        raise Unsupported("only JPEG, PNG, WebP or GIF images are accepted")
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise Invalid("the image has too many pixels")
    except BROKEN:
        raise Invalid("the image is damaged")
    with im:
        fmt = im.format
        try:
            frames = getattr(im, "n_frames", 1) if fmt == "GIF" else 1
        except BROKEN:
            raise Invalid("the image is damaged")
        width, height = im.size
        if width * height * min(frames, MAX_FRAMES) > max_pixels or frames > MAX_FRAMES:
            raise Invalid("the image has too many pixels")
        try:
            data, thumb_data, thumb_ext = _reencode(im, fmt, frames)
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
            raise Invalid("the image has too many pixels")
        except BROKEN:
            raise Invalid("the image is truncated or damaged")
    ext = EXTENSIONS[fmt]
    return Processed(secrets.token_hex(16) + "." + ext, data,
                     secrets.token_hex(16) + "." + thumb_ext, thumb_data)


def _clean(image):
    """Drop every metadata entry Pillow would write back (EXIF, GPS, comment, XMP)."""
    image.info = {k: v for k, v in image.info.items() if k in KEEP_INFO}
    return image


def _reencode(im, fmt, frames):
    """(image bytes, thumbnail bytes, thumbnail extension), written anew."""
    out = io.BytesIO()
    if fmt == "GIF" and frames > 1:
        parts = [_clean(frame.convert("RGBA")) for frame in ImageSequence.Iterator(im)]
        durations = [max(20, int(frame.info.get("duration", 100))) for frame in
                     ImageSequence.Iterator(im)]
        parts[0].save(out, "GIF", save_all=True, append_images=parts[1:], duration=durations,
                      loop=0, disposal=2)
        upright = parts[0]
    else:
        im.load()
        upright = _clean(ImageOps.exif_transpose(im))
        options = {"JPEG": {"quality": 88}, "WEBP": {"quality": 85}}.get(fmt, {})
        if fmt == "JPEG" and upright.mode not in ("L", "RGB", "CMYK"):
            upright = _clean(upright.convert("RGB"))
        upright.save(out, fmt, **options)
    thumb = upright.convert("RGBA") if upright.mode in ("P", "PA", "LA", "I", "I;16", "F") \
        else upright.copy()
    thumb.thumbnail(THUMB_SIZE)
    _clean(thumb)
    small = io.BytesIO()
    if fmt == "JPEG":
        thumb.convert("RGB").save(small, "JPEG", quality=80)
        return out.getvalue(), small.getvalue(), "jpg"
    if fmt == "WEBP":
        thumb.save(small, "WEBP", quality=80)
        return out.getvalue(), small.getvalue(), "webp"
    thumb.save(small, "PNG")
    return out.getvalue(), small.getvalue(), "png"


def _write(folder, name, data):
    """Create a new file (never overwrite) under folder."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "xb") as f:
        f.write(data)


def _remove(folder, *names):
    for name in names:
        if name and NAME.match(name):
            try:
                os.remove(os.path.join(folder, name))
            except FileNotFoundError:
                pass


def save_goods_photo(openid, processed, folder, per_goods):
    """flag=0: attach to the caller's newest listing (at most per_goods photos); the file names.
    A photo added to an approved listing sends it back to review (state 0): nothing a moderator
    has not seen goes public."""
    require_active(openid)
    with write_txn():
        query = (Goods.select().where(Goods.openid == openid, Goods.deleted == False)  # noqa: E712
                 .order_by(Goods.gid.desc()).limit(1))
        goods = (query.for_update() if is_mysql() else query).first()
        if goods is None:
            raise NotFound("publish the goods before uploading its photos")
        count = Image.select().where(Image.gid == goods.gid, Image.flag == GOODS_PHOTO).count()
        if count >= per_goods:
            raise Conflict("at most %d photos per goods" % per_goods)
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


# -- signed URLs for private photos ---------------------------------------------------------
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
    try:
        expires = int(expires)
    except (TypeError, ValueError):
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
    """(bytes, content type) of a stored private photo, or NotFound."""
    if not NAME.match(name or ""):
        raise NotFound("no such image")
    if not Image.select().where(Image.url == name, Image.flag == STUDENT_ID).exists():
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
