"""The rooms of the house, floor by floor, as docs/architecture.md draws them (issue 27).

One table for every test that reads the code: the layer rule (tests/test_house.py), the scans for
texts to translate (tests/locale_strings.py), for transactions (tests/test_transactions.py) and
for code that creates users (tests/test_deletion.py). A new room is added here once, and
test_house fails until it is: no scan silently misses a room.
"""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Bottom up. A room imports only rooms on lower floors (and itself).
FLOORS = [
    ("errors", "settings", "logs", "version"),  # the ground: refusals, configuration, logging
    ("process", "imaging", "models"),            # in-memory state, pictures, tables
    ("search",),                                 # tokens, the index, the query, suggestions
    ("services",),                               # the rules, one transaction per change
    ("wechat", "realtime", "metrics"),           # WeChat, live chat, Prometheus figures
    ("actions", "migrations", "tools"),          # changes and their follow-ups; schema; demo
    ("handlers",),                               # HTTP, WebSocket, admin pages
    ("application",),                            # make_app: routes and long-lived objects
    ("main",),                                   # the command line
]
FLOOR = {room: n for n, rooms in enumerate(FLOORS) for room in rooms}
ROOMS = tuple(FLOOR)
# Top-level code that is not the product: nothing of the product imports it.
NOT_PRODUCT = {"tests": "the suite", "bench": "benchmarks",
               "devservers": "private MariaDB, Redis and nginx for the tests and benchmarks"}
# The rooms whose code runs for a request or a socket (texts a person reads, transactions):
# everything but the tables, the schema's history and the command line.
SERVING = tuple(r for r in ROOMS if r not in ("models", "migrations", "main", "settings",
                                               "logs", "version"))

# The rules and what they stand on, run inside the executor's units of work (and the demo
# seeder, which calls the rules from the command line): they never catch a database error.
RULES = ("imaging", "search", "services", "tools")


def files(*rooms):
    """The .py files of the rooms named (a folder, or one module at the top), sorted."""
    for room in rooms:
        single = os.path.join(ROOT, room + ".py")
        if os.path.isfile(single):
            yield single
            continue
        for folder, dirs, names in sorted(os.walk(os.path.join(ROOT, room))):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(names):
                if name.endswith(".py"):
                    yield os.path.join(folder, name)


def top_level_code():
    """Every top-level module and folder holding Python code (the rooms a plan must name)."""
    found = set()
    for name in os.listdir(ROOT):
        path = os.path.join(ROOT, name)
        if name.startswith(".") or name == "__pycache__":
            continue
        if name.endswith(".py"):
            found.add(name[:-3])
        elif os.path.isdir(path) and any(n.endswith(".py") for _, _, ns in os.walk(path)
                                         for n in ns):
            found.add(name)
    return found
