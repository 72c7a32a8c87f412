"""Admin accounts on the pages (/admin/accounts): owners create accounts, reset passwords,
change roles and remove accounts (after a confirmation page); a moderator gets a 403 page. The
rules (owners only, never the last owner, audit, sessions ending) are in
services/admin_accounts.py; the command line (`main.py admin ...`) calls the same functions."""
import urllib.parse

import tornado.web

from actions.admins import (do_create_admin, do_remove_admin, do_set_admin_password,
                            do_set_admin_role)
from handlers.base import PageHandler
from models.admin import ROLES
from services import admin_accounts
from services.clock import display
from errors import Forbidden

NOTES = {  # ?ok= codes of this page: fixed texts, never text from the request
    "created": "Account created.", "password": "Password set; that admin's sessions ended.",
    "role": "Role changed; that admin's sessions ended.", "removed": "Account removed.",
    "same": "Nothing changed: the account already has that role.",
}


class AccountsBase(PageHandler):
    """An owner's page: prepare() refuses anyone else with the HTML 403 page."""

    async def admit(self):
        await super().admit()
        if self.current_user and await self.run_db(
                admin_accounts.role_of, self.current_user) != admin_accounts.OWNER:
            raise Forbidden("Only owners manage admin accounts.")

    def back(self, code):
        """To the list with a fixed note (to sign-in when this admin ended its own sessions)."""
        self.redirect("/admin/accounts?ok=" + code)

    def render_page(self, template, **values):
        """Every accounts page also shows its fixed note after a change (?ok=)."""
        values.setdefault("note", NOTES.get(self.get_argument("ok", "")))
        super().render_page(template, **values)


class AccountsPage(AccountsBase):
    """GET /admin/accounts: every account with its role; POST creates one."""

    @tornado.web.authenticated
    async def get(self):
        rows = await self.run_db(admin_accounts.list_admins)
        for r in rows:
            r["created_at"] = display(r["created_at"])
        self.render_page("accounts.html", rows=rows, roles=ROLES, quote=urllib.parse.quote,
                         title="Admin accounts")

    @tornado.web.authenticated
    async def post(self):
        await do_create_admin(self.actions, self.current_user, self.get_argument("username", ""),
                              self.get_argument("password", ""), self.get_argument("role", ""))
        self.back("created")


class AccountPassword(AccountsBase):
    """POST /admin/accounts/NAME/password: a new password; that admin's sessions end."""

    @tornado.web.authenticated
    async def post(self, name):
        await do_set_admin_password(self.actions, self.current_user, name,
                                    self.get_argument("password", ""))
        self.back("password")


class AccountRole(AccountsBase):
    """POST /admin/accounts/NAME/role: owner or moderator; that admin's sessions end."""

    @tornado.web.authenticated
    async def post(self, name):
        done = await do_set_admin_role(self.actions, self.current_user, name,
                                       self.get_argument("role", ""))
        self.back("role" if done["changed"] else "same")


class AccountRemove(AccountsBase):
    """GET /admin/accounts/NAME/remove: the confirmation page; POST with confirm=yes removes."""

    @tornado.web.authenticated
    async def get(self, name):
        name = admin_accounts.normalise_name(name)
        role = await self.run_db(admin_accounts.role_of, name)
        if role is None:
            raise tornado.web.HTTPError(404)
        self.render_page("account_remove.html", name=name, role=role, quote=urllib.parse.quote,
                         title="Remove an admin account")

    @tornado.web.authenticated
    async def post(self, name):
        if self.get_argument("confirm", "") != "yes":
            self.redirect("/admin/accounts/%s/remove" % urllib.parse.quote(name))
            return
        await do_remove_admin(self.actions, self.current_user, name)
        self.back("removed")


default_handlers = [
    (r"/admin/accounts", AccountsPage),
    (r"/admin/accounts/([^/]+)/password", AccountPassword),
    (r"/admin/accounts/([^/]+)/role", AccountRole),
    (r"/admin/accounts/([^/]+)/remove", AccountRemove),
]
