"""Changes to the local sensitive-word list: the change (audited) on the database executor, then
this process's automaton rebuilt at once (other processes compare the list's version)."""
from services import word_filter


async def do_add_word(ctx, actor, word):
    """Put a word on the list; the normalised word."""
    added = await ctx.run_db(word_filter.add, actor, word)
    await ctx.content.reload_words()
    return added


async def do_remove_word(ctx, actor, word, reason):
    """Take a word off the list (a shipped one too), with the moderator's reason."""
    removed = await ctx.run_db(word_filter.remove, actor, word, reason)
    await ctx.content.reload_words()
    return removed
