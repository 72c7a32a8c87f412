"""Favourites: the client keeps the gid list locally and replaces ours with it."""
from models.goods import Favourite, Goods
from services import validate
from errors import Invalid
from models import write_txn
from services.goods import MAX_UNPAGED, summaries
from services.users import require_user

MAX_FAVOURITES = 500


def parse_gids(value):
    """The `gid` of addGoodsToCar: a list (or "" on a fresh phone, or "1,2") of goods ids.
    Missing (None) is refused: only an explicit empty list or "" clears the favourites."""
    if value is None:
        raise Invalid("gid is required (send [] to clear the favourites)")
    if value == "":
        return []
    if isinstance(value, str):
        value = [part for part in value.replace(" ", "").split(",") if part]
    elif isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        raise Invalid("gid must be a list of goods ids")
    if len(value) > MAX_FAVOURITES:
        raise Invalid("at most %(n)d favourites", n=MAX_FAVOURITES)
    gids = []
    for item in value:
        gid = validate.integer(item, "gid", low=1, high=2 ** 31 - 1)
        if gid not in gids:
            gids.append(gid)
    return gids


def _public_favourites(openid, hide_blocked=False):
    """Favourites still readable: reserved, sold and expired ones stay, with their saleState
    (`hide_blocked`: not of an owner the user blocks; the gids keep them, so the phone's
    resync does not drop them and an unblock shows them again)."""
    return (Goods.shown(openid if hide_blocked else None).join(Favourite, on=(Favourite.gid == Goods.gid))
            .where(Favourite.openid == openid).order_by(Favourite.id.desc()))


def gids(openid):
    """/user/getFavorites: extend.favorites, the gids of favourite listings still readable
    (reserved, sold and expired included)."""
    return [g.gid for g in _public_favourites(openid).limit(MAX_FAVOURITES)]


def replace(openid, gid_list):
    """/user/addGoodsToCar: the favourites become exactly the known readable gids of the list
    (a reserved or sold listing stays a favourite while the phone resyncs)."""
    known = {g.gid for g in Goods.shown().where(Goods.gid.in_(gid_list))} if gid_list else set()
    wanted = [gid for gid in gid_list if gid in known]
    with write_txn():
        require_user(openid)  # never favourites for an account deleted meanwhile
        Favourite.delete().where(Favourite.openid == openid).execute()
        if wanted:
            Favourite.insert_many([{"openid": openid, "gid": gid} for gid in wanted]).execute()
    return wanted


def goods(openid, base):
    """/user/getMyCarSimpleInfo: the favourite listings, most recently added first."""
    return summaries(_public_favourites(openid, hide_blocked=True).limit(MAX_UNPAGED), base,
                     with_sale=True)
