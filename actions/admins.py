"""What admins change about admins and the site: sign in (slowed after failures; the
mini-program's adminLogin gets its token here) and out (everywhere), admin accounts and roles
(owners only), the openids that see the admin entry, hidden hot words; all audited."""
import logging

from models.admin import record
from services import admin_accounts, hotwords, tokens

log = logging.getLogger("market.admin")


async def do_sign_in(ctx, username, password, address, via):
    """{"username", "epoch"} of the admin, or None for a wrong name or password; TooMany while
    this name and address are slowed down (one throttle for adminLogin and the pages)."""
    throttle = ctx.sign_in_throttle
    throttle.check(address, username)
    found = username and await ctx.run_db(admin_accounts.check_password, username, password)
    if not found:
        throttle.failed(address, username)
        log.info("admin sign-in failed for %r from %s (%s)", username, address, via)
        return None
    throttle.succeeded(address, username)
    await ctx.run_db(record, found["username"], "admin.login", via)
    return found


async def do_admin_log_in(ctx, username, password, address):
    """/wx/admin/adminLogin: an admin token (role admin, `ep` the account's session epoch, valid
    admin.session_hours), or None for a wrong name or password (do_sign_in: throttled,
    audited)."""
    found = await do_sign_in(ctx, username, password, address, "mini-program")
    if not found:
        return None
    return tokens.issue(ctx.config["auth"]["token_secret"], found["username"],
                        int(ctx.config["admin"]["session_hours"] * 3600), role="admin",
                        epoch=found["epoch"])


async def do_sign_out(ctx, username, via):
    """End every session of this admin (cookies and adminLogin tokens, every process)."""
    await ctx.run_db(admin_accounts.sign_out, username, via)


async def do_add_admin_openid(ctx, actor, openid):
    """Let a mini-program user see the admin entry (audited)."""
    return await ctx.run_db(admin_accounts.add_admin_openid, actor, openid)


async def do_remove_admin_openid(ctx, actor, openid):
    """Take the admin entry away from a mini-program user (audited)."""
    return await ctx.run_db(admin_accounts.remove_admin_openid, actor, openid)


async def do_set_hot_word_hidden(ctx, actor, word, hidden):
    """Hide a word from the hot words under the search box, or show it again (audited)."""
    return await ctx.run_db(hotwords.set_hidden, actor, word, hidden)


# -- admin accounts (owners only; each change audited in its transaction, and a new password,
# a change of role or a removal ends that admin's sessions through its session epoch) ----------

async def do_create_admin(ctx, actor, username, password, role):
    """A new admin account with this role (owners only; admin.create)."""
    created = await ctx.run_db(admin_accounts.create_admin, username, password, role, actor)
    return {"username": created.username, "role": created.role}


async def do_set_admin_password(ctx, actor, username, password):
    """A new password for an admin; its sessions end (owners only; admin.passwd)."""
    await ctx.run_db(admin_accounts.set_password, username, password, actor)


async def do_set_admin_role(ctx, actor, username, role):
    """Owner or moderator; the admin's sessions end (owners only, never the last owner)."""
    return await ctx.run_db(admin_accounts.set_role, actor, username, role)


async def do_remove_admin(ctx, actor, username):
    """Delete an admin account, ending its sessions (owners only, never the last owner)."""
    await ctx.run_db(admin_accounts.remove_admin, username, actor)
