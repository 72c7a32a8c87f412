"""Images a user or admin adds: a listing's photo (then WeChat's image check), a student-ID
photo, a chat picture, a home banner; and WeChat's verdict on a checked image."""
from services import banners, chat_media, content_checks, images
from services.content_checks import SCENE_SOCIAL


async def do_add_goods_photo(ctx, openid, processed, base):
    """Attach a processed photo to the caller's newest listing; then (when content checks are
    on) submit it to WeChat, which answers later at /wx/wechat/callback. The saved row."""
    uploads = ctx.config["uploads"]
    saved = await ctx.run_db(images.save_goods_photo, openid, processed,
                             images.folders(ctx.config)[0], uploads["per_goods"])
    if ctx.content.enabled:
        ctx.later(ctx.content.submit_image(saved["id"], saved["gid"], openid,
                                           images.upload_url(base, saved["url"])), "image check")
    return saved


async def do_add_student_id(ctx, openid, processed):
    """Store a private student-ID photo; the user waits for verification. The saved row."""
    return await ctx.run_db(images.save_student_id, openid, processed,
                            images.folders(ctx.config)[1], ctx.config["uploads"]["per_goods"])


async def do_add_chat_image(ctx, openid, processed, base, secret):
    """Store a private picture for a chat message; then (when chat moderation is on) submit it
    to WeChat through a signed URL: a risky verdict hides it (its URLs stop working)."""
    saved = await ctx.run_db(images.save_chat_image, openid, processed,
                             images.folders(ctx.config)[1])
    if ctx.content.chat_enabled:
        url = images.private_url(base, secret, saved["url"], chat_media.IMAGE_TTL)
        ctx.later(ctx.content.submit_image(saved["id"], None, openid, url, SCENE_SOCIAL),
                  "chat image check")
    return saved


async def do_add_banner(ctx, actor, processed):
    """A processed image becomes a home banner (audited)."""
    return await ctx.run_db(banners.store, actor, processed, images.folders(ctx.config)[0])


async def do_remove_banner(ctx, actor, image_id):
    """Remove a home banner (audited)."""
    return await ctx.run_db(banners.remove, actor, image_id)


async def do_apply_media_result(ctx, trace_id, suggest, label):
    """WeChat's verdict on a submitted image (hold it unless it passed); counted for metrics."""
    status = await ctx.run_db(content_checks.apply_media_result, trace_id, suggest, label)
    ctx.content.counts[("image", status or "unknown")] += 1
    return status
