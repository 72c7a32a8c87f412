"""The shipped deployment files: the systemd unit (systemd-analyze, hardening), the nginx site's
agreement with the config, and docs/deploy.md (its config example loads, its steps are there)."""
import os
import re
import shutil
import subprocess

import pytest

from settings import SCHEMA, load_config
from tests.serverproc import PYTHON, ROOT

UNIT = os.path.join(ROOT, "deploy", "market.service")
SITE = os.path.join(ROOT, "deploy", "nginx-market.conf")
GUIDE = os.path.join(ROOT, "docs", "deploy.md")
HARDENING = ["NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
             "PrivateDevices=yes", "RestrictSUIDSGID=yes", "CapabilityBoundingSet=",
             "SystemCallFilter=@system-service"]


def unit_options():
    """{key: [values]} of the unit file."""
    options = {}
    for line in open(UNIT):
        line = line.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            options.setdefault(key, []).append(value)
    return options


def local_unit(tmp_path):
    """The unit with /opt/market pointing at this checkout (verify checks ExecStart exists)."""
    text = open(UNIT).read().replace("/opt/market/.venv/bin/python", PYTHON)
    path = tmp_path / "market.service"
    path.write_text(text.replace("/opt/market", ROOT))
    return str(path)


def test_unit_runs_the_venv_with_the_etc_config_and_restarts():
    o = unit_options()
    assert o["User"] == ["market"] and o["Group"] == ["market"]
    assert o["WorkingDirectory"] == ["/opt/market"]
    assert o["ExecStart"] == ["/opt/market/.venv/bin/python /opt/market/main.py "
                              "--config /etc/market/config.yaml serve"]
    assert o["Restart"] == ["on-failure"] and o["KillSignal"] == ["SIGTERM"]
    assert o["StandardOutput"] == ["journal"] and o["StandardError"] == ["journal"]
    assert "/var/lib/market" in o["ReadWritePaths"]
    # systemd must not SIGKILL a clean stop: the deadline plus the chat close handshake (5 s)
    default_deadline = SCHEMA["server"]["shutdown_timeout"][1]
    assert int(o["TimeoutStopSec"][0]) >= default_deadline + 5 + 5


def test_unit_is_hardened():
    text = open(UNIT).read()
    for option in HARDENING:
        assert re.search("^%s$" % re.escape(option), text, re.M), option


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path):
    result = subprocess.run(["systemd-analyze", "verify", local_unit(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "market.service" not in result.stderr, result.stderr


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_security_rates_it_ok(tmp_path):
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", local_unit(tmp_path)],
                            capture_output=True, text=True)
    if "--offline" in result.stderr or "unrecognized option" in result.stderr:
        pytest.skip("this systemd-analyze has no offline security check (systemd < 252)")
    found = re.search(r"Overall exposure level for market.service: ([\d.]+)", result.stdout)
    assert found and float(found.group(1)) < 3.0, result.stdout[-400:]


def site_text():
    return open(SITE).read()


def test_nginx_site_agrees_with_the_config():
    site = site_text()
    limit = re.search(r"client_max_body_size (\d+)m;", site)
    assert int(limit.group(1)) * 1024 * 1024 == SCHEMA["server"]["max_body_bytes"][1]
    assert "server 127.0.0.1:%d;" % SCHEMA["server"]["port"][1] in site
    wx = re.search(r"location /wx/ \{(.*?)\}", site, re.S).group(1)
    timeout = int(re.search(r"proxy_read_timeout (\d+)s;", wx).group(1))
    assert timeout > 2 * SCHEMA["chat"]["ping_interval"][1]  # pings keep sockets alive
    for header in ("Upgrade           $http_upgrade", "Connection        $connection_upgrade",
                   "X-Real-IP         $remote_addr",
                   "X-Forwarded-For   $proxy_add_x_forwarded_for",
                   "X-Forwarded-Proto $scheme"):
        assert "proxy_set_header " + header + ";" in site
    # a proxy_set_header inside a location would silently drop the server-level ones
    for block in re.findall(r"location [^{]+\{(.*?)\}", site, re.S):
        assert "proxy_set_header" not in block
    assert "alias /var/lib/market/uploads/;" in site and "alias /opt/market/static/;" in site
    assert "return 301 https://$host$request_uri;" in site
    # unknown hosts never reach the app: a default_server on each listener answers nothing
    defaults = [b for b in re.split(r"\nserver \{", site)[1:] if "default_server" in b]
    listens = sorted(re.findall(r"listen ([^;]*default_server);", "".join(defaults)))
    assert listens == ["443 ssl default_server", "80 default_server",
                       "[::]:443 ssl default_server", "[::]:80 default_server"], listens
    assert all("return 444;" in b and "proxy_pass" not in b for b in defaults)
    cap = re.search(r"limit_conn market_per_address (\d+);", site)
    assert int(cap.group(1)) == SCHEMA["server"]["max_connections_per_address"][1]
    assert "$request_uri" not in site.split("log_format", 1)[1].split(";", 1)[0]  # no queries


def test_guide_covers_every_step_and_its_config_loads(tmp_path):
    guide = open(GUIDE).read()
    for step in ("apt-get install", "useradd --system", "utf8mb4", "CREATE USER",
                 "main.py --config /etc/market/config.yaml migrate", "create-admin",
                 "deploy/market.service", "systemctl enable --now market",
                 "deploy/nginx-market.conf", "certbot", "nginx -t", "mariadb-dump",
                 "journalctl -u market", "/metrics", "/healthz", "git pull"):
        assert step in guide, step
    example = re.search(r"```yaml\n(server:.*?)```", guide, re.S).group(1)
    example = example.replace("PASTE-THE-FIRST-openssl-rand-OUTPUT-HERE", "s" * 48)
    example = example.replace("PASTE-THE-SECOND-openssl-rand-OUTPUT-HERE", "c" * 48)
    path = tmp_path / "config.yaml"
    path.write_text(example)
    config = load_config(str(path), environ={})
    assert config["server"]["xheaders"] is True and config["server"]["host"] == "127.0.0.1"
    assert config["database"]["url"].startswith("mysql://market:")
    assert config["uploads"]["dir"] == "/var/lib/market/uploads"
    assert not (tmp_path / "data").exists()  # secrets set: nothing written beside the config
