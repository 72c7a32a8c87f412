"""What the admin pages' forms share: page numbers with the filters kept, the redirect back to the
form's page, and the confirmation step every destructive action goes through (a page, not a
script: the CSP allows none). A refused form is shown again with its error and its input, never
as a bare error page."""
import math
import urllib.parse

from handlers.base import PageHandler, safe_next
from services import validate
from errors import Invalid, ServiceError

REASON_CHARS = 500


class AdminPage(PageHandler):
    """A page of the admin site with lists and forms."""

    def pager(self, total, size):
        """Totals and page links of a list, each link keeping the current filters."""
        page = self.page_number(empty_refused=True)
        pages = max(1, math.ceil(total / size))
        args = [(k, v.decode("utf-8", "replace")) for k, vs in self.request.query_arguments.items()
                if k not in ("page", "ok") for v in vs]

        def link(n):
            return "?" + urllib.parse.urlencode(args + [("page", str(n))])
        near = sorted({0, pages - 1} | {n for n in range(page - 2, page + 3) if 0 <= n < pages})
        numbers, last = [], -1
        for n in near:
            if n - last > 1:
                numbers.append(None)  # a gap: "…"
            numbers.append((n, link(n)))
            last = n
        return {"total": total, "page": page, "pages": pages, "numbers": numbers,
                "first": page * size + 1 if total else 0, "last": min(total, (page + 1) * size),
                "prev": link(page - 1) if page else None,
                "next": link(page + 1) if page + 1 < pages else None}

    def back(self, default, ok):
        """Redirect to the page the form came from (inside /admin/ only), with a done message."""
        target = safe_next(self.get_argument("back", ""), default)
        self.redirect(target + ("&" if "?" in target else "?") + "ok=" + ok)

    # -- the confirmation step ---------------------------------------------------------------
    def confirmed_reason(self, ask, required=True):
        """The reason once the moderator has confirmed with one; otherwise render the
        confirmation page (`ask`: what it says) and answer None. A first step without a reason
        just asks; a confirmed one without (or with a bad one) comes back with the error."""
        raw = self.get_argument("reason", "")
        confirmed = self.get_argument("confirm", "") == "yes"
        try:
            reason = validate.text(raw, "reason", REASON_CHARS, required=False)
            if confirmed and required and not reason:
                raise Invalid("give the reason")
        except Invalid as e:
            self.ask(ask, error=e.msg, status=400)
            return None
        if not confirmed:
            self.ask(ask)
            return None
        return reason

    def ask(self, ask, error=None, status=200):
        """The confirmation page: what will happen, the reason (kept), confirm or cancel."""
        self.set_status(status)
        kept = [(k, v) for k in self.request.body_arguments if k not in ("_xsrf", "reason", "confirm")
                for v in self.get_body_arguments(k)]
        ask["cancel"] = safe_next(self.get_argument("back", ""), ask.get("cancel", "/admin/"))
        self.render_page("confirm.html", ask=ask, error=error, kept=kept,
                         reason=self.get_argument("reason", ""), action=self.request.path,
                         title=self.locale.translate(ask["title"]) % ask.get("lead_args", {}))

    async def run_confirmed(self, ask, change, required=True):
        """Ask, then make the change; a refusal of the rule comes back on the confirmation page.
        True when the change was made."""
        reason = self.confirmed_reason(ask, required)
        if reason is None:
            return False
        try:
            await change(reason)
        except ServiceError as e:
            self.ask(ask, error=e.msg, status=e.status)
            return False
        return True
