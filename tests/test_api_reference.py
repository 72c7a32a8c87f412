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
