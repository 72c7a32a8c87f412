"""CSV exports of listings, users and reports for the admin pages: pages of rows by primary key
(keyset, so row 100 000 costs what row 1 does and nothing holds the whole table), and cells made
safe for spreadsheets (a cell starting with = + - @, tab or CR is a formula to Excel and
LibreOffice: it gets a leading apostrophe)."""
import csv
import io

from models.admin import record
from models.goods import Goods
from models.report import Report
from models.user import User
from services.clock import display
from errors import Invalid

PAGE = 1000
BOM = "\ufeff"  # so Excel reads the file as UTF-8 (Chinese text)
FORMULA = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = {
    "listings": ["gid", "openid", "seller", "goods_name", "goods_title", "goods_dec",
                 "goods_price_new", "goods_price_old", "goods_xueyuan", "goods_address", "state",
                 "reason", "deleted", "hidden", "hold_reason", "views", "issue_time"],
    "users": ["id", "openid", "wxname", "uname", "sex", "school", "xuehao", "uclass", "qq", "wx",
              "state", "reason", "registered", "created_at", "updated_at"],
    "reports": ["id", "reporter", "target_type", "target_id", "reason", "context", "status",
                "action", "handled_by", "created_at", "handled_at"],
}


def cell(value):
    """One CSV cell: text that a spreadsheet would run as a formula gets a leading apostrophe;
    numbers stay numbers; times in China time; None is empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA) else value
    if hasattr(value, "strftime"):
        return display(value)
    return value


def encode(rows, header=False, kind=None):
    """CSV text (BOM and header line first when `header`) of rows of cells, as UTF-8 bytes."""
    out = io.StringIO()
    if header:
        out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(COLUMNS[kind])
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8")


def _price(value):
    """Two decimals on both databases (SQLite hands back 12.5 for 12.50)."""
    return "%.2f" % value


def _listings(after, size):
    g = Goods
    rows = list(g.select(g.gid, g.openid, g.goods_name, g.goods_title, g.goods_dec,
                         g.goods_price_new, g.goods_price_old, g.goods_xueyuan, g.goods_address,
                         g.state, g.reason, g.deleted, g.hidden, g.hold_reason, g.open_sum,
                         g.issue_time).where(g.gid > after).order_by(g.gid).limit(size).tuples())
    names = dict(User.select(User.openid, User.wxname).where(
        User.openid.in_(list({r[1] for r in rows}) or [""])).tuples())
    return [[r[0], r[1], names.get(r[1], ""), *r[2:5], _price(r[5]), _price(r[6]), *r[7:]]
            for r in rows]


def _users(after, size):
    u = User
    return list(u.select(u.id, u.openid, u.wxname, u.uname, u.sex, u.school, u.xuehao, u.uclass,
                         u.qq, u.wx, u.state, u.reason, u.registered, u.created_at, u.updated_at)
                .where(u.id > after).order_by(u.id).limit(size).tuples())


def _reports(after, size):
    r = Report
    return list(r.select(r.id, r.reporter, r.target_type, r.target_id, r.reason, r.context,
                         r.status, r.action, r.handled_by, r.created_at, r.handled_at)
                .where(r.id > after).order_by(r.id).limit(size).tuples())


PAGES = {"listings": _listings, "users": _users, "reports": _reports}


def page(kind, after=0, size=PAGE):
    """(CSV bytes of the next `size` rows with a key above `after`, the last key or None at the
    end). The first page (after=0) starts with the BOM and the header line."""
    if kind not in PAGES:
        raise Invalid("unknown export")
    rows = PAGES[kind](after, size)
    last = rows[-1][0] if len(rows) == size else None
    return encode(rows, header=after == 0, kind=kind), last


def audit(actor, kind):
    """The export's audit line (who took a copy of which table: users holds personal data)."""
    record(actor, "export." + kind, "all")
