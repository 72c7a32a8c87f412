"""The audit log as moderators read it (every change writes its line with models.admin.record,
inside the change's own transaction): each line in words — what was done to what, the states
named — with a link to the thing it names. The phrases are English source texts the pages
translate (locale/zh_CN.csv); `%(target)s` marks where the named thing goes."""
from models.admin import AdminAction
from models.comment import Comment
from models.goods import Goods
from models.user import User
from services import validate
from services.clock import display

# action -> (phrase, kind of the states in old/new: "goods", "user" or None)
PHRASES = {
    "goods.approve": ("approved listing %(target)s", "goods"),
    "goods.reject": ("rejected listing %(target)s", "goods"),
    "goods.delete": ("took down listing %(target)s", None),
    "goods.restore": ("restored listing %(target)s", None),
    "user.verify": ("verified the student ID of user %(target)s", "user"),
    "user.reject": ("rejected the student ID of user %(target)s", "user"),
    "user.block": ("blocked user %(target)s", "user"),
    "user.unblock": ("unblocked user %(target)s", "user"),
    "notice.update": ("changed announcement %(target)s", None),
    "notice.clear": ("cleared announcement %(target)s", None),
    "openid.add": ("made user %(target)s an admin openid", None),
    "openid.remove": ("removed user %(target)s from the admin openids", None),
    "banner.add": ("added banner %(target)s", None),
    "banner.remove": ("removed banner %(target)s", None),
    "broadcast": ("sent a broadcast to every live chat connection", None),
    "hotword.hide": ("hid hot word %(target)s", None),
    "hotword.show": ("showed hot word %(target)s again", None),
    "word.add": ("put %(target)s on the sensitive-word list", None),
    "word.remove": ("took %(target)s off the sensitive-word list", None),
    "held.release": ("released held %(target)s", None),
    "report.dismiss": ("dismissed the reports on %(target)s", None),
    "report.take_down": ("took down %(target)s after reports", None),
    "report.block": ("blocked the author of %(target)s after reports", None),
    "dispute.uphold": ("upheld dispute %(target)s", None),
    "dispute.dismiss": ("dismissed dispute %(target)s", None),
    "admin.login": ("signed in", None),
    "admin.logout": ("signed out", None),
}
LINKS = {"goods": "/admin/goods?q=%s", "user": "/admin/users/%s", "chat": "/admin/users/%s",
         "notice": "/admin/notices", "image": "/admin/banners", "hotword": "/admin/hotwords",
         "dispute": "/admin/disputes/%s", "word": "/admin/words"}


def lines(q="", page=0, size=50):
    """Audit lines, newest first, with their total; `q` filters by actor, action or target."""
    query = AdminAction.select()
    q = validate.text(q, "q", 64, required=False)
    if q:
        query = query.where((AdminAction.actor == q) | AdminAction.action.startswith(q)
                            | (AdminAction.target == q) | AdminAction.target.endswith(":" + q))
    total = query.count()
    rows = list(query.order_by(AdminAction.id.desc()).offset(page * size).limit(size + 1))
    names = _names(rows[:size])
    items = [dict(_words(a, names), id=a.id, actor=a.actor, action=a.action, target=a.target,
                  reason=a.reason, old=a.old_value, new=a.new_value, at=display(a.created_at))
             for a in rows[:size]]
    return {"items": items, "more": len(rows) > size, "total": total}


def _split(target):
    kind, _, key = (target or "").partition(":")
    return (kind, key) if key else ("", target or "")


def _numbers(keys):
    """The ids among `keys` (validate.strict_int: ASCII digits only; a stored "²" is none)."""
    return [n for n in map(validate.strict_int, keys) if n is not None and n <= validate.DB_INT_MAX]


def _names(rows):
    """{(kind, key): what a person calls it} for the listings, users and comments named."""
    keys = {_split(a.target) for a in rows}
    gids = _numbers(k for kind, k in keys if kind == "goods")
    openids = [k for kind, k in keys if kind in ("user", "chat")]
    cids = _numbers(k for kind, k in keys if kind == "comment")
    names = {}
    for g in (Goods.select(Goods.gid, Goods.goods_title, Goods.goods_name)
              .where(Goods.gid.in_(gids)) if gids else ()):
        names[("goods", str(g.gid))] = g.goods_title or g.goods_name
    for openid, user in (User.names(openids).items() if openids else ()):
        names[("user", openid)] = names[("chat", openid)] = user.wxname or openid
    for c in (Comment.select(Comment.in_id, Comment.content).where(Comment.in_id.in_(cids))
              if cids else ()):
        names[("comment", str(c.in_id))] = c.content[:40]
    return names


def _words(a, names):
    """The line's phrase, the named thing (label, link) and its states before and after."""
    phrase, states = PHRASES.get(a.action, (a.action + " %(target)s", None))
    kind, key = _split(a.target)
    label = names.get((kind, key)) or key
    if kind == "goods":
        label = "#%s %s" % (key, names.get((kind, key), "")) \
            if validate.strict_int(key) is not None else key
    link = LINKS[kind] % key if kind in LINKS and "%s" in LINKS[kind] else LINKS.get(kind)
    if kind == "comment" or a.action.startswith("report."):
        link = link or "/admin/reports"
    words = {"phrase": phrase, "label": label, "link": link, "kind": kind, "states": None,
             "reached": None}
    old, new = validate.strict_int(a.old_value), validate.strict_int(a.new_value)
    if states and old is not None and new is not None:
        words["states"] = (states, old, new)
    if a.action == "broadcast" and new is not None:
        words["reached"] = new
    return words
