"""Configuration: defaults, MARKET_* overrides, and one clear line for every bad value."""
import os
import subprocess
import sys

import pytest

from settings import ConfigError, SCHEMA, env_name, load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_defaults_are_the_embedded_sqlite_and_secure(tmp_path):
    config = load_config(None, environ={}, base_dir=str(tmp_path))
    assert config["database"]["url"] == "sqlite:///" + str(tmp_path / "data" / "market.db")
    assert config["auth"]["require_token"] is True
    assert config["auth"]["dev_login"] is False
    assert config["wechat"]["api_base"] == "https://api.weixin.qq.com"
    assert config["chat"]["offline_limit"] == 3
    assert len(config["auth"]["token_secret"]) >= 32
    assert oct(os.stat(tmp_path / "data" / "token_secret").st_mode & 0o777) == "0o600"
    again = load_config(None, environ={}, base_dir=str(tmp_path))
    assert again["auth"]["token_secret"] == config["auth"]["token_secret"]


def test_shipped_config_yaml_loads_and_lists_every_key():
    config = load_config(os.path.join(ROOT, "config.yaml"), environ={})
    text = open(os.path.join(ROOT, "config.yaml"), encoding="utf-8").read()
    for section, keys in SCHEMA.items():
        assert section + ":" in text
        for key in keys:
            assert key + ":" in text, "config.yaml does not document %s.%s" % (section, key)
    assert config["server"]["port"] == 8000


@pytest.mark.parametrize("env,value,expected", [
    ("MARKET_SERVER_PORT", "9123", ("server", "port", 9123)),
    ("MARKET_DATABASE_URL", "mysql://u:p@127.0.0.1:3306/m", ("database", "url", "mysql://u:p@127.0.0.1:3306/m")),
    ("MARKET_WECHAT_API_BASE", "http://127.0.0.1:1", ("wechat", "api_base", "http://127.0.0.1:1")),
    ("MARKET_AUTH_REQUIRE_TOKEN", "false", ("auth", "require_token", False)),
    ("MARKET_CHAT_OFFLINE_LIMIT", "5", ("chat", "offline_limit", 5)),
])
def test_environment_overrides(tmp_path, env, value, expected):
    config = load_config(None, environ={env: value}, base_dir=str(tmp_path))
    section, key, want = expected
    assert config[section][key] == want


def test_env_names_are_stable():
    assert env_name(("server", "tls", "cert")) == "MARKET_SERVER_TLS_CERT"
    assert env_name(("auth", "token_ttl")) == "MARKET_AUTH_TOKEN_TTL"


@pytest.mark.parametrize("yaml_text,env,needle", [
    ("server:\n  port: lots\n", {}, "server.port"),
    ("", {"MARKET_SERVER_PORT": "70000"}, "MARKET_SERVER_PORT"),
    ("auth:\n  require_token: maybe\n", {}, "auth.require_token"),
    ("chat:\n  offline_limit: 0\n", {}, "chat.offline_limit"),
    ("database:\n  url: postgres://x\n", {}, "database.url"),
    ("server:\n  colour: red\n", {}, "server.colour"),
    ("server:\n  tls:\n    cert: nope.pem\n", {}, "server.tls"),
    ("auth:\n  token_secret: short\n", {}, "auth.token_secret"),
    ("server: [1, 2\n", {}, "not valid YAML"),
    ("server:\n  public_url: market.example.edu\n", {}, "server.public_url"),
    ("", {"MARKET_SERVER_PUBLIC_URL": "https://x.example/path"}, "server.public_url"),
    ("", {"MARKET_SERVER_PUBLIC_URL": "https://u@x.example"}, "server.public_url"),
    ("server:\n  max_connections_per_address: -1\n", {}, "server.max_connections_per_address"),
])
def test_invalid_values_name_the_key(tmp_path, yaml_text, env, needle):
    path = tmp_path / "config.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as err:
        load_config(str(path), environ=env)
    assert needle in str(err.value)


def test_public_url_is_configured_or_derived_never_from_a_request(tmp_path):
    from settings import public_url
    derive = lambda env: public_url(load_config(None, environ=env, base_dir=str(tmp_path)))
    assert derive({}) == "http://127.0.0.1:8000"
    assert derive({"MARKET_SERVER_HOST": "0.0.0.0", "MARKET_SERVER_PORT": "8080"}) == \
        "http://127.0.0.1:8080"
    assert derive({"MARKET_SERVER_HOST": "::1"}) == "http://[::1]:8000"
    assert derive({"MARKET_SERVER_PUBLIC_URL": "https://market.example.edu/"}) == \
        "https://market.example.edu"


def test_moderation_without_public_url_warns_at_start_up(tmp_path):
    """WeChat must fetch uploaded photos from outside: 127.0.0.1 is not that address."""
    from tests.serverproc import MarketProcess
    proc = MarketProcess(tmp_path / "m", {"MARKET_MODERATION_ENABLED": "true"})
    try:
        proc.migrate().start()
        assert "server.public_url is not set" in proc.output()
    finally:
        proc.kill()
    quiet = MarketProcess(tmp_path / "q", {"MARKET_MODERATION_ENABLED": "true",
                                           "MARKET_SERVER_PUBLIC_URL": "https://m.example.edu"})
    try:
        quiet.migrate().start()
        assert "public_url" not in quiet.output()
    finally:
        quiet.kill()


def test_bad_config_stops_start_up_with_one_line(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("server:\n  port: lots\n")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--config", str(path),
                           "serve"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "server.port" in proc.stderr and "Traceback" not in proc.stderr


def test_help_lists_subcommands():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for word in ("serve", "migrate", "create-admin", "--config"):
        assert word in proc.stdout
