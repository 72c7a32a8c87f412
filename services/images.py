"""Uploaded images: decode with Pillow, re-encode without metadata, store, attach, sign private URLs.

Only real JPEG, PNG, WebP and GIF images pass: the bytes are decoded (never trusted by name or
content type), capped in bytes and in pixels (decompression bombs), turned upright from EXIF,
and written anew without EXIF, GPS, comments or XMP under a random name. Student-ID photos live
in a separate folder that no static route serves; they are read through signed, expiring URLs.

The pixel cap holds for everything that gets decoded, checked before it is: a GIF's frames are
read from its blocks first (a frame may be larger than the logical screen, and Pillow grows the
canvas to fit it), and the canvas times the frame count must fit the cap. APNG, animated WebP
and MPO (multi-picture JPEG) keep only their first picture, whose size is the canvas (APNG and
WebP frames cannot exceed it), so nothing past it is ever decoded.
"""
import hashlib
import hmac
import io
import os
import re
import secrets
import struct
import time
import warnings
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import ImageOps, ImageSequence, UnidentifiedImageError

from models import is_mysql, write_txn
from models.goods import APPROVED, BANNER, CHAT_IMAGE, GOODS_PHOTO, STUDENT_ID, Goods, Image
from models.goods import PENDING as IN_REVIEW  # models.user has its own PENDING (state 3)
from models.user import BLOCKED, PENDING, User
from services import validate
from errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, Unsupported
from services.users import require_active

EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
SAME_AS = {"MPO": "JPEG"}  # phone cameras' multi-picture JPEG: its first picture, as a JPEG
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}
NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp|gif)$")
THUMB_SIZE = (360, 360)
RESAMPLE_AS_RGBA = ("1", "P", "PA", "LA", "I", "I;16", "F")  # modes resized through RGBA
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


def check_bytes(raw, max_bytes):
    """Invalid when empty, TooLarge past max_bytes: the first, free refusals."""
    if not raw:
        raise Invalid("file is empty")
    if len(raw) > max_bytes:
        raise TooLarge("the image is larger than %(max)d bytes", max=max_bytes)


def _process(raw, max_bytes, max_pixels):
    check_bytes(raw, max_bytes)
    # A GIF's frames are measured from its blocks before Pillow sees it: opening one already
    # allocates for its first frame, and each seek for the next (disposal), before any check.
    canvas, frames = gif_geometry(raw) if raw[:6] in (b"GIF87a", b"GIF89a") else (None, 1)
    if canvas is not None:
        _check_pixels(canvas, frames, max_pixels)
    try:
        im = PILImage.open(io.BytesIO(raw), formats=list(EXTENSIONS))
    except UnidentifiedImageError:
        raise Unsupported("only JPEG, PNG, WebP or GIF images are accepted")
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise Invalid("the image has too many pixels")
    except BROKEN:
        raise Invalid("the image is damaged")
    with im:
        fmt = SAME_AS.get(im.format, im.format)
        if fmt not in EXTENSIONS:  # a format Pillow reaches through an accepted one's opener
            raise Unsupported("only JPEG, PNG, WebP or GIF images are accepted")
        if canvas is None or fmt != "GIF":
            canvas, frames = im.size, 1  # only the first picture is decoded
        _check_pixels(canvas, frames, max_pixels)
        try:
            data, thumb_data, thumb_ext = _reencode(im, fmt, frames, canvas)
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
            raise Invalid("the image has too many pixels")
        except Invalid:
            raise
        except BROKEN:
            raise Invalid("the image is truncated or damaged")
    ext = EXTENSIONS[fmt]
    return Processed(secrets.token_hex(16) + "." + ext, data,
                     secrets.token_hex(16) + "." + thumb_ext, thumb_data)


def _check_pixels(canvas, frames, max_pixels):
    """Invalid unless every frame (each decoded to the full canvas) and all together fit."""
    pixels = canvas[0] * canvas[1]
    if frames > MAX_FRAMES or pixels > max_pixels or pixels * frames > max_pixels:
        raise Invalid("the image has too many pixels")


def gif_geometry(raw):
    """(canvas size, frame count) of a GIF, read from its blocks exactly the way Pillow's GIF
    reader walks them (quirks included: a differing walk could hide a frame), decoding nothing.
    The canvas covers the logical screen and every frame's extent (Pillow grows the image to a
    frame that reaches past the screen). Counting stops past MAX_FRAMES."""
    if len(raw) < 13:
        raise Invalid("the image is damaged")
    width, height = struct.unpack_from("<HH", raw, 6)
    pos, frames = 13 + _color_table(raw[10]), 0
    while pos < len(raw) and frames <= MAX_FRAMES:
        kind, pos = raw[pos], pos + 1
        if kind == 0x3B:  # trailer
            break
        if kind == 0x21:  # extension: a label, then sub-blocks
            label, (block, pos) = raw[pos:pos + 1], _data(raw, pos + 1)
            if label == b"\xfe":  # a comment: its sub-blocks up to the terminator
                while block:
                    block, pos = _data(raw, pos)
                continue
            if label == b"\xff" and not frames and block and block.startswith(b"NETSCAPE2.0"):
                block, pos = _data(raw, pos)  # Pillow reads the loop count block...
            block, pos = _data(raw, pos)  # ...then skips blocks, even past a terminator it read
            while block:
                block, pos = _data(raw, pos)
        elif kind == 0x2C:  # image descriptor: x, y, w, h, flags; colour table; LZW size; data
            x, y, w, h = struct.unpack("<HHHH", raw[pos:pos + 8].ljust(8, b"\0"))
            width, height, frames = max(width, x + w), max(height, y + h), frames + 1
            flags = raw[pos + 8] if pos + 8 < len(raw) else 0
            block, pos = _data(raw, pos + 9 + _color_table(flags) + 1)
            while block:
                block, pos = _data(raw, pos)
        # any other byte is skipped, as Pillow does
    return (width, height), max(frames, 1)


def _color_table(flags):
    """Bytes of the colour table that follows a GIF screen or image descriptor with these flags."""
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _data(raw, pos):
    """(sub-block, position after it) as GifImageFile.data() reads one: None for a terminator
    or the end of the file, a short block when truncated."""
    size = raw[pos] if pos < len(raw) else 0
    return (raw[pos + 1:pos + 1 + size] if size else None), pos + 1 + size


def _clean(image):
    """Drop every metadata entry Pillow would write back (EXIF, GPS, comment, XMP)."""
    image.info = {k: v for k, v in image.info.items() if k in KEEP_INFO}
    return image


def _reencode(im, fmt, frames, canvas):
    """(image bytes, thumbnail bytes, thumbnail extension), written anew. Full-size copies are
    avoided (EXIF rotation in place, the thumbnail resized straight from the image): one upload
    holds about one decoded image, or for a GIF one RGBA canvas per frame."""
    out = io.BytesIO()
    if fmt == "GIF" and frames > 1:
        parts, durations = [], []
        for frame in ImageSequence.Iterator(im):
            # seek() grew the canvas to this frame before decoding it: it must match the walk
            if frame.size[0] > canvas[0] or frame.size[1] > canvas[1] or len(parts) >= frames:
                raise Invalid("the image has too many pixels")
            durations.append(max(20, int(frame.info.get("duration", 100))))
            parts.append(_clean(frame.convert("RGBA")))
        parts[0].save(out, "GIF", save_all=True, append_images=parts[1:], duration=durations,
                      loop=0, disposal=2)
        upright = parts[0]
    else:
        im.load()
        ImageOps.exif_transpose(im, in_place=True)
        upright = _clean(im)
        options = {"JPEG": {"quality": 88}, "WEBP": {"quality": 85}}.get(fmt, {})
        if fmt == "JPEG" and upright.mode not in ("L", "RGB", "CMYK"):
            upright = _clean(upright.convert("RGB"))
        upright.save(out, fmt, **options)
    thumb = _thumbnail(upright)
    small = io.BytesIO()
    if fmt == "JPEG":
        thumb.convert("RGB").save(small, "JPEG", quality=80)
        return out.getvalue(), small.getvalue(), "jpg"
    if fmt == "WEBP":
        thumb.save(small, "WEBP", quality=80)
        return out.getvalue(), small.getvalue(), "webp"
    thumb.save(small, "PNG")
    return out.getvalue(), small.getvalue(), "png"


def _thumbnail(image):
    """A new image no larger than THUMB_SIZE, made without a full-size copy: Pillow's own
    thumbnail() copies and converts the whole image first (RGBA to premultiplied, P to RGBA)."""
    scale = min(1.0, THUMB_SIZE[0] / image.width, THUMB_SIZE[1] / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    factor = min(image.width // size[0], image.height // size[1]) // 2  # reducing gap 2
    if factor > 1:
        image = _reduce_in_bands(image, factor)
    elif image.mode in RESAMPLE_AS_RGBA:
        image = image.convert("RGBA")
    return _clean(image.resize(size, PILImage.Resampling.BICUBIC))


def _reduce_in_bands(image, factor):
    """image.reduce(factor) (converted to RGBA where needed), a band of rows at a time."""
    rows = factor * max(1, 1_000_000 // (image.width * factor))  # about a megapixel a band
    mode = "RGBA" if image.mode in RESAMPLE_AS_RGBA else image.mode
    out = PILImage.new(mode, (-(-image.width // factor), -(-image.height // factor)))
    for top in range(0, image.height, rows):
        band = image.crop((0, top, image.width, min(top + rows, image.height)))
        out.paste((band.convert(mode) if band.mode != mode else band).reduce(factor),
                  (0, top // factor))
    return out


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
