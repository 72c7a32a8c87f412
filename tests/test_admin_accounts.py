"""Admin accounts and roles on both databases: only owners manage accounts (a moderator gets a
403 page), the last owner is never removed or demoted (also when two owners demote each other at
the same moment), every change is audited, and a removed, demoted or reset admin's sessions end;
the pages in a real headless Chromium; the `main.py admin` commands through a subprocess."""
import asyncio
import os
import subprocess
import sys

import pytest
from playwright.async_api import expect

from models.admin import MODERATOR, OWNER
from services import admin_accounts, audit
from errors import Conflict
from tests.test_admin_pages import PASSWORD, Browser, Session, copy_of, sign_in

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def accounts(app, **roles):
    for name, role in roles.items():
        await app.run_db(admin_accounts.create_admin, name, PASSWORD, role)


async def signed_in(api, name):
    s = Session(api)
    assert (await s.sign_in(name)).status == 302
    return s


async def roles(app):
    return {r["username"]: r["role"] for r in await app.run_db(admin_accounts.list_admins)}


async def audit_lines(app, prefix="admin."):
    items = (await app.run_db(audit.lines, prefix, 0))["items"]
    return [(r["actor"], r["action"], r["target"]) for r in reversed(items)
            if r["action"] not in ("admin.login", "admin.logout")]


@pytest.mark.gen_test(timeout=60)
async def test_only_owners_manage_accounts_and_every_change_is_audited(api, app):
    await accounts(app, root=OWNER, mod=MODERATOR)
    mod = await signed_in(api, "mod")
    assert (await mod.get("/admin/")).status == 200  # a moderator still moderates
    refused = await mod.get("/admin/accounts")
    assert refused.status == 403 and "只有所有者可以管理管理员账号".encode() in refused.body
    assert b"<!doctype html>" in refused.body and b'name="password"' not in refused.body
    await mod.get("/admin/")  # a form token from a page the moderator may see
    for path, data in (("/admin/accounts", {"username": "eve", "password": PASSWORD,
                                            "role": OWNER}),
                       ("/admin/accounts/mod/role", {"role": OWNER}),
                       ("/admin/accounts/root/password", {"password": "taken over 123"}),
                       ("/admin/accounts/root/remove", {"confirm": "yes"})):
        reply = await mod.post(path, data)
        assert reply.status == 403, (path, reply)
    assert await roles(app) == {"root": OWNER, "mod": MODERATOR}
    assert await app.run_db(admin_accounts.check_password, "root", PASSWORD)

    root = await signed_in(api, "root")
    page = await root.get("/admin/accounts")
    assert page.status == 200 and b"mod" in page.body
    made = await root.post("/admin/accounts", {"username": "Alice", "password": PASSWORD,
                                               "role": MODERATOR})
    assert made.status == 302 and made.headers["Location"] == "/admin/accounts?ok=created"
    for bad in ({"username": "bob", "password": "short", "role": MODERATOR},
                {"username": "bob", "password": PASSWORD, "role": "admin"},
                {"username": "bob", "password": PASSWORD},
                {"username": "alice", "password": PASSWORD, "role": MODERATOR}):
        reply = await root.post("/admin/accounts", bad)
        assert reply.status in (400, 409) and b"Traceback" not in reply.body, (bad, reply)
    assert (await root.post("/admin/accounts/alice/role", {"role": OWNER})).status == 302
    assert (await root.post("/admin/accounts/alice/password",
                            {"password": "a new password 9"})).status == 302
    assert (await root.post("/admin/accounts/ghost/role", {"role": OWNER})).status == 404
    assert await roles(app) == {"root": OWNER, "mod": MODERATOR, "alice": OWNER}
    assert (await root.get("/admin/accounts/mod/remove")).status == 200
    assert (await root.post("/admin/accounts/mod/remove", {"confirm": "yes"})).status == 302
    assert await roles(app) == {"root": OWNER, "alice": OWNER}
    assert await audit_lines(app) == [
        ("root", "admin.create", "admin:alice"), ("root", "admin.role", "admin:alice"),
        ("root", "admin.passwd", "admin:alice"), ("root", "admin.remove", "admin:mod")]
    line = (await app.run_db(audit.lines, "admin.role", 0))["items"][0]
    assert (line["old"], line["new"]) == (MODERATOR, OWNER)


@pytest.mark.gen_test(timeout=60)
async def test_the_last_owner_is_never_removed_or_demoted(api, app):
    await accounts(app, root=OWNER, mod=MODERATOR)
    root = await signed_in(api, "root")
    confirm = await root.get("/admin/accounts/root/remove")
    assert confirm.status == 200 and b'name="confirm" value="yes"' in confirm.body
    unconfirmed = await root.post("/admin/accounts/root/remove", {})
    assert unconfirmed.status == 302 and unconfirmed.headers["Location"].endswith("/root/remove")
    for path, data in (("/admin/accounts/root/remove", {"confirm": "yes"}),
                       ("/admin/accounts/root/role", {"role": MODERATOR})):
        reply = await root.post(path, data)
        assert reply.status == 409 and "最后一位所有者".encode() in reply.body, reply
    assert await roles(app) == {"root": OWNER, "mod": MODERATOR}
    assert (await root.get("/admin/")).status == 200  # and its session lives on
    # two owners demoting each other at the same moment: one wins, one owner is left
    for attempt in range(6):
        await app.run_db(admin_accounts.set_role, "root", "mod", OWNER)
        results = await asyncio.gather(
            app.run_db(admin_accounts.set_role, "root", "mod", MODERATOR),
            app.run_db(admin_accounts.set_role, "mod", "root", MODERATOR),
            return_exceptions=True)
        owners = [n for n, r in (await roles(app)).items() if r == OWNER]
        assert len(owners) == 1, (attempt, results, owners)
        assert sum(isinstance(r, Exception) for r in results) == 1, results
        if owners == ["mod"]:  # put root back for the next round
            await app.run_db(admin_accounts.set_role, "mod", "root", OWNER)
            await app.run_db(admin_accounts.set_role, "root", "mod", MODERATOR)
    with pytest.raises(Conflict):
        await app.run_db(admin_accounts.remove_admin, "root", "root")


@pytest.mark.gen_test(timeout=60)
async def test_removed_demoted_or_reset_admins_sessions_end(api, app):
    await accounts(app, root=OWNER, alice=OWNER, bob=OWNER, carol=MODERATOR)
    root = await signed_in(api, "root")
    alice, bob, carol = [await signed_in(api, n) for n in ("alice", "bob", "carol")]
    alice_copy = copy_of(alice)
    token = (await api.post_form("/wx/admin/adminLogin", {"username": "alice",
                                                          "passwd": PASSWORD})).json["token"]
    assert (await api.get("/wx/admin/getAllUserSimInfo", token)).code == 200
    await root.get("/admin/accounts")
    assert (await root.post("/admin/accounts/alice/remove", {"confirm": "yes"})).status == 302
    assert (await root.post("/admin/accounts/bob/role", {"role": MODERATOR})).status == 302
    assert (await root.post("/admin/accounts/carol/password",
                            {"password": "carol's new one"})).status == 302
    for jar in (alice, alice_copy, bob, carol):
        away = await jar.get("/admin/")
        assert away.status == 302 and away.headers["Location"].startswith("/admin/login"), away
    assert (await api.get("/wx/admin/getAllUserSimInfo", token)).status == 401
    again = await signed_in(api, "bob")  # bob signs in again: a moderator now
    assert (await again.get("/admin/")).status == 200
    assert (await again.get("/admin/accounts")).status == 403
    assert (await Session(api).sign_in("alice")).status == 401
    assert (await root.get("/admin/accounts")).status == 200  # the owner's own session lives


@pytest.mark.gen_test(timeout=90)
async def test_accounts_page_in_a_real_browser(api, app):
    """In English: a browser asking for it gets the pages in English (Accept-Language)."""
    base = api.base
    await accounts(app, root=OWNER, mod=MODERATOR)
    async with Browser(locale="en-US") as b:
        page = b.page
        await sign_in(page, base, "mod")
        await page.wait_for_url("**/admin/review")
        reply = await page.goto(base + "/admin/accounts")
        assert reply.status == 403
        await expect(page.locator(".error")).to_contain_text("Only owners manage admin accounts")
        await page.click("form.logout button")
        await page.wait_for_url("**/admin/login")
        await sign_in(page, base, "root")
        await page.wait_for_url("**/admin/review")
        await page.goto(base + "/admin/accounts")
        await page.fill("#create input[name=username]", "新管理员")
        await page.fill("#create input[name=password]", PASSWORD)
        await page.select_option("#create select[name=role]", MODERATOR)
        await page.click("#create button")
        await expect(page.locator(".done")).to_contain_text("Account created")
        row = page.locator("#account-新管理员")
        await expect(row).to_contain_text("新管理员")
        await row.locator("select[name=role]").select_option(OWNER)
        await row.locator("form.role button").click()
        await expect(page.locator(".done")).to_contain_text("Role changed")
        # removal asks first; the confirmation page's button removes
        await page.locator("#account-mod a").click()
        await page.wait_for_url("**/admin/accounts/mod/remove")
        await expect(page.locator("main")).to_contain_text("Remove the account mod")
        await page.click("#confirm-remove button")
        await expect(page.locator(".done")).to_contain_text("Account removed")
        assert await page.locator("#account-mod").count() == 0
    assert await roles(app) == {"root": OWNER, "新管理员": OWNER}


def test_admin_commands_list_passwd_role_remove_and_aliases(database, db_url, tmp_path):
    """`main.py admin ...` on this test's database (SQLite file or the private MariaDB)."""
    config = tmp_path / "c.yaml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKET_")}
    env["MARKET_DATABASE_URL"] = db_url

    def run(*args, stdin=""):
        return subprocess.run([sys.executable, "main.py", "--config", str(config)] + list(args),
                              cwd=ROOT, input=stdin, capture_output=True, text=True, env=env,
                              timeout=60)
    assert run("create-admin", "--username", "Root", stdin=PASSWORD + "\n").returncode == 0
    made = run("create-admin", "--username", "mod", "--role", "moderator", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    listed = run("admin", "list").stdout.splitlines()
    assert [(line.split("\t")[0], line.split("\t")[2]) for line in listed] == [
        ("root", "owner"), ("mod", "moderator")]
    assert run("list-admins").stdout.splitlines() == listed  # the old name still works
    changed = run("admin", "passwd", "MOD", stdin="mods new pass\n")
    assert changed.returncode == 0 and changed.stdout.strip() == "admin mod: password set"
    last = run("admin", "remove", "root")
    assert last.returncode == 1 and "last owner" in last.stderr
    assert run("admin", "role", "root", "moderator").returncode == 1
    assert run("admin", "role", "mod", "owner").stdout.strip() == "admin mod: role owner"
    assert run("admin", "remove", "root").returncode == 0
    assert run("remove-admin", "--username", "ghost").returncode == 1
    assert run("set-password", "--username", "mod", stdin="and again 123\n").returncode == 0
    assert run("admin", "remove", "mod").returncode == 1  # now mod is the last owner
    assert run("admin", "remove", "mod", "--force").returncode == 0
    assert run("admin", "list").stdout == ""
    bad = run("admin", "role", "x", "king")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    from models.admin import AdminAction
    with database.connection_context():
        log = [(a.actor, a.action, a.target) for a in AdminAction.select().order_by(AdminAction.id)]
    assert log == [("console", action, "admin:" + name) for action, name in (
        ("admin.create", "root"), ("admin.create", "mod"), ("admin.passwd", "mod"),
        ("admin.role", "mod"), ("admin.remove", "root"), ("admin.passwd", "mod"),
        ("admin.remove", "mod"))]
