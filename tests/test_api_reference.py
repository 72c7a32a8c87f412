"""The API reference for integrators: /docs (Swagger UI from our own origin, under its own CSP,
in a real headless Chromium), /openapi.yaml (the repository's file), the start page /, and
docs/openapi.yaml against the code: valid OpenAPI 3, every route and method described and nothing
else, every maxLength/maxItems and optional field the server's own, every real answer (and every
example) fitting its described schema strictly. Both databases."""
import asyncio
import hashlib
import json
import os
import re
import urllib.parse

import pytest
import yaml
from playwright.async_api import expect

from services import admin_accounts, tokens
from tests.security_helpers import scene
from tests.test_admin_pages import Browser
from tests.test_input_rules import (PASSWORD, contract_calls, encode, roomy,  # noqa: F401
                                    valid_bodies, without)

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
        await page.wait_for_load_state("networkidle")
        refused = [p for p in problems if "Content Security Policy" in p or "Refused" in p]
        assert refused == [], refused
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


# -- limits, required fields and answers, against the running server ---------------------------

# "… is too long (at most N characters)", or its Chinese (the default language): "…太长了（最多N个字）"
TOO_LONG = re.compile(r"is too long \(at most (\d+) characters\)|太长了?（最多 ?(\d+) ?个字符?）")
# required only with auth.require_token off (the description tells the default: the token)
CALLER_PARAMS = {"openid", "myOpenid", "fromOpenid"}


@pytest.fixture(autouse=True)
def callback_token(settings_env):
    settings_env["MARKET_MODERATION_CALLBACK_TOKEN"] = "callback-token"


def body_schema(spec, path):
    """The resolved JSON body schema of a POST (None when it takes none)."""
    body = resolve(spec, spec["paths"][path].get("post", {}).get("requestBody", {}))
    media = body.get("content", {}).get("application/json")
    return resolve(spec, media["schema"]) if media else None


def too_long_limit(reply):
    """The limit a "too long" refusal names, or None."""
    found = TOO_LONG.search((reply.json or {}).get("msg", "")) if reply.status == 400 else None
    return int(found.group(1) or found.group(2)) if found else None


def answer_errors(spec, path, method, reply):
    """What in a real answer the description does not allow (strictly: no unnamed field)."""
    responses = spec["paths"][path][method]["responses"]
    response = resolve(spec, responses.get(str(reply.status), responses.get("default")))
    media = response["content"]["application/json"]
    return strict_errors(spec, media["schema"], reply.json)


@pytest.mark.gen_test(timeout=300)
async def test_body_limits_and_required_fields_are_the_servers(api, app, config):
    """Every maxLength / maxItems of a JSON body is the server's own limit (one more is refused
    naming that limit; exactly it is not "too long"), and a field the description calls optional
    is not required by the server (test_input_rules.py proves the required ones are)."""
    spec = load_spec()
    s = await scene(api, app)
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    admin = tokens.issue(config["auth"]["token_secret"], "root", 3600, role="admin")
    probed = set()

    async def post(path, body):
        token = None if path == "/wx/admin/adminLogin" else \
            admin if path.startswith("/wx/admin/") else s["tokens"]["bob"]
        return await api.fetch("POST", path, token=token, body=encode(body),
                               headers={"Content-Type": "application/json"})

    for path, valid in valid_bodies(s).items():
        if callable(valid):  # a body that needs state made just before (issue 18's calls)
            valid = await valid(api, app, s)
        schema = body_schema(spec, path)
        if schema is None:
            continue
        props = {k: resolve(spec, v) for k, v in schema.get("properties", {}).items()}
        for name, prop in props.items():
            shape = prop.get("oneOf", [prop])[0]
            items = resolve(spec, shape.get("items", {}))
            if "maxLength" in shape:
                limit, long, ok = shape["maxLength"], "x" * (shape["maxLength"] + 1), \
                    "x" * shape["maxLength"]
            elif "maxLength" in items:
                limit, long, ok = items["maxLength"], ["x" * (items["maxLength"] + 1)], \
                    ["x" * items["maxLength"]]
            else:
                limit = None
            if limit is not None:
                refused = await post(path, dict(valid, **{name: long}))
                assert too_long_limit(refused) == limit, (path, name, limit, refused)
                at_limit = await post(path, dict(valid, **{name: ok}))
                assert too_long_limit(at_limit) is None, (path, name, at_limit)
                probed.add((path, name))
            if "maxItems" in shape:
                refused = await post(path, dict(valid, **{name: [1] * (shape["maxItems"] + 1)}))
                assert refused.status == 400 and str(shape["maxItems"]) in refused.json["msg"], \
                    (path, name, refused)
                probed.add((path, name))
        for name in set(props) - set(schema.get("required", [])) - CALLER_PARAMS:
            reply = await post(path, without(valid, name))
            assert not (reply.status == 400 and "%s is required" % name in reply.json["msg"]), \
                (path, name, "the description says optional", reply)
        for name, limit in spec["paths"][path]["post"].get("x-info-maxLength", {}).items():
            info = valid["info"]
            refused = await post(path, dict(valid, info=dict(info, **{name: "x" * (limit + 1)})))
            assert too_long_limit(refused) == limit, (path, name, refused)
            probed.add((path, "info." + name))
    assert {("/wx/goods/goodsIssue", f) for f in ("goodsName", "goodsTitle", "goodsDec",
                                                  "goodsXueyuan", "goodsAddress")} <= probed


def query_params(spec, path, method="get"):
    """{name: resolved parameter} of an operation's query parameters."""
    params = [resolve(spec, p) for p in spec["paths"][path][method].get("parameters", [])]
    return {p["name"]: p for p in params if p["in"] == "query"}


@pytest.mark.gen_test(timeout=300)
async def test_query_limits_required_parameters_and_answers_are_the_servers(api, app, wechat):
    """Each call of the published client (tokens off, as it sends them): a query parameter one
    past its maxLength is refused naming that limit (by at least one call of the path), a
    required one missing is refused, an optional one missing is not required; and every answer,
    success or refusal, fits the description strictly (no field it does not name)."""
    spec = load_spec()
    s = await scene(api, app)
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    app.config["auth"]["require_token"] = False
    calls = [("GET", "/wx/user/getOpenid", {"code": "ok-carol", "appid": "a", "secret": "b"}),
             ("GET", "/wx/user/devLogin", {"openid": "dave"}),
             ("GET", "/healthz", {}), ("GET", "/wx/goods/hotWords", {"limit": "5"}),
             ("GET", "/wx/goods/query", {"flag": "书", "goodsXueyuan": "计算机学院",
                                         "goodsAddress": "东区宿舍", "sort": "newest"}),
             ("GET", "/wx/chat/history", {"openid": "bob", "peer": "alice"}),
             ("GET", "/wx/images/studentId", {"openid": "bob"}),
             ("POST", "/wx/report", {"openid": "alice", "targetType": "goods",
                                     "targetId": str(s["approved"]), "reason": "spam"}),
             ("POST", "/wx/notify/subscribe", {"openid": "alice", "templateIds": ["TPL-CHAT"]})
             ] + contract_calls(s)
    limits, enforced, answered = {}, set(), set()
    for method, path, params in calls:
        if method == "POST":
            reply = await api.post_json(path, params)
            assert answer_errors(spec, path, "post", reply) == [], (path, reply)
            answered.add((path, "post"))
            continue
        described = query_params(spec, path)
        for name, param in described.items():
            limit = param["schema"].get("maxLength")
            if limit is None:
                continue
            limits[(path, name)] = limit
            refused = await api.fetch("GET", path, dict(params, **{name: "x" * (limit + 1)}))
            assert answer_errors(spec, path, "get", refused) == [], (path, refused)
            if too_long_limit(refused) == limit:
                enforced.add((path, name))
            at_limit = await api.fetch("GET", path, dict(params, **{name: "x" * limit}))
            assert too_long_limit(at_limit) is None, (path, name, at_limit)
        for name in params:
            if name not in described:
                continue
            reply = await api.fetch("GET", path, without(params, name))
            assert answer_errors(spec, path, "get", reply) == [], (path, name, reply)
            if described[name].get("required"):
                assert reply.status == 400, (path, name, "described as required", reply)
            elif name not in CALLER_PARAMS:
                assert not (reply.status == 400 and "%s is required" % name
                            in reply.json["msg"]), (path, name, "described optional", reply)
        reply = await api.fetch("GET", path, params)
        assert answer_errors(spec, path, "get", reply) == [], (path, params, reply)
        answered.add((path, "get"))
    assert set(limits) - enforced == set(), "the server does not enforce these maxLength"
    form = await api.fetch("POST", "/wx/admin/adminLogin", body="username=root&passwd=" +
                           PASSWORD, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.code == 200 and answer_errors(spec, "/wx/admin/adminLogin", "post", form) == []
    wrong = await api.fetch("POST", "/wx/admin/adminLogin", body="username=root&passwd=nope",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert wrong.code == 100 and answer_errors(spec, "/wx/admin/adminLogin", "post", wrong) == []
    assert len(answered) >= 45, len(answered)


@pytest.mark.gen_test(timeout=120)
async def test_uploads_images_chat_and_the_callback_answer_as_described(api, app, config,
                                                                       settings_env):
    """The answers the published client's calls above leave empty, filled: photos (goods and
    student ID), a signed private photo, banners, a detail with photos, chat history with a
    message, hot words, and WeChat's callback (text/plain)."""
    from services import banners
    from tests.test_images import picture, upload
    spec = load_spec()
    s = await scene(api, app)
    bob, alice = s["tokens"]["bob"], s["tokens"]["alice"]
    await app.run_db(admin_accounts.create_admin, "root", PASSWORD)
    admin = tokens.issue(config["auth"]["token_secret"], "root", 3600, role="admin")

    def fits(path, reply, method="get"):
        assert answer_errors(spec, path, method, reply) == [], (path, reply)

    photo = await upload(api, bob, "bob", picture("JPEG"), flag=0)
    fits("/wx/images/upload", photo, "post")
    assert photo.code == 200 and photo.extend["gid"] == s["pending"]
    student = await upload(api, bob, "bob", picture("PNG"), flag=1, filename="id.png",
                           ctype="image/png")
    fits("/wx/images/upload", student, "post")
    private = urllib.parse.urlsplit(student.extend["imageUrl"])
    image = await api.fetch("GET", private.path + "?" + private.query)
    assert image.status == 200 and image.headers["Content-Type"] in \
        spec["paths"]["/wx/images/private/{name}"]["get"]["responses"]["200"]["content"]
    await app.run_db(banners.add, "root", urllib.parse.urlsplit(photo.extend["imageUrl"]).path)
    for path, token, params in [
            ("/wx/images/getHomeImages", None, {}),
            ("/wx/goods/getDeGoodfwl", admin, {"gid": s["pending"]}),
            ("/wx/images/studentId", bob, {"openid": "bob"}),
            ("/wx/admin/getDeUserAndImage", admin, {"openid": "bob"}),
            ("/wx/admin/getAllUserSimInfo", admin, {}),
            ("/wx/goods/getSimpleGoods", admin, {"state": "0"})]:
        reply = await api.get(path, token, **params)
        assert reply.code == 200 and reply.extend, (path, reply)
        fits(path, reply)
    chat_picture = await upload(api, alice, "alice", picture("JPEG"), flag=3)
    fits("/wx/images/upload", chat_picture, "post")
    ws = await api.ws("alice", "bob", alice)
    for frame in ({"content": "还在吗"}, {"type": "image", "content": chat_picture.extend["name"]},
                  {"type": "goods", "content": str(s["approved"])}):
        ws.write_message(json.dumps(dict(frame, fromOpenid="alice", toOpenid="bob")))
    for _ in range(100):
        history = await api.get("/wx/chat/history", bob, openid="bob", peer="alice")
        if len(history.extend["messages"]) == 3:
            break
        await asyncio.sleep(0.05)
    ws.close()
    assert [m["type"] for m in history.extend["messages"]] == ["goods", "image", "text"], history
    fits("/wx/chat/history", history)
    # issue 25: a recall's answer, and history with the recalled message in its place
    recalled = await api.post_json("/wx/chat/recall", {"peer": "bob",
                                   "seq": history.extend["messages"][0]["seq"]}, alice)
    fits("/wx/chat/recall", recalled, "post")
    history = await api.get("/wx/chat/history", bob, openid="bob", peer="alice")
    assert [m["type"] for m in history.extend["messages"]] == ["recalled", "image", "text"]
    fits("/wx/chat/history", history)
    for _ in range(2):
        await api.get("/wx/goods/query", alice, flag="书")
    words = await api.get("/wx/goods/hotWords")
    assert words.extend["hotWords"], words
    fits("/wx/goods/hotWords", words)
    # WeChat's callback answers text/plain, as described (and refuses without its signature)
    callback = spec["paths"]["/wx/wechat/callback"]
    token = config["moderation"]["callback_token"]
    stamp, nonce = "1700000000", "n0nce"
    signature = hashlib.sha1("".join(sorted([token, stamp, nonce])).encode()).hexdigest()
    query = {"signature": signature, "timestamp": stamp, "nonce": nonce}
    for method, body in (("GET", None), ("POST", b"{}")):
        reply = await api.fetch(method, "/wx/wechat/callback", dict(query, echostr="42"),
                                body=body)
        assert reply.status == 200 and reply.headers["Content-Type"].split(";")[0] in \
            callback[method.lower()]["responses"]["200"]["content"], reply
        refused = await api.fetch(method, "/wx/wechat/callback", {"echostr": "42"}, body=body)
        assert refused.status == 403
        fits("/wx/wechat/callback", refused, method.lower())
