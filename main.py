"""Campus second-hand market backend: `python main.py [serve|migrate|admin ...] [--config PATH]`."""
import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import signal
import sys

import tornado.netutil

import logs
from logs import RedactSecrets  # noqa: F401 (tests and scripts import it from here)
from settings import ConfigError, load_config, public_url
from version import __version__

ROOT = os.path.dirname(os.path.abspath(__file__))
log = logging.getLogger("market")


def parse_args(argv):
    """The command line: a subcommand (serve by default) and its flags."""
    parser = argparse.ArgumentParser(prog="main.py", description=__doc__)
    parser.add_argument("--config", default=os.path.join(ROOT, "config.yaml"),
                        help="path of the YAML config (default: config.yaml beside main.py)")
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="{serve,migrate,create-admin,admin,"
                                "set-password,remove-admin,list-admins,seed-demo,backup}")
    serve = sub.add_parser("serve", help="run the server (the default)")
    serve.add_argument("--port", type=int, help="override server.port")
    serve.add_argument("--processes", type=int, help="override server.processes (0 = one per core)")
    sub.add_parser("migrate", help="apply pending database migrations and exit")
    admin = sub.add_parser("create-admin", help="create an admin account; password from a "
                           "prompt, or from stdin (first line; optional second line confirms)")
    admin.add_argument("--username", required=True)
    admin.add_argument("--role", choices=("owner", "moderator"), default="owner",
                       help="owner (manages accounts; the default) or moderator")
    accounts = sub.add_parser("admin", help="admin accounts: list | passwd NAME | "
                              "remove NAME [--force] | role NAME owner|moderator")
    actions = accounts.add_subparsers(dest="admin_command", metavar="{list,passwd,remove,role}",
                                      required=True)
    actions.add_parser("list", help="print every admin account: name, created, role")
    actions.add_parser("passwd", help="a new password (ends its sessions); read as for "
                       "create-admin").add_argument("name")
    remove = actions.add_parser("remove", help="delete an account (ends its sessions)")
    remove.add_argument("name")
    remove.add_argument("--force", action="store_true", help="even the last owner")
    role = actions.add_parser("role", help="make an account owner or moderator (ends its sessions)")
    role.add_argument("name")
    role.add_argument("role", choices=("owner", "moderator"))
    # the first names of these commands, kept as aliases
    for name, text in (("set-password", "= admin passwd NAME"),
                       ("remove-admin", "= admin remove NAME")):
        alias = sub.add_parser(name, help=text)
        alias.add_argument("--username", required=True)
        if name == "remove-admin":
            alias.add_argument("--force", action="store_true", help="even the last owner")
    sub.add_parser("list-admins", help="= admin list")
    demo = sub.add_parser("seed-demo", help="fill a trial database with a demo market (Chinese "
                          "users, listings with photos, comments, a chat, a report); running "
                          "it again adds nothing")
    demo.add_argument("--force", action="store_true",
                      help="also on a database that has real (non-demo) users")
    demo.add_argument("--skip-if-real", action="store_true",
                      help="on a database with real users, do nothing and exit 0 (scripts/run)")
    backup = sub.add_parser("backup", help="copy the database to a file while it is in use "
                            "(SQLite: the online backup API, WAL included; MySQL: "
                            "mariadb-dump --single-transaction) and exit")
    backup.add_argument("--to", required=True, help="the file to write (must not exist)")
    args = parser.parse_args(argv)
    args.command = args.command or "serve"
    aliases = {"set-password": "passwd", "remove-admin": "remove", "list-admins": "list"}
    if args.command in aliases:
        args.command, args.admin_command = "admin", aliases[args.command]
        args.name = getattr(args, "username", None)
    return args


def setup_logging(level, fmt="text"):
    """Log to stderr (the journal under systemd) at server.log_level in logging.format,
    credentials redacted, each line with its request's id (logs.py)."""
    logs.setup(level, fmt)


def open_db(config, serving=False):
    """Open and bind the configured database: with database.*'s bounds for the server, with
    long ones for the commands (a migration may rewrite a large table for minutes)."""
    from models import bind, open_database
    cfg = config["database"]
    bounds = dict(connect_timeout=cfg["connect_timeout"], query_timeout=cfg["query_timeout"],
                  lock_wait_timeout=cfg["lock_wait_timeout"]) if serving else \
        dict(connect_timeout=cfg["connect_timeout"], query_timeout=600, lock_wait_timeout=50)
    return bind(open_database(cfg["url"], cfg["pool_size"], **bounds))


def cmd_migrate(config):
    import migrations
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


def cmd_create_admin(config, username, role="owner"):
    from services import admin_accounts
    from errors import ServiceError
    password = read_password()
    database = open_db(config)
    with database.connection_context():
        try:
            created = admin_accounts.create_admin(username, password, role,
                                                  admin_accounts.CONSOLE)
        except ServiceError as e:
            print("create-admin: %s" % e.msg, file=sys.stderr)
            return 1
    print("admin %s created" % created.username)  # the normalised name, the one to sign in with
    return 0


def cmd_admin(config, args):
    """admin list | passwd NAME | remove NAME [--force] | role NAME ROLE (audited as `console`)."""
    from services import admin_accounts
    from errors import ServiceError
    command, name = args.admin_command, getattr(args, "name", None)
    password = read_password() if command == "passwd" else None
    database = open_db(config)
    console = admin_accounts.CONSOLE
    with database.connection_context():
        try:
            if command == "list":
                for row in admin_accounts.list_admins():
                    print("%s\tcreated %s\t%s" % (row["username"], row["created_at"], row["role"]))
                return 0
            if command == "passwd":
                admin_accounts.set_password(name, password, console)
                done = "password set"
            elif command == "remove":
                admin_accounts.remove_admin(name, console, args.force)
                done = "removed"
            else:
                changed = admin_accounts.set_role(console, name, args.role)
                done = "role %s%s" % (args.role, "" if changed["changed"] else " (unchanged)")
        except ServiceError as e:
            print("admin %s: %s" % (command, e.msg), file=sys.stderr)
            return 1
    print("admin %s: %s" % (admin_accounts.normalise_name(name), done))
    return 0


def cmd_seed_demo(config, force, skip_if_real=False):
    """seed-demo: the demo market (tools/demo.py), on a migrated database."""
    from services import images
    from tools import demo
    from errors import ServiceError
    database = check_schema(config)
    uploads = config["uploads"]
    with database.connection_context():
        if skip_if_real and not force and demo.real_users():
            print("seed-demo: this database has real users; no demo added")
            return 0
        try:
            added = demo.seed(images.folders(config)[0], public_url(config), force,
                              uploads["max_bytes"], uploads["max_pixels"], uploads["per_goods"])
        except ServiceError as e:
            print("seed-demo: %s" % e.msg, file=sys.stderr)
            return 1
    if not any(added.values()):
        print("seed-demo: the demo is already there; nothing added")
    else:
        print("seed-demo: added " + ", ".join("%d %s" % (n, what) for what, n in added.items()))
    return 0


def cmd_backup(config, target):
    """backup --to FILE: a consistent copy of the database, taken while it serves."""
    from models import backup
    try:
        summary = backup.backup(config["database"]["url"], target)
    except backup.BackupError as e:
        print("backup: %s" % e, file=sys.stderr)
        return 1
    print("backup: %s written (%s)" % (target, summary))
    return 0


def check_schema(config):
    import migrations
    database = open_db(config)
    with database.connection_context():
        todo = migrations.pending(database)
        if not todo:  # load the segmenter before binding and forking: workers share it
            from search import index as search_index
            search_index.start_up()
    if todo:
        raise ConfigError("database.url: %d migration(s) pending; run `python main.py migrate`"
                          % len(todo))
    return database


def cmd_serve(config, args):
    """Bind, optionally fork, serve until SIGTERM/SIGINT, then shut down gracefully."""
    for sig in STOP_SIGNALS:  # a stop before serving begins has nothing to finish: exit 0
        signal.signal(sig, lambda *_: os._exit(0))
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
        run_workers(server_cfg["processes"] or os.cpu_count() or 1)  # returns in workers only
    return run_loop(_serve(config, sockets), server_cfg["event_loop"])


def run_loop(coroutine, event_loop="asyncio"):
    """asyncio.run on the event loop server.event_loop names (bench/bare.py runs on the same)."""
    if event_loop == "uvloop":
        import uvloop
        return uvloop.run(coroutine)
    return asyncio.run(coroutine)


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def run_workers(count, max_restarts=100):
    """--processes N: fork `count` workers and supervise them; returns only in a worker.

    The parent never runs Python signal handlers: SIGTERM/SIGINT/SIGCHLD stay blocked in it and
    are taken one at a time with sigtimedwait, so a stop that arrives at any moment (before,
    during or after the forks) is seen once and forwarded to every worker alive then, and a
    worker that exits abnormally is restarted only while not stopping. Each worker starts with
    the signals still blocked, installs its own handler (exit 0 until the server's graceful
    handler replaces it) and only then unblocks them, so a stop sent right after its fork
    waits for that handler instead of reaching an inherited one. The parent exits 0 once every
    worker has exited (non-zero if one could not be stopped in time)."""
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS | {signal.SIGCHLD})
    children, stopping, restarts = {}, False, 0

    def spawn(task_id):
        pid = os.fork()
        if pid == 0:
            for sig in STOP_SIGNALS:
                signal.signal(sig, lambda *_: os._exit(0))
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            return task_id
        children[pid] = task_id
        return None

    log.info("starting %d worker processes", count)
    for task_id in range(count):
        if spawn(task_id) is not None:
            return task_id
    while children:
        info = signal.sigtimedwait(STOP_SIGNALS | {signal.SIGCHLD}, 1.0)
        if info is not None and info.si_signo in STOP_SIGNALS and not stopping:
            stopping = True
            log.info("stopping %d worker(s)", len(children))
            for pid in list(children):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        while children:  # reap every worker that has exited (SIGCHLD may merge several)
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            task_id = children.pop(pid, None)
            if task_id is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if code == 0 or stopping:
                log.info("worker %d (pid %d) exited with %d", task_id, pid, code)
                continue
            restarts += 1
            log.warning("worker %d (pid %d) exited with %d; restarting", task_id, pid, code)
            if restarts > max_restarts:
                log.error("too many worker restarts; giving up")
                stopping = True
                for other in list(children):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(other, signal.SIGTERM)
                continue
            if spawn(task_id) is not None:
                return task_id
    sys.exit(1 if restarts > max_restarts else 0)


async def _serve(config, sockets):
    from application import make_app, make_server
    server_cfg = config["server"]
    # Signals first: a SIGTERM while starting up still ends in the graceful path, exit 0.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app = make_app(config, open_db(config, serving=True))
    ssl = None
    if server_cfg["tls"]["cert"]:
        import ssl as ssl_module
        ssl = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
        ssl.load_cert_chain(server_cfg["tls"]["cert"], server_cfg["tls"]["key"])
    server = make_server(app, ssl)
    await app.start()
    server.add_sockets(sockets)
    log.info("serving on %s://%s:%s (pid %d, version %s)", "https" if ssl else "http",
             server_cfg["host"], sockets[0].getsockname()[1], os.getpid(), __version__)
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
        setup_logging(config["server"]["log_level"], config["logging"]["format"])
        if args.command == "migrate":
            return cmd_migrate(config)
        if args.command == "create-admin":
            return cmd_create_admin(config, args.username, args.role)
        if args.command == "admin":
            return cmd_admin(config, args)
        if args.command == "seed-demo":
            return cmd_seed_demo(config, args.force, args.skip_if_real)
        if args.command == "backup":
            return cmd_backup(config, args.to)
        return cmd_serve(config, args)
    except ConfigError as e:
        print("config error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
