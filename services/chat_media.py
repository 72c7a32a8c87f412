"""Chat messages that are not text (newer clients): `image` and `goods`.

An `image` message carries a picture the sender uploaded for chat (`/wx/images/upload` with
flag=3: decoded, re-encoded without metadata, thumbnail, kept in the private folder). The frame
names it by the stored name or by the signed URL the upload answered; anything else is refused,
so no message carries an outside URL (a tracking pixel). It is stored by name and every frame
that shows it carries a fresh signed, expiring URL, given only to the two parties (and admins).

A `goods` message carries a listing's gid; the frame the recipient gets also carries the
listing's card (`goods`: title, price, thumbnail), looked up when the frame is written. A card
shows only what the detail call shows to anyone (`Goods.shown()`: approved, not taken down or
held, its seller not blocked); any other listing, the sender's own unreviewed one included, is
an empty, unavailable card, the same as one that does not exist: the two parties read the same
frame, so a card never shows one of them what the detail call would refuse them. A sender may
name only a listing they can read themselves (its detail): anything else is refused as not
existing, so a goods message tells nobody which unreviewed listings exist.

Plain functions on the database executor.
"""
import re

from models.goods import CHAT_IMAGE, Goods, GOODS_PHOTO, Image
from services import images
from services.chat import ChatRefusal

# a stored name, or a URL of ours that names one: .../wx/images/private/NAME?e=..&s=..
_NAME = r"[0-9a-f]{32}\.(?:jpg|png|webp|gif)"
_IMAGE = re.compile(r"^(?:(?:https?://[^/\s]+)?/wx/images/private/)?(%s)(?:\?[^\s]*)?$" % _NAME)
_GID = re.compile(r"^[1-9][0-9]{0,17}$")
IMAGE_TTL = 7 * 24 * 3600  # seconds an image URL in a chat frame stays valid
PREVIEW = {"image": "[图片]", "goods": "[商品]"}  # the conversation list's last message


def check(me, kind, content):
    """The content to store for a frame of this kind (an image's name, a gid), or ChatRefusal."""
    if kind == "image":
        found = _IMAGE.match(content.strip())
        name = found.group(1) if found else None
        if name is None or not (Image.select().where(Image.url == name, Image.flag == CHAT_IMAGE,
                                                     Image.openid == me,
                                                     Image.hidden == False)  # noqa: E712
                                .exists()):
            raise ChatRefusal("bad_image", "an image message must carry a picture you uploaded "
                                           "for chat")
        return name
    if kind == "goods":
        gid = content.strip()
        if not _GID.match(gid) or not Goods.readable_by(me).where(
                Goods.gid == int(gid)).exists():
            raise ChatRefusal("bad_goods", "a goods message must carry an existing listing")
        return gid
    return content


def preview(kind, content):
    """What the conversation list shows as the last message."""
    return PREVIEW.get(kind, content)


def present(frames, base, secret, now=None):
    """Fill in what a client draws for image and goods frames (in place; also returned): an
    image's signed URL (and its thumbnail's), a listing's card."""
    gids = {int(f["content"]) for f in frames if f.get("type") == "goods"
            and _GID.match(str(f.get("content", "")))}
    cards = goods_cards(gids, base) if gids else {}
    thumbs = {}
    names = [f["content"] for f in frames if f.get("type") == "image"]
    if names:
        thumbs = {i.url: i.thumb for i in Image.select(Image.url, Image.thumb)
                  .where(Image.url.in_(names), Image.flag == CHAT_IMAGE)}
    for f in frames:
        if f.get("type") == "image" and images.NAME.match(f.get("content", "")):
            name = f["content"]
            f["content"] = images.private_url(base, secret, name, IMAGE_TTL, now)
            thumb = thumbs.get(name)
            f["thumbUrl"] = images.private_url(base, secret, thumb, IMAGE_TTL, now) if thumb else ""
        elif f.get("type") == "goods":
            f["goods"] = cards.get(int(f["content"])) if _GID.match(str(f["content"])) else None
    return frames


def goods_cards(gids, base):
    """{gid: {gid, title, price, thumbUrl, available[, saleState]}} for the listings a chat
    names: a card only for a listing Goods.shown() reads, else an empty, unavailable one."""
    empty = {"title": "", "price": "", "thumbUrl": "", "available": False}
    cards = {gid: dict(empty, gid=gid) for gid in gids}
    for g in Goods.shown().select(Goods.gid, Goods.goods_title, Goods.goods_price_new,
                                  Goods.sale_state).where(Goods.gid.in_(sorted(gids))):
        cards[g.gid] = {"gid": g.gid, "title": g.goods_title, "price": str(g.goods_price_new),
                        "thumbUrl": "", "available": True,
                        "saleState": g.sale_state}  # reserved / sold shown as such
    shown = sorted(gid for gid, card in cards.items() if card["available"])
    for i in (Image.select(Image.gid, Image.thumb, Image.url)
              .where(Image.gid.in_(shown or [0]), Image.flag == GOODS_PHOTO,
                     Image.hidden == False)  # noqa: E712
              .order_by(Image.id)):
        if not cards[i.gid]["thumbUrl"]:
            cards[i.gid]["thumbUrl"] = images.upload_url(base, i.thumb or i.url)
    return cards
