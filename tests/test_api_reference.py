"""The API reference for integrators: /docs (Swagger UI from our own origin, under its own CSP,
in a real headless Chromium), /openapi.yaml (the repository's file), the start page /, and
docs/openapi.yaml against the code: valid OpenAPI 3, every route described and nothing else."""
import os
import re

import pytest
import yaml
from playwright.async_api import expect

from tests.test_admin_pages import Browser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC_PATH = os.path.join(ROOT, "docs", "openapi.yaml")


def load_spec():
    with open(SPEC_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


# -- served by the product ------------------------------------------------------------------
@pytest.mark.gen_test(timeout=90)
async def test_docs_render_in_a_real_browser_without_csp_violations(api):
    """Swagger UI loads from this origin only, renders the operations of the description and
    the console shows no CSP violation or error; the page's CSP is its own, allowing 'self'."""
    async with Browser() as b:
        page, problems, requests = b.page, [], []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning")
                else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        reply = await page.goto(api.base + "/docs")
        csp = reply.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe" not in csp, csp
        await expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=20_000)
        paths = await page.locator(".opblock-summary-path").all_inner_texts()
        assert "/wx/goods/goodsIssue" in [p.strip() for p in paths], paths[:5]
        # an operation opens and shows its response example
        await page.locator("#operations-default-get_wx_goods_getDeGoodfwl").click()
        await expect(page.locator("#operations-default-get_wx_goods_getDeGoodfwl")
                      .locator(".responses-wrapper")).to_contain_text("goodInfo")
        assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], \
            problems
        assert problems == [], problems
        assert all(u.startswith(api.base) for u in requests), requests


@pytest.mark.gen_test(timeout=30)
async def test_openapi_yaml_is_the_file_and_the_start_page_links_work(api):
    reply = await api.fetch("GET", "/openapi.yaml")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/yaml")
    with open(SPEC_PATH, "rb") as f:
        assert reply.body == f.read()
    assert yaml.safe_load(reply.body) == load_spec()
    home = await api.fetch("GET", "/")
    assert home.status == 200 and home.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in home.headers["Content-Security-Policy"]  # the site's own CSP
    links = re.findall(r'href="([^"]+)"', home.body.decode())
    assert {"/docs", "/openapi.yaml", "/admin/"} <= set(links), links
    for link in links:
        got = await api.fetch("GET", link, follow_redirects=True)
        assert got.status == 200, (link, got)
    signed_out = await api.fetch("GET", "/admin/", follow_redirects=False)
    assert signed_out.status == 302 and "/admin/login" in signed_out.headers["Location"]
    # only the listed viewer files are served, never the rest of the package
    assert (await api.fetch("GET", "/docs/assets/swagger-ui-bundle.js")).status == 200
    assert (await api.fetch("GET", "/docs/assets/index.html")).status == 404
    assert (await api.fetch("GET", "/docs/assets/../templates/doc.html")).status == 404


# -- the description against the code --------------------------------------------------------
def test_the_description_is_valid_openapi_3_and_links_nothing_outside():
    from openapi_spec_validator import validate
    validate(load_spec())
    with open(SPEC_PATH, encoding="utf-8") as f:
        text = f.read()
    assert "/work/" not in text and "../" not in text
    for url in re.findall(r"https?://[^\s\"')]+", text):  # example hosts only (RFC 2606)
        host = url.split("/")[2]
        assert host.endswith(".example") or host == "127.0.0.1:8000", url


def every_example(spec):
    """(where, schema, example) of every response example."""
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for status, response in op["responses"].items():
                response = resolve(spec, response)
                for ctype, media in response.get("content", {}).items():
                    if "example" in media:
                        yield (path, method, status), media["schema"], media["example"]


def test_every_operation_has_a_response_schema_and_an_example_that_fits_it():
    spec = load_spec()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            ok = resolve(spec, op["responses"].get("200", {}))
            assert ok.get("content"), (path, method, "no 200 answer described")
            for ctype, media in ok["content"].items():
                assert "schema" in media, (path, method, ctype)
                assert "example" in media or not ctype.endswith("json"), (path, method, ctype)
            assert "default" in op["responses"] or "503" in op["responses"], (path, method)
    checked = 0
    for where, schema, example in every_example(spec):
        errors = strict_errors(spec, schema, example)
        assert errors == [], (where, errors)
        checked += 1
    assert checked > len(spec["paths"])


def resolve(spec, node):
    """Follow a local $ref."""
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def inline(spec, node, strict):
    """The schema with every $ref replaced by its target; `strict`: objects that list their
    properties refuse others (what the server sends that the description does not name)."""
    node = resolve(spec, node)
    if isinstance(node, list):
        return [inline(spec, n, strict) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: inline(spec, v, strict) if k not in ("example", "enum", "required") else v
           for k, v in node.items()}
    if "properties" in node:
        out["properties"] = {k: inline(spec, v, strict) for k, v in node["properties"].items()}
        if strict and "additionalProperties" not in node:
            out["additionalProperties"] = False
    return out


def strict_errors(spec, schema, value):
    from openapi_schema_validator import OAS30Validator
    validator = OAS30Validator(inline(spec, schema, strict=True))
    return [("/".join(map(str, e.absolute_path)), e.message) for e in validator.iter_errors(value)]


def spec_path_of(pattern):
    """A route regex as the description names it: each group becomes {…}, escapes dropped."""
    out, depth = "", 0
    for ch in pattern.rstrip("$"):
        if ch == "(":
            depth += 1
            if depth == 1:
                out += "{}"
        elif ch == ")":
            depth -= 1
        elif depth == 0 and ch != "\\":
            out += ch
    return out


# Routes of ApiHandler kind that are no REST call of the description, with where they are told.
NOT_DESCRIBED = {"/metrics": "Prometheus text for the scrapers: docs/deploy.md"}
METHODS = ("get", "post", "put", "patch", "delete")


def described_routes(app):
    """{spec path: handler class} of every REST route; other routes must be pages, sockets,
    static files or the reference itself."""
    import tornado.web
    import tornado.websocket
    from handlers.base import ApiHandler, PageHandler
    found = {}
    for rule in app.wildcard_router.rules:
        path, target = spec_path_of(rule.matcher.regex.pattern), rule.target
        if issubclass(target, ApiHandler):
            if path not in NOT_DESCRIBED:
                found[path] = target
        else:
            assert issubclass(target, (PageHandler, tornado.web.StaticFileHandler,
                                       tornado.websocket.WebSocketHandler)), \
                "%s (%s): classify it here, or derive it from ApiHandler and describe it" % (
                    path, target.__name__)
    return found


def test_every_route_is_described_with_its_methods_and_nothing_else(app):
    """A REST route missing from docs/openapi.yaml, a method the handler serves that is not
    described (or the reverse), or a described path the app lacks, fails here."""
    import tornado.web
    spec = load_spec()
    described = {re.sub(r"\{[^}]+\}", "{}", p): p for p in spec["paths"]}
    routes = described_routes(app)
    assert sorted(set(routes) - set(described)) == [], "describe these in docs/openapi.yaml"
    assert sorted(set(described) - set(routes)) == [], "the app has no such route"
    for path, handler in routes.items():
        served = {m for m in METHODS
                  if getattr(handler, m) is not getattr(tornado.web.RequestHandler, m)}
        documented = {m for m in spec["paths"][described[path]] if m in METHODS}
        assert served == documented, (path, served, documented)
