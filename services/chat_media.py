"""Chat messages that are not text (newer clients): `image` and `goods`.

An `image` message carries a picture the sender uploaded for chat (`/wx/images/upload` with
flag=3: decoded, re-encoded without metadata, thumbnail, kept in the private folder). The frame
names it by the stored name or by the signed URL the upload answered; anything else is refused,
so no message carries an outside URL (a tracking pixel). It is stored by name and every frame
that shows it carries a fresh signed, expiring URL, given only to the two parties (and admins).

A `goods` message carries a listing's gid; the frame the recipient gets also carries the
listing's title, price and thumbnail (`goods`), looked up when the frame is written.

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
        if not _GID.match(gid) or not Goods.select().where(
                Goods.gid == int(gid), Goods.deleted == False).exists():  # noqa: E712
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
    """{gid: {gid, title, price, thumbUrl, available, saleState}} for the listings a chat
    names."""
    cards = {}
    for g in Goods.select(Goods.gid, Goods.goods_title, Goods.goods_price_new, Goods.state,
                          Goods.hidden, Goods.deleted, Goods.sale_state).where(
                              Goods.gid.in_(sorted(gids))):
        if g.deleted or g.hidden:  # taken down or held: nothing of it is shown
            cards[g.gid] = {"gid": g.gid, "title": "", "price": "", "thumbUrl": "",
                            "available": False}
            continue
        cards[g.gid] = {"gid": g.gid, "title": g.goods_title, "price": str(g.goods_price_new),
                        "thumbUrl": "", "available": True,
                        "saleState": g.sale_state}  # reserved or sold: a buyer should not ask in vain
    for i in (Image.select(Image.gid, Image.thumb, Image.url)
              .where(Image.gid.in_(sorted(cards)), Image.flag == GOODS_PHOTO,
                     Image.hidden == False)  # noqa: E712
              .order_by(Image.id)):
        if cards[i.gid]["available"] and not cards[i.gid]["thumbUrl"]:
            cards[i.gid]["thumbUrl"] = images.upload_url(base, i.thumb or i.url)
    return cards

