"""The shape of the house (issue 27): every room is on the plan, each imports only rooms on
lower floors, no two modules import each other in a circle, the rules and the rooms below them
know nothing of Tornado, and an import inside a function says why it is there."""
import ast
import os

from tests.house import FLOOR, FLOORS, NOT_PRODUCT, ROOMS, ROOT, files, top_level_code


def _imports(path):
    """(module, line) of every absolute import in a file (the project uses no relative ones)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, node.lineno
            for alias in node.names:  # `from services import chat` imports services.chat
                yield node.module + "." + alias.name, node.lineno


def _module(path):
    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def _room(path):
    return os.path.relpath(path, ROOT).split(os.sep)[0].removesuffix(".py")


def test_every_room_of_code_is_on_the_plan():
    """A new top-level module or folder of code is placed on a floor (tests/house.py, and its
    picture in docs/architecture.md) or named as not the product."""
    assert top_level_code() == set(ROOMS) | set(NOT_PRODUCT)
    assert len(ROOMS) == len(set(ROOMS))


def test_each_room_imports_only_rooms_on_lower_floors():
    wrong = []
    for path in files(*ROOMS):
        room = _room(path)
        for name, line in _imports(path):
            top = name.split(".")[0]
            if top == room:
                continue
            if top in NOT_PRODUCT or (top in FLOOR and FLOOR[top] >= FLOOR[room]):
                wrong.append("%s:%d imports %s (floor %d -> %d)" % (
                    os.path.relpath(path, ROOT), line, top, FLOOR[room],
                    FLOOR.get(top, len(FLOORS))))
    assert wrong == []


def test_no_modules_import_each_other_in_a_circle():
    """Over the whole product, module by module (a circle inside one room is a circle too)."""
    modules = {_module(p): p for p in files(*ROOMS)}
    graph = {m: sorted({name for name, _ in _imports(p) if name in modules and name != m})
             for m, p in modules.items()}
    done, path, circles = set(), [], []

    def visit(module):
        if module in path:
            circles.append(" -> ".join(path[path.index(module):] + [module]))
            return
        if module in done:
            return
        path.append(module)
        for dep in graph[module]:
            visit(dep)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert circles == []
    assert len(graph) > 150 and sum(map(len, graph.values())) > 300  # the walk saw the house


def test_the_rules_and_what_they_stand_on_know_nothing_of_tornado():
    """services/ and every room below it are plain synchronous code (the database executor's
    functions, pure codecs, in-memory state): no Tornado, no asyncio."""
    below = [r for r in ROOMS if FLOOR[r] <= FLOOR["services"] and r != "process"]
    found = ["%s:%d %s" % (os.path.relpath(p, ROOT), line, name)
             for p in files(*below) for name, line in _imports(p)
             if name.split(".")[0] in ("tornado", "asyncio")]
    assert found == []


def test_an_import_inside_a_function_says_why():
    """Imports belong at the top. Inside a function only with a reason on its line (an optional
    or heavy library loaded on first use), in main.py (each command loads only what it needs)
    and in migrations (each is a frozen record of its day)."""
    wrong = []
    for path in files(*ROOMS):
        rel = os.path.relpath(path, ROOT)
        if rel == "main.py" or rel.startswith("migrations" + os.sep):
            continue
        lines = open(path, encoding="utf-8").read().split("\n")
        tree = ast.parse("\n".join(lines))
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(function):
                    if isinstance(node, (ast.Import, ast.ImportFrom)) and \
                            "#" not in lines[node.lineno - 1]:
                        wrong.append("%s:%d %s" % (rel, node.lineno,
                                                   lines[node.lineno - 1].strip()))
    assert wrong == []


def test_pages_name_states_never_by_their_number():
    """Templates, handlers and the rules compare, count and link states by name (USER.PENDING, GOODS.APPROVED,
    models' constants), never as a bare 3 or 10 that a new state would silently mean otherwise."""
    import re
    literal = re.compile(r"""state["'\]]*\s*(==|!=)\s*\d|state=\d|goods_by_state"\]\[\d|"""
                         r"""for s in \(\d|(goods|users)\.get\(\d""")
    found = []
    folder = os.path.join(ROOT, "templates")
    texts = [("templates/" + n, os.path.join(folder, n)) for n in sorted(os.listdir(folder))
             if n.endswith(".html")]
    texts += [(os.path.relpath(p, ROOT), p) for p in files("handlers", "actions", "services")]
    for name, path in texts:
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            code = line.split("#")[0] if name.endswith(".py") else line
            if name.endswith(".py") and code.lstrip().startswith(('"""', "'")):
                continue
            if literal.search(code):
                found.append("%s:%d: %s" % (name, n, line.strip()[:100]))
    assert found == []
