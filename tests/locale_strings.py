"""The user-facing English source texts of the code, found by reading it (AST), for
tests/test_locale.py: every one must have a line in locale/zh_CN.csv."""
import ast
import os
import re

from tests.house import ROOT, SERVING, files
ERRORS = {"ServiceError", "Invalid", "Unauthorized", "Forbidden", "NotFound", "Conflict",
          "TooLarge", "Unsupported", "TooMany", "Unavailable", "WechatError"}
# callee -> index of the positional argument that is text (and keyword names that are)
TEXT_ARGS = dict({name: (0, ("msg",)) for name in ERRORS}, ChatRefusal=(1, ("msg",)),
                 Phrase=(0, ()), tr=(0, ()), _=(0, ()), translate=(0, ()),
                 fail=(0, ("msg",)), ok=(None, ("msg",)), write_refusal=(1, ("msg",)),
                 answer_list=(1, ("empty",)), hit=(3, ("what",)))
# checks that name a field: callee -> index of the field name (a key of validate.LABELS)
FIELD_ARGS = {"text": 1, "integer": 1, "price": 1, "choice": 1, "openid": 1, "gid_of": 1,
              "comment_id": 1, "arg_text": 0, "label": 0, "no_lone_surrogate": 1}
TEMPLATE_TEXT = re.compile(r"""\b_\(\s*(["'])(.*?)(?<!\\)\1""")


def python_files():
    """Every room that serves a request or a socket (tests/house.py SERVING)."""
    return files(*SERVING)


def _callee(call):
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)


class Found:
    def __init__(self):
        self.texts = {}      # English text -> first place
        self.fields = {}     # field name -> first place
        self.problems = []   # (place, why)


def _constants(tree):
    """Module-level NAME = "text" (or Phrase("text")) assignments."""
    names = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            value = node.value
            if isinstance(value, ast.Call) and _callee(value) == "Phrase" and value.args:
                value = value.args[0]
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                names[node.targets[0].id] = value.value
    return names


def _text(node, place, constants, found, resolve_names=True):
    """Record the text an argument holds: a literal, a module constant, or either branch of
    `a if c else b`; a %-formatted or f-string literal is a problem (named parameters)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if node.value:
            found.texts.setdefault(node.value, place)
    elif isinstance(node, ast.IfExp):
        _text(node.body, place, constants, found)
        _text(node.orelse, place, constants, found)
    elif isinstance(node, ast.Name) and node.id in constants:
        found.texts.setdefault(constants[node.id], place)
    elif isinstance(node, ast.Call) and _callee(node) == "Phrase" and node.args:
        _text(node.args[0], place, constants, found)
    elif isinstance(node, ast.BinOp) and isinstance(node.left, ast.Constant) \
            and isinstance(node.left.value, str):
        found.problems.append((place, "text built with an operator (%% or +): give the template "
                                      "and named parameters, Invalid(\"%%(x)s ...\", x=...)"))
    elif isinstance(node, ast.JoinedStr):
        found.problems.append((place, "f-string as a user-facing text: use a template with "
                                      "named parameters"))


def scan():
    found = Found()
    trees = {}
    shared = {}  # module constants of every file (an imported RISKY_TEXT), the file's own win
    for path in python_files():
        rel = os.path.relpath(path, ROOT)
        trees[rel] = ast.parse(open(path, encoding="utf-8").read(), rel)
        shared.update(_constants(trees[rel]))
    for rel, tree in trees.items():
        constants = dict(shared, **_constants(tree))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id in ("msg", "message") for t in node.targets):
                _text(node.value, "%s:%d" % (rel, node.lineno), constants, found)
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "DONE" for t in node.targets) \
                    and isinstance(node.value, ast.Dict):
                for value in node.value.values:
                    _text(value, "%s:%d" % (rel, node.lineno), constants, found)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.args[len(node.args.args) - len(node.args.defaults):]
                for arg, default in zip(args, node.args.defaults):
                    if arg.arg in ("msg", "empty", "what"):
                        _text(default, "%s:%d" % (rel, node.lineno), constants, found)
            if not isinstance(node, ast.Call):
                continue
            name, place = _callee(node), "%s:%d" % (rel, node.lineno)
            if name in TEXT_ARGS:
                index, keywords = TEXT_ARGS[name]
                if index is not None and len(node.args) > index:
                    _text(node.args[index], place, constants, found)
                for kw in node.keywords:
                    if kw.arg in keywords:
                        _text(kw.value, place, constants, found)
            if name in FIELD_ARGS:
                index = FIELD_ARGS[name]
                arg = node.args[index] if len(node.args) > index else next(
                    (kw.value for kw in node.keywords if kw.arg in ("name", "what")), None)
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.fields.setdefault(arg.value, place)
    return found


def template_texts():
    """{text: place} of every {{ _("...") }} in templates/*.html."""
    texts = {}
    folder = os.path.join(ROOT, "templates")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".html"):
            for n, line in enumerate(open(os.path.join(folder, name), encoding="utf-8"), 1):
                for m in TEMPLATE_TEXT.finditer(line):
                    texts.setdefault(m.group(2), "templates/%s:%d" % (name, n))
    return texts
