"""Privacy: the page /privacy, POST /wx/user/consent, and the caller's data archive
POST/GET /wx/user/export. For newer mini-program versions; the published client calls none."""
import asyncio
import datetime

from actions.privacy import do_consent, do_download, do_export
from handlers.base import ApiHandler, PageHandler
from services.clock import CHINA

CHUNK = 256 * 1024


class ConsentHandler(ApiHandler):
    """POST /wx/user/consent {"version": V} agrees to policy V (the current one), {"withdraw":
    true} withdraws: extend.privacy as in getUserInfo."""

    async def post(self):
        body = self.json_body()
        openid = self.caller(body.get("openid"))
        status = await do_consent(self.actions, openid, body)
        self.ok({"privacy": status}, msg="consent withdrawn" if status["withdrawn"]
                else "consent recorded")


class ExportHandler(ApiHandler):
    """POST /wx/user/export prepares the caller's archive (once a day): extend {state, size,
    expiresAt}; GET /wx/user/export downloads it (application/zip)."""

    async def post(self):
        body = self.json_body()
        openid = self.caller(body.get("openid"))
        self.ok(await do_export(self.actions, openid), msg="your data is ready to download")

    async def get(self):
        openid = self.caller(self.arg("openid"))
        path, found = await do_download(self.actions, openid)
        day = found["requestedAt"].replace(tzinfo=datetime.timezone.utc).astimezone(CHINA)
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition",
                        'attachment; filename="market-data-%s.zip"' % day.strftime("%Y%m%d"))
        loop = asyncio.get_running_loop()
        with open(path, "rb") as f:  # opening a local file is quick; reads go to a thread
            while True:
                chunk = await loop.run_in_executor(None, f.read, CHUNK)
                if not chunk:
                    break
                self.write(chunk)
                await self.flush()
        self.finish()


class PrivacyPageHandler(PageHandler):
    """GET /privacy : the privacy policy in Chinese, with the operator, contact and the
    retention settings this server really runs with (the admin pages' security headers)."""

    def first(self):
        """The address budget."""
        self.limit_address()

    async def admit(self):
        """No session needed: the page is the same for everyone."""

    def get(self):
        config = self.config
        self.render("privacy.html", privacy=config["privacy"], chat=config["chat"],
                    goods=config["goods"], wanted=config["wanted"],
                    session_days=round(config["auth"]["token_ttl"] / 86400.0, 1),
                    moderation=config["moderation"], notify=config["notify"])


default_handlers = [
    (r"/privacy", PrivacyPageHandler),
    (r"/wx/user/consent", ConsentHandler),
    (r"/wx/user/export", ExportHandler),
]
