"""Issue 19 #6: the container files. No Docker daemon is needed: the Dockerfile and compose.yaml
are parsed and checked, and the commands they run (ENTRYPOINT + CMD, the compose services'
commands and healthchecks, with their environment) are run here, exactly, against a temp folder
standing for the container's /var/lib/market: only `python` (the image's) becomes this venv's
and /opt/market this checkout."""
import json
import os
import re
import shlex
import subprocess
import time
import urllib.request

import yaml

from devservers import free_port
from settings import SCHEMA, env_name, _walk
from tests.serverproc import PYTHON, ROOT

DOCKERFILE = os.path.join(ROOT, "Dockerfile")
COMPOSE = os.path.join(ROOT, "compose.yaml")
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK",
                "SHELL"}
CONFIG_VARS = {env_name(path) for path, _ in _walk(SCHEMA)}


def dockerfile():
    """[(INSTRUCTION, argument text)] with continuation lines joined and comments dropped."""
    steps, pending = [], ""
    for line in open(DOCKERFILE, encoding="utf-8"):
        if line.lstrip().startswith("#") and not pending:
            continue
        line = line.rstrip("\n")
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            steps.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return steps


def last(steps, word):
    return [arg for w, arg in steps if w == word][-1]


def image_env(steps):
    env = {}
    for word, arg in steps:
        if word == "ENV":
            for pair in shlex.split(arg):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def exec_form(arg):
    value = json.loads(arg)
    assert isinstance(value, list) and all(isinstance(x, str) for x in value), arg
    return value


def compose():
    return yaml.safe_load(open(COMPOSE, encoding="utf-8"))


def interpolate(value, given):
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} with the variables `given`."""
    def one(m):
        name, op, rest = m.group(1), m.group(2), m.group(3) or ""
        if name in given and given[name] != "":
            return given[name]
        if op == ":?":
            raise AssertionError("compose would stop: %s" % rest)
        return rest
    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}", one, str(value))


def test_dockerfile_is_sane():
    steps = dockerfile()
    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.11-")  # the tested Python
    assert {w for w, _ in steps} <= INSTRUCTIONS
    for word, arg in steps:
        if word == "COPY":
            *sources, _ = shlex.split(arg)
            assert all(os.path.exists(os.path.join(ROOT, s)) for s in sources), arg
    users = [arg for w, arg in steps if w == "USER"]
    assert users == ["market"]  # never runs as root
    order = [w for w, _ in steps]
    assert order.index("USER") < order.index("ENTRYPOINT")
    assert last(steps, "EXPOSE") == str(SCHEMA["server"]["port"][1])
    env = image_env(steps)
    assert set(env) - {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR",
                       "PIP_DISABLE_PIP_VERSION_CHECK"} <= CONFIG_VARS
    assert env["MARKET_SERVER_HOST"] == "0.0.0.0"
    assert exec_form(last(steps, "ENTRYPOINT"))[:2] == ["python", "/opt/market/main.py"]
    assert exec_form(last(steps, "CMD")) == ["serve"]
    health = last(steps, "HEALTHCHECK")
    assert exec_form(health[health.index("CMD ") + 4:])[0] == "python"
    volumes = exec_form(last(steps, "VOLUME"))
    assert last(steps, "WORKDIR") == "/var/lib/market"
    assert env["MARKET_UPLOADS_DIR"].startswith(tuple(v + "/" for v in volumes))
    assert "/var/lib/market/data" in volumes  # the SQLite default and the generated secrets
    ignored = open(os.path.join(ROOT, ".dockerignore")).read().split()
    assert ".venv" in ignored and "data" in ignored and ".git" in ignored


def test_compose_is_sane():
    spec = compose()
    services = spec["services"]
    assert set(services) == {"mariadb", "redis", "migrate", "app"}
    maria = services["mariadb"]
    assert "--character-set-server=utf8mb4" in maria["command"]
    assert "--collation-server=utf8mb4_unicode_ci" in maria["command"]
    assert any(c.startswith("--innodb-buffer-pool-size=") for c in maria["command"])
    assert maria["environment"]["MARIADB_DATABASE"] == "market"
    assert services["redis"]["profiles"] == ["redis"]
    app = services["app"]
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert app["depends_on"]["mariadb"]["condition"] == "service_healthy"
    assert app["depends_on"]["redis"]["required"] is False
    assert app["stop_grace_period"] == "30s"  # > server.shutdown_timeout + the close handshake
    for name in ("migrate", "app"):
        assert set(services[name]["environment"]) <= CONFIG_VARS, name  # real config keys
        mounts = {v.split(":")[1] for v in services[name]["volumes"]}
        assert mounts == {"/var/lib/market/data", "/var/lib/market/media"}
    assert set(spec["volumes"]) == {"market-data", "market-media", "mariadb-data"}
    assert app["healthcheck"]["test"][0] == "CMD"
    health = last(dockerfile(), "HEALTHCHECK")
    assert app["healthcheck"]["test"][1:] == exec_form(health[health.index("CMD ") + 4:])


def local(command):
    """The image's command, here: its python is this venv's, /opt/market is this checkout."""
    return [PYTHON if c == "python" else c.replace("/opt/market", ROOT) for c in command]


class Container:
    """What `docker compose up` would run, as processes in a folder standing for /var/lib/market."""

    def __init__(self, folder, env):
        self.folder, self.env = str(folder), env
        os.makedirs(self.folder, exist_ok=True)
        self.log_path = os.path.join(self.folder, "container.log")

    def run(self, command):
        return subprocess.run(local(command), cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=120)

    def start(self, command):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(local(command), cwd=self.folder, env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        base = "http://127.0.0.1:%s/healthz" % self.env["MARKET_SERVER_PORT"]
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base, timeout=2) as r:
                    return json.loads(r.read())
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("did not start:\n" + open(self.log_path).read())
                time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        code = self.proc.wait(20)
        self.log.close()
        return code


def base_env(folder, extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKET_")}
    env.update(image_env(dockerfile()))
    env.update(extra)
    env["MARKET_SERVER_PORT"] = str(free_port())  # the container's 8000, on a free port here
    return {k: v.replace("/var/lib/market", str(folder)) for k, v in env.items()}


def test_the_image_alone_serves_sqlite(tmp_path):
    """`docker run IMAGE migrate`, then `docker run IMAGE`: SQLite in the data volume."""
    steps = dockerfile()
    entry, cmd = exec_form(last(steps, "ENTRYPOINT")), exec_form(last(steps, "CMD"))
    box = Container(tmp_path, base_env(tmp_path, {}))
    migrated = box.run(entry + ["migrate"])
    assert migrated.returncode == 0, migrated.stderr
    assert os.path.isfile(tmp_path / "data" / "market.db")
    health = box.start(entry + cmd)
    try:
        assert health["code"] == 200 and health["extend"]["version"]
        health_cmd = last(steps, "HEALTHCHECK")
        assert box.run(exec_form(health_cmd[health_cmd.index("CMD ") + 4:])).returncode == 0
    finally:
        assert box.stop() == 0
    assert os.path.isfile(tmp_path / "data" / "token_secret")  # generated into the volume


def test_compose_services_run_on_mariadb(tmp_path, mariadb):
    """compose's migrate, then app (its environment, its command, its healthcheck), with the
    `mariadb` service standing for the private MariaDB; then `run --rm app seed-demo`."""
    mariadb.create_database("market")
    spec = compose()["services"]
    given = {"MARIADB_PASSWORD": "compose-test-password"}
    entry = exec_form(last(dockerfile(), "ENTRYPOINT"))

    def env_of(name):
        env = {k: interpolate(v, given) for k, v in spec[name]["environment"].items()}
        env["MARKET_DATABASE_URL"] = env["MARKET_DATABASE_URL"].replace(
            "@mariadb:3306/", "@127.0.0.1:%d/" % mariadb.port)
        return base_env(tmp_path, env)

    assert env_of("app")["MARKET_DATABASE_URL"].startswith("mysql://market:compose-test-password@")
    migrate = Container(tmp_path, env_of("migrate")).run(entry + spec["migrate"]["command"])
    assert migrate.returncode == 0, migrate.stderr
    app = Container(tmp_path, env_of("app"))
    health = app.start(entry + spec["app"]["command"])
    try:
        assert health["code"] == 200
        assert app.run(spec["app"]["healthcheck"]["test"][1:]).returncode == 0
        seeded = app.run(entry + ["seed-demo"])
        assert seeded.returncode == 0 and "added 5 users" in seeded.stdout, seeded.stderr
        port = app.env["MARKET_SERVER_PORT"]
        with urllib.request.urlopen("http://127.0.0.1:%s/wx/goods/getSimpleGoods?state=1"
                                    % port, timeout=10) as r:
            assert len(json.loads(r.read())["extend"]) == 7
        assert os.listdir(tmp_path / "media" / "uploads")  # photos in the media volume
    finally:
        assert app.stop() == 0
        mariadb.execute("DROP DATABASE market")
    lines = [json.loads(line) for line in open(app.log_path)]  # compose logs JSON
    assert any(line["logger"] == "tornado.access" for line in lines)
