"""The API reference for integrators, served from this origin: GET / (a small start page),
/openapi.yaml (docs/openapi.yaml as it is in the repository) and /docs (Swagger UI from the
pinned swagger-ui-py package, its files under /docs/assets/, no CDN)."""
import importlib.util
import os


from handlers.base import PageHandler, StaticHandler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC_PATH = os.path.join(ROOT, "docs", "openapi.yaml")
# swagger-ui-py's static files, located without importing the package (its Python side, a
# Jinja2 page with an inline script, is not used: our page keeps scripts to 'self')
VIEWER = os.path.join(importlib.util.find_spec("swagger_ui").submodule_search_locations[0],
                      "static")
ASSETS = r"(swagger-ui-bundle\.js|swagger-ui\.css|favicon-32x32\.png|favicon-16x16\.png)"
# The viewer needs its own scripts and styles (from 'self'), reads /openapi.yaml (connect-src
# 'self': also "Try it out" against this server) and shows inline SVG icons (data: images).
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


class HomePage(PageHandler):
    """GET / : what this server is, with links to the admin pages and the API reference."""

    async def admit(self):
        """No session needed (the page is the same for everyone)."""

    def get(self):
        self.render_page("home.html", title=self.locale.translate("Campus market server"))


class DocsPage(PageHandler):
    """GET /docs : Swagger UI over /openapi.yaml."""

    async def admit(self):
        """No session needed."""

    def set_default_headers(self):
        super().set_default_headers()
        self.set_header("Content-Security-Policy", DOCS_CSP)
        self.set_header("Cache-Control", "no-cache")

    def get(self):
        self.render("docs.html")


class SpecHandler(PageHandler):
    """GET /openapi.yaml : the description, byte for byte the repository's file."""

    async def admit(self):
        """No session needed."""

    def get(self):
        with open(SPEC_PATH, "rb") as f:
            body = f.read()
        self.set_header("Content-Type", "application/yaml; charset=UTF-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Access-Control-Allow-Origin", "*")  # code generators may fetch it
        self.finish(body)


class ViewerAsset(StaticHandler):
    """GET /docs/assets/NAME : the few Swagger UI files the page loads (nothing else of the
    package is reachable), never sniffed, never framed."""

    def set_extra_headers(self, path):
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")


default_handlers = [
    (r"/", HomePage),
    (r"/docs", DocsPage),
    (r"/openapi\.yaml", SpecHandler),
    (r"/docs/assets/" + ASSETS, ViewerAsset, {"path": VIEWER}),
]
