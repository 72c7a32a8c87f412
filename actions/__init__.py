"""Actions: every change a user or an admin makes, one async `do_*` function each.

An action awaits its rule (a plain function in services/, on the database executor, in one
transaction) and then, only after that commit, runs the change's follow-ups: close sockets,
send a subscribe message, submit an image to WeChat's check, publish on the bus. Handlers call
actions and never run follow-ups themselves, so the mini-program's calls and the admin pages
do the same thing after the same change. A new "after X, also do Y" goes into X's action.

Each action takes the `Context` (actions/context.py) first: the application's long-lived
objects, made once in make_app. Follow-ups that should not delay the answer (WeChat calls) go
through `ctx.later`, which logs failures and lets shutdown wait for or cancel them.
"""
