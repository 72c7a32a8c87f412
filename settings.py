"""Configuration: commented defaults in config.yaml, MARKET_<SECTION>_<KEY> environment overrides.

Only main.py (and the tests) call load_config(); everything else receives the resulting dict.
The schema below is the single list of keys: it gives each key its type, its default and its
environment variable name, so operators' scripts can rely on the names staying stable.
"""
import ipaddress
import json
import os
import re
import secrets

import yaml


class ConfigError(Exception):
    """A missing or invalid configuration value; the message names the key."""


def _str(v):
    if not isinstance(v, (str, int, float)) or isinstance(v, bool):
        raise ValueError("expected a string")
    return str(v)


def _int(v):
    if isinstance(v, bool):
        raise ValueError("expected an integer")
    return int(v)


def _float(v):
    if isinstance(v, bool):
        raise ValueError("expected a number")
    return float(v)


def _bool(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(v, str) and v.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _list(v):
    if isinstance(v, str):
        return [x.strip() for x in v.split(",") if x.strip()]
    if isinstance(v, list):
        return [str(x) for x in v]
    raise ValueError("expected a list")


def _choice(*options):
    def check(v):
        v = _str(v)
        if v not in options:
            raise ValueError("expected one of " + ", ".join(options))
        return v
    return check


def _positive(conv):
    def check(v):
        v = conv(v)
        if v <= 0:
            raise ValueError("must be greater than 0")
        return v
    return check


def _not_negative(v):
    v = _int(v)
    if v < 0:
        raise ValueError("must be 0 or more")
    return v


def _port(v):
    v = _int(v)
    if not 0 <= v <= 65535:
        raise ValueError("expected a port number 0-65535")
    return v


# The safety prompts' pattern kinds (config.yaml, safety.kinds, says the same): words and
# regular expressions matched after normalisation (services/safety.py), and the advice the
# recipient reads (English source text, its Chinese in locale/zh_CN.csv; a text without a
# catalogue line, e.g. one an operator wrote in Chinese, is shown as written).
SAFETY_KINDS = {
    "payment": {
        "words": ["转账", "定金", "订金", "押金", "先付款", "先付钱", "先打款", "预付", "付全款"],
        "patterns": [],
        "advice": "Meet in person and pay only after you have seen the item; never pay a "
                  "deposit or transfer money to a stranger in advance.",
    },
    "contact": {
        "words": ["加微信", "加我微信", "加个微信", "微信号", "vx", "v信", "wx号", "威信",
                  "薇信", "加qq", "qq号", "扣扣号", "加v"],
        "patterns": [r"(?:qq|扣扣|企鹅)\D{0,3}\d{5,11}", r"(?<!\d)1[3-9]\d{9}(?!\d)"],
        "advice": "Keep talking here: someone who moves the talk to another app or asks you "
                  "to add them there is out of sight of the moderators.",
    },
    "link": {
        "words": [],
        "patterns": [r"https?://", r"www\.",
                     r"(?<=[a-z0-9-])\.(?:com|cn|net|org|top|xyz|cc|me|io|vip|link|shop|info)\b"],
        "advice": "Don't open links from strangers or pay or log in on a page they send you.",
    },
}


def _safety_kinds(v):
    """safety.kinds: {kind: {words: [...], patterns: [...], advice: text}} (JSON in the
    environment); every pattern must compile."""
    if isinstance(v, str):
        v = json.loads(v)
    if not isinstance(v, dict) or not v:
        raise ValueError("expected kinds, each with words, patterns and advice")
    kinds = {}
    for kind, spec in v.items():
        if not isinstance(spec, dict) or set(spec) - {"words", "patterns", "advice"}:
            raise ValueError("%s: expected words, patterns and advice" % kind)
        advice = spec.get("advice")
        if not isinstance(advice, str) or not advice.strip():
            raise ValueError("%s: advice is required" % kind)
        words, patterns = _list(spec.get("words") or []), _list(spec.get("patterns") or [])
        for p in patterns:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError("%s: bad pattern %r (%s)" % (kind, p, e))
        if not words and not patterns:
            raise ValueError("%s: give words or patterns" % kind)
        kinds[str(kind)] = {"words": words, "patterns": patterns, "advice": advice.strip()}
    return kinds


# section -> key -> (converter, default). A nested dict is a sub-section (server.tls).
SCHEMA = {
    "server": {
        "host": (_str, "127.0.0.1"),
        "port": (_port, 8000),
        "xheaders": (_bool, False),
        "trusted_proxies": (_list, ("127.0.0.1/32", "::1/128")),
        "processes": (_positive(_int), 1),
        "shutdown_timeout": (_positive(_float), 10.0),
        "max_body_bytes": (_positive(_int), 12 * 1024 * 1024),
        "public_url": (_str, ""),
        "max_connections_per_address": (_not_negative, 256),
        "log_level": (_choice("debug", "info", "warning", "error"), "info"),
        "event_loop": (_choice("asyncio", "uvloop"), "asyncio"),
        "tls": {"cert": (_str, ""), "key": (_str, "")},
    },
    "logging": {
        "format": (_choice("text", "json"), "text"),
    },
    "database": {
        "url": (_str, "sqlite:///data/market.db"),
        "pool_size": (_positive(_int), 8),
        "connect_timeout": (_positive(_float), 2.0),
        "query_timeout": (_positive(_float), 3.0),
        "lock_wait_timeout": (_positive(_int), 2),
        "call_timeout": (_positive(_float), 4.0),
        "health_timeout": (_positive(_float), 1.5),
    },
    "wechat": {
        "appid": (_str, ""),
        "secret": (_str, ""),
        "api_base": (_str, "https://api.weixin.qq.com"),
        "timeout": (_positive(_float), 5.0),
    },
    "auth": {
        "token_secret": (_str, ""),
        "token_ttl": (_positive(_int), 7 * 24 * 3600),
        "require_token": (_bool, True),
        "dev_login": (_bool, False),
    },
    "chat": {
        "offline_limit": (_positive(_int), 3),
        "max_connections_per_user": (_positive(_int), 5),
        "max_frame_bytes": (_positive(_int), 16 * 1024),
        "max_content_chars": (_positive(_int), 2000),
        "rate_per_second": (_positive(_float), 10.0),
        "rate_burst": (_positive(_int), 20),
        "ping_interval": (_positive(_float), 25.0),
        "ping_timeout": (_positive(_float), 20.0),
        "bus": (_choice("local", "redis"), "local"),
        "history_on_open": (_not_negative, 20),
        "commit_interval_ms": (_not_negative, 2),
        "store_timeout": (_positive(_float), 2.0),
        "history_days": (_positive(_int), 365),
        "recall_seconds": (_not_negative, 120),
    },
    "safety": {  # prompts in chat against the usual frauds (services/safety.py)
        "enabled": (_bool, True),
        "kinds": (lambda v: _safety_kinds(v), None),  # None: SAFETY_KINDS (below)
    },
    "redis": {
        "url": (_str, "redis://127.0.0.1:6379/0"),
        "presence_ttl": (_positive(_float), 15.0),
    },
    "uploads": {
        "dir": (_str, "data/uploads"),
        "max_bytes": (_positive(_int), 10 * 1024 * 1024),
        "max_pixels": (_positive(_int), 64_000_000),
        "per_goods": (_positive(_int), 6),
        "decode_workers": (_positive(_int), 1),
        "decode_queue": (_not_negative, 16),
    },
    "goods": {
        "page_size": (_positive(_int), 10),
        "max_price": (_positive(_float), 1_000_000.0),
        "search_cache_seconds": (_float, 10.0),
        "expire_days": (_positive(_int), 90),
        "remind_days": (_positive(_int), 7),
        "sweep_seconds": (_positive(_float), 600.0),
    },
    "limits": {
        "login_per_minute_user": (_positive(_int), 10),
        "login_per_minute_address": (_positive(_int), 300),
        "publish_per_minute_user": (_positive(_int), 5),
        "comment_per_minute_user": (_positive(_int), 20),
        "per_minute_address": (_positive(_int), 600),
    },
    "moderation": {
        "enabled": (_bool, False),
        "chat": (_bool, False),
        "callback_token": (_str, ""),
        "words": (_bool, True),
        "fail_closed": (_bool, True),
        "words_check_seconds": (_positive(_float), 2.0),
    },
    "notify": {
        "enabled": (_bool, False),
        "chat_template": (_str, ""),
        "chat_page": (_str, "pages/message/message"),
        "review_template": (_str, ""),
        "verify_template": (_str, ""),
        "listing_template": (_str, ""),
        "price_template": (_str, ""),
        "wanted_template": (_str, ""),
        "wanted_page": (_str, "pages/index/index"),
        "dispute_template": (_str, ""),
        "dispute_page": (_str, "pages/index/index"),
        "state": (_choice("developer", "trial", "formal"), "formal"),
    },
    "reports": {
        "per_hour_user": (_positive(_int), 20),
    },
    "wanted": {
        "max_active_per_user": (_positive(_int), 5),
        "expire_days": (_positive(_int), 30),
        "keywords_chars": (_positive(_int), 50),
        "place_chars": (_positive(_int), 50),
        "page_size": (_positive(_int), 20),
        "per_minute_user": (_positive(_int), 5),
    },
    "ratings": {
        "text_chars": (_positive(_int), 200),
        "per_minute_user": (_positive(_int), 10),
    },
    "trade": {
        "dispute_days": (_positive(_int), 7),
        "dispute_reason_chars": (_positive(_int), 500),
        "dispute_photos": (_positive(_int), 6),
    },
    "admin": {
        "cookie_secret": (_str, ""),
        "session_hours": (_positive(_float), 8.0),
    },
    "metrics": {
        "allow": (_list, ("127.0.0.1/32", "::1/128")),
    },
    "privacy": {  # the privacy page, consents, data archives, IP region
        "operator": (_str, "校园二手市场运营方"),
        "contact": (_str, ""),
        "policy_version": (_str, "2026-12-07"),
        "export_dir": (_str, "data/exports"),
        "export_keep_hours": (_positive(_float), 24.0),
        "ip_region": (_bool, True),
        "ip_record_minutes": (_positive(_float), 10.0),
    },
    "locale": {  # the language of texts a person reads (docs: README.md, "Languages")
        "default": (_choice("zh_CN", "en_US"), "zh_CN"),
    },
}


def env_name(path):
    """The environment variable for a key path such as ('server', 'tls', 'cert')."""
    return "MARKET_" + "_".join(p.upper() for p in path)


def _walk(schema, path=()):
    for key, spec in schema.items():
        if isinstance(spec, dict):
            yield from _walk(spec, path + (key,))
        else:
            yield path + (key,), spec


def _lookup(tree, path):
    for p in path:
        if not isinstance(tree, dict) or p not in tree:
            return None, False
        tree = tree[p]
    return tree, True


def _check_unknown(raw, schema, path=()):
    if not isinstance(raw, dict):
        raise ConfigError("%s: expected a section of keys" % (".".join(path) or "config"))
    for key, value in raw.items():
        where = ".".join(path + (str(key),))
        if key not in schema:
            raise ConfigError("%s: unknown key" % where)
        if isinstance(schema[key], dict):
            _check_unknown(value or {}, schema[key], path + (key,))


def load_config(path=None, environ=None, base_dir=None):
    """Read the YAML file, apply MARKET_* overrides, check every value; raise ConfigError."""
    environ = os.environ if environ is None else environ
    raw = {}
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                raw = yaml.safe_load(f) or {}
        except OSError as e:
            raise ConfigError("--config %s: cannot read (%s)" % (path, e.strerror))
        except yaml.YAMLError as e:
            raise ConfigError("--config %s: not valid YAML (%s)" % (path, str(e).splitlines()[0]))
    _check_unknown(raw, SCHEMA)
    config = {}
    for keypath, (conv, default) in _walk(SCHEMA):
        value, found = _lookup(raw, keypath)
        source = ".".join(keypath)
        if env_name(keypath) in environ:
            value, found, source = environ[env_name(keypath)], True, env_name(keypath)
        try:
            value = conv(value) if found and value is not None else default
        except (TypeError, ValueError) as e:
            raise ConfigError("%s: invalid value %r (%s)" % (source, value, e))
        node = config
        for p in keypath[:-1]:
            node = node.setdefault(p, {})
        node[keypath[-1]] = value
    base = base_dir or (os.path.dirname(os.path.abspath(path)) if path else os.getcwd())
    _finish(config, base)
    return config


def _finish(config, base):
    """Resolve relative paths, fill secrets kept under the data folder, check cross-key rules."""
    config["base_dir"] = base
    if config["safety"]["kinds"] is None:
        config["safety"]["kinds"] = _safety_kinds(SAFETY_KINDS)
    url = config["database"]["url"]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        config["database"]["url"] = "sqlite:///" + os.path.join(base, url[len("sqlite:///"):])
    if not url.startswith(("sqlite:///", "mysql://")):
        raise ConfigError("database.url: must start with sqlite:/// or mysql://")
    config["uploads"]["dir"] = os.path.join(base, config["uploads"]["dir"])
    config["data_dir"] = os.path.join(base, "data")
    if config["goods"]["remind_days"] >= config["goods"]["expire_days"]:
        raise ConfigError("goods.remind_days: must be less than goods.expire_days")
    tls = config["server"]["tls"]
    if bool(tls["cert"]) != bool(tls["key"]):
        raise ConfigError("server.tls: set both cert and key, or neither")
    for key in ("cert", "key"):
        if tls[key]:
            tls[key] = os.path.join(base, tls[key])
            if not os.path.isfile(tls[key]):
                raise ConfigError("server.tls.%s: file not found: %s" % (key, tls[key]))
    try:  # the proxies whose X-Real-IP / X-Forwarded-For are believed (server.xheaders)
        config["server"]["trusted_proxies"] = [str(ipaddress.ip_network(a, strict=False))
                                               for a in config["server"]["trusted_proxies"]]
    except ValueError as e:
        raise ConfigError("server.trusted_proxies: %s" % e)
    privacy = config["privacy"]
    privacy["export_dir"] = os.path.join(base, privacy["export_dir"])
    if not re.match(r"^[A-Za-z0-9._-]{1,32}$", privacy["policy_version"]):
        raise ConfigError("privacy.policy_version: 1-32 letters, digits, '.', '_' or '-'")
    uploads = os.path.realpath(config["uploads"]["dir"])
    if os.path.commonpath([uploads, os.path.realpath(privacy["export_dir"])]) == uploads:
        raise ConfigError("privacy.export_dir: must not be inside uploads.dir (served publicly)")
    try:  # /metrics access: addresses or networks, normalised once here
        config["metrics"]["allow"] = [str(ipaddress.ip_network(a, strict=False))
                                      for a in config["metrics"]["allow"]]
    except ValueError as e:
        raise ConfigError("metrics.allow: %s" % e)
    public = config["server"]["public_url"].rstrip("/")
    if public and (not re.match(r"^https?://[^/?#@\s]+$", public)):
        raise ConfigError("server.public_url: must be http(s)://host[:port] (no path, no query)")
    config["server"]["public_url"] = public
    if not config["wechat"]["api_base"].startswith(("http://", "https://")):
        raise ConfigError("wechat.api_base: must be an http(s) URL")
    for section, key in (("auth", "token_secret"), ("admin", "cookie_secret")):
        if not config[section][key]:
            config[section][key] = _stored_secret(config["data_dir"], key)
        elif len(config[section][key]) < 32:
            raise ConfigError("%s.%s: must be at least 32 characters" % (section, key))


def public_url(config):
    """The scheme://host[:port] of absolute URLs given out (answers, WeChat's image check):
    server.public_url, or for development http(s)://127.0.0.1:PORT from server.*; never the
    request's Host header, which the client chooses."""
    server = config["server"]
    if server["public_url"]:
        return server["public_url"]
    host = server["host"] if server["host"] not in ("", "0.0.0.0", "::") else "127.0.0.1"
    host = "[%s]" % host if ":" in host else host
    return "%s://%s:%d" % ("https" if server["tls"]["cert"] else "http", host, server["port"])


def _stored_secret(data_dir, name):
    """An empty secret means: generate one once and keep it in the data folder (mode 0600)."""
    path = os.path.join(data_dir, name)
    try:
        with open(path, encoding="ascii") as f:
            value = f.read().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    os.makedirs(data_dir, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return value
