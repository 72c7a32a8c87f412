"""Campus second-hand market backend: `python main.py [serve|migrate|create-admin] [--config PATH]`."""
import argparse
import asyncio
import getpass
import logging
import os
import re
import signal
import sys

import tornado.netutil
import tornado.process

from settings import ConfigError, load_config, public_url

ROOT = os.path.dirname(os.path.abspath(__file__))
log = logging.getLogger("market")


def parse_args(argv):
    """The command line: a subcommand (serve by default) and its flags."""
    parser = argparse.ArgumentParser(prog="main.py", description=__doc__)
    parser.add_argument("--config", default=os.path.join(ROOT, "config.yaml"),
                        help="path of the YAML config (default: config.yaml beside main.py)")
    sub = parser.add_subparsers(dest="command", metavar="{serve,migrate,create-admin}")
    serve = sub.add_parser("serve", help="run the server (the default)")
    serve.add_argument("--port", type=int, help="override server.port")
    serve.add_argument("--processes", type=int, help="override server.processes (0 = one per core)")
    sub.add_parser("migrate", help="apply pending database migrations and exit")
    admin = sub.add_parser("create-admin", help="create an admin account; password from a "
                           "prompt, or from stdin (first line; optional second line confirms)")
    admin.add_argument("--username", required=True)
    args = parser.parse_args(argv)
    args.command = args.command or "serve"
    return args


class RedactSecrets(logging.Filter):
    """Blank query values that are credentials: Tornado's own warnings (404, uncaught errors)
    print the request URI with its query, and a client may send ?token= or ?code= there."""

    PATTERN = re.compile(r"([?&](?:token|code|secret|password)=)[^&\s'\",:)]*", re.IGNORECASE)

    def filter(self, record):
        message = record.getMessage()
        if "=" in message:
            record.msg, record.args = self.PATTERN.sub(r"\1[redacted]", message), ()
        return True


def setup_logging(level):
    """Log to stderr (the journal under systemd) at server.log_level, credentials redacted."""
    logging.basicConfig(level=getattr(logging, level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets())


def open_db(config):
    """Open and bind the configured database."""
    from models import bind, open_database
    return bind(open_database(config["database"]["url"], config["database"]["pool_size"]))


def cmd_migrate(config):
    from models import migrations
    database = open_db(config)
    with database.connection_context():
        names = migrations.migrate(database, log=log.info)
    print("migrations: %d applied, schema is current" % len(names))
    return 0


def read_password():
    """From a prompt on a terminal (asked twice), or the first line(s) of stdin otherwise."""
    if sys.stdin.isatty():
        first, second = getpass.getpass("Password: "), getpass.getpass("Repeat password: ")
    else:
        lines = sys.stdin.read().splitlines()
        first = lines[0] if lines else ""
        second = lines[1] if len(lines) > 1 else first
    if first != second:
        raise ConfigError("passwords do not match")
    return first


def cmd_create_admin(config, username):
    from services import admins
    from services.errors import ServiceError
    password = read_password()
    database = open_db(config)
    with database.connection_context():
        try:
            admins.create_admin(username, password)
        except ServiceError as e:
            print("create-admin: %s" % e.msg, file=sys.stderr)
            return 1
    print("admin %s created" % username)
    return 0


def check_schema(config):
    from models import migrations
    database = open_db(config)
    with database.connection_context():
        todo = migrations.pending(database)
    if todo:
        raise ConfigError("database.url: %d migration(s) pending; run `python main.py migrate`"
                          % len(todo))
    return database


def cmd_serve(config, args):
    """Bind, optionally fork, serve until SIGTERM/SIGINT, then shut down gracefully."""
    if args.port is not None:
        config["server"]["port"] = args.port
    if args.processes is not None:
        config["server"]["processes"] = args.processes
    server_cfg = config["server"]
    if server_cfg["processes"] != 1 and config["chat"]["bus"] != "redis":
        raise ConfigError("server.processes: more than one process needs chat.bus: redis "
                          "(sockets of one chat would live in different processes)")
    if not config["auth"]["require_token"]:
        log.warning("auth.require_token is off: every openid parameter is trusted, as the "
                    "original did. Do not run like this in production.")
    if config["moderation"]["enabled"] and not server_cfg["public_url"]:
        log.warning("moderation is on but server.public_url is not set: WeChat's image check "
                    "is given %s/uploads/..., which it cannot fetch from outside. Set "
                    "server.public_url to the address the mini-program uses.", public_url(config))
    database = check_schema(config)
    database.close_all()
    sockets = tornado.netutil.bind_sockets(server_cfg["port"], server_cfg["host"])
    if server_cfg["processes"] != 1:
        forward_stop_to_workers()
        tornado.process.fork_processes(server_cfg["processes"])  # returns in the workers only
        for sig in (signal.SIGTERM, signal.SIGINT):  # until _serve installs its own handlers,
            signal.signal(sig, lambda *_: os._exit(0))  # a stop exits 0 (so is not restarted)
    return asyncio.run(_serve(config, sockets))


def forward_stop_to_workers():
    """In the parent of --processes N: SIGTERM/SIGINT go to every worker (each stops gracefully;
    fork_processes then exits 0 once all have), not only to the parent. The parent leads its
    own process group for that, unless it already leads a session (as under systemd, whose
    KillMode=control-group signals every worker anyway)."""
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    parent, done = os.getpid(), []

    def stop(signum, frame):
        if os.getpid() == parent and not done and os.getpgrp() == parent:
            done.append(signum)
            os.killpg(parent, signal.SIGTERM)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)


async def _serve(config, sockets):
    from application import make_app, make_server
    server_cfg = config["server"]
    # Signals first: a SIGTERM while starting up still ends in the graceful path, exit 0.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app = make_app(config, open_db(config))
    ssl = None
    if server_cfg["tls"]["cert"]:
        import ssl as ssl_module
        ssl = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
        ssl.load_cert_chain(server_cfg["tls"]["cert"], server_cfg["tls"]["key"])
    server = make_server(app, ssl)
    await app.start()
    server.add_sockets(sockets)
    log.info("serving on %s://%s:%s (pid %d)", "https" if ssl else "http",
             server_cfg["host"], sockets[0].getsockname()[1], os.getpid())
    await stop.wait()
    began = loop.time()
    log.info("shutting down: no new connections; chat sockets closed with 1001")
    server.stop()
    # Chat sockets go and in-flight requests finish (up to the deadline) before connections
    # are closed: close_all_connections() drops a request mid-answer, so it only gets what is
    # left, idle keep-alive connections or requests past the deadline.
    await app.shutdown(server_cfg["shutdown_timeout"])
    if app.in_flight_count():
        log.warning("%d request(s) still running after server.shutdown_timeout; dropping them",
                    app.in_flight_count())
    try:
        await asyncio.wait_for(server.close_all_connections(), 5)
    except asyncio.TimeoutError:
        log.warning("some connections did not close")
    app.close()
    log.info("stopped in %.2fs", loop.time() - began)
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = load_config(args.config)
        setup_logging(config["server"]["log_level"])
        if args.command == "migrate":
            return cmd_migrate(config)
        if args.command == "create-admin":
            return cmd_create_admin(config, args.username)
        return cmd_serve(config, args)
    except ConfigError as e:
        print("config error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
