"""Uploads over real HTTP: accepted types, refusals, metadata stripped, names, caps, private photos."""
import asyncio
import io
import os
import random
import re
import time
import uuid
import zlib

import pytest
from PIL import Image

from models.goods import BANNER, Image as ImageRow
from services import images
from tests.test_goods import admin_token, approve, publish, roomy_limits, set_user_state  # noqa

NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp|gif)$")


def multipart(fields, files):
    """A multipart/form-data body and its Content-Type, built by hand as wx.uploadFile sends it."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for key, value in fields.items():
        out.write(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                   % (boundary, key, value)).encode())
    for key, filename, ctype, data in files:
        out.write(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                   "Content-Type: %s\r\n\r\n" % (boundary, key, filename, ctype)).encode())
        out.write(data + b"\r\n")
    out.write(("--%s--\r\n" % boundary).encode())
    return out.getvalue(), "multipart/form-data; boundary=" + boundary


async def upload(api, token, openid, data, flag=0, filename="photo.jpg", ctype="image/jpeg"):
    body, content_type = multipart({"openid": openid, "flag": str(flag)},
                                   [("file", filename, ctype, data)])
    return await api.fetch("POST", "/wx/images/upload", token=token, body=body,
                           headers={"Content-Type": content_type})


def picture(fmt, size=(40, 30), mode="RGB", **save):
    im = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 120)
    out = io.BytesIO()
    im.save(out, fmt, **save)
    return out.getvalue()


def animated_gif():
    frames = [Image.new("RGB", (30, 20), color) for color in ((255, 0, 0), (0, 255, 0),
                                                                (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0,
                   comment=b"gif secret")
    return out.getvalue()


def noise_png(side=120):
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def png_with_header_size(width, height):
    """A tiny PNG whose IHDR claims width x height (a decompression bomb's calling card)."""
    data = bytearray(picture("PNG", (1, 1)))
    data[16:20], data[20:24] = width.to_bytes(4, "big"), height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def stored(config, url):
    """The stored file behind a public image URL."""
    name = url.rsplit("/", 1)[1]
    assert NAME.match(name), url
    return os.path.join(config["uploads"]["dir"], name)


async def seller(api, app, openid="sam"):
    token = await api.login(openid)
    gid = await publish(api, token, openid)
    await approve(app, gid)
    return token, gid


@pytest.mark.parametrize("fmt,ext,ctype", [("JPEG", "jpg", "image/jpeg"),
                                           ("PNG", "png", "image/png"),
                                           ("WEBP", "webp", "image/webp"),
                                           ("GIF", "gif", "image/gif")])
@pytest.mark.gen_test(timeout=60)
async def test_each_accepted_type_is_stored_served_and_listed(api, app, config, fmt, ext, ctype):
    token, gid = await seller(api, app)
    data = animated_gif() if fmt == "GIF" else picture(fmt, (800, 500))
    reply = await upload(api, token, "sam", data, filename="x.bin", ctype="application/x-foo")
    assert reply.status == 200 and reply.code == 200, reply
    url, thumb = reply.extend["imageUrl"], reply.extend["thumbUrl"]
    assert reply.extend["gid"] == gid and url.startswith(api.base + "/uploads/")
    assert url.endswith("." + ext)
    with Image.open(stored(config, url)) as im:
        assert im.format == fmt and im.size == ((30, 20) if fmt == "GIF" else (800, 500))
        if fmt == "GIF":
            assert im.n_frames == 3 and "comment" not in im.info
    with Image.open(stored(config, thumb)) as im:
        assert max(im.size) <= 360
    served = await api.fetch("GET", url[len(api.base):])
    assert served.status == 200 and served.headers["Content-Type"] == ctype
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    with open(stored(config, url), "rb") as f:
        assert served.body == f.read()
    await approve(app, gid)  # a new photo sent the approved listing back to review
    info = (await api.get("/wx/goods/getDeGoodfwl", gid=gid)).extend["goodInfo"]
    assert info["imageUrl"] == [url]
    listed = await api.get("/wx/goods/getSimpleGoods", state=1)
    assert listed.extend["0"]["homeImage"] == thumb


@pytest.mark.gen_test(timeout=60)
async def test_refused_uploads_say_why(api, app, config):
    token, gid = await seller(api, app)
    cases = [
        (b"<html><script>alert(1)</script></html>", "evil.jpg", 415),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "a.png", 415),
        (picture("BMP"), "real-but-bmp.jpg", 415),
        (picture("JPEG", (300, 300))[:600], "truncated.jpg", 400),
        (picture("PNG", (300, 300))[:-40], "truncated.png", 400),
        (png_with_header_size(30000, 30000), "bomb.png", 400),   # > 2x Pillow's limit
        (png_with_header_size(10000, 9500), "bomb2.png", 400),   # Pillow warns: an error here
        (b"", "empty.jpg", 400),
    ]
    for data, filename, status in cases:
        reply = await upload(api, token, "sam", data, filename=filename)
        assert reply.status == status and reply.code == 100 and reply.json["msg"], (filename,
                                                                                   reply)
    app.config["uploads"]["max_pixels"] = 100 * 100
    assert (await upload(api, token, "sam", picture("PNG", (101, 100)))).status == 400
    assert (await upload(api, token, "sam", picture("PNG", (100, 100)))).status == 200
    app.config["uploads"]["max_bytes"] = 4000
    big = await upload(api, token, "sam", noise_png())
    assert big.status == 413 and big.code == 100
    no_file = await api.fetch("POST", "/wx/images/upload", token=token,
                              body=multipart({"openid": "sam", "flag": "0"}, [])[0],
                              headers={"Content-Type": multipart({}, [])[1]})
    assert no_file.status == 400
    assert (await upload(api, token, "sam", picture("PNG"), flag=7)).status == 400
    assert (await upload(api, token, "mallory", picture("PNG"))).status == 403
    assert (await upload(api, None, "sam", picture("PNG"))).status == 401
    count = await app.run_db(lambda: ImageRow.select().where(ImageRow.gid == gid).count())
    assert count == 1 and len(os.listdir(config["uploads"]["dir"])) == 2  # image + thumbnail


@pytest.mark.gen_test(timeout=60)
async def test_exif_gps_and_comment_stripped_orientation_applied(api, app, config):
    token, _ = await seller(api, app)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (31.0, 14.0, 5.0), 3: "E", 4: (121.0, 28.0, 0.0)})
    data = picture("JPEG", (40, 20), exif=exif, comment=b"home address")
    with Image.open(io.BytesIO(data)) as original:  # the test image really carries them
        assert original.getexif().get_ifd(0x8825) and original.info.get("comment")
    reply = await upload(api, token, "sam", data)
    for url in (reply.extend["imageUrl"], reply.extend["thumbUrl"]):
        with Image.open(stored(config, url)) as im:
            assert not im.getexif().get_ifd(0x8825) and not im.getexif()
            assert "comment" not in im.info and "exif" not in im.info
        with open(stored(config, url), "rb") as f:
            raw = f.read()
        assert b"home address" not in raw and b"PhoneMaker" not in raw
    with Image.open(stored(config, reply.extend["imageUrl"])) as im:
        assert im.size == (20, 40)


@pytest.mark.gen_test(timeout=60)
async def test_filename_tricks_never_reach_the_disk(api, app, config, tmp_path):
    token, _ = await seller(api, app)
    before = set(os.listdir(tmp_path))
    for name in ("../../../etc/passwd.jpg", "..\\\\..\\\\win.jpg", "/etc/cron.d/x.jpg",
                 "a" * 300 + ".jpg", "x.jpg%00.php", "shell.php"):
        reply = await upload(api, token, "sam", picture("PNG"), filename=name)
        assert reply.status == 200 and NAME.match(reply.extend["imageUrl"].rsplit("/", 1)[1])
    assert set(os.listdir(tmp_path)) - before <= {"uploads"}
    assert all(NAME.match(n) for n in os.listdir(config["uploads"]["dir"]))
    for path in ("/uploads/../data/token_secret", "/uploads/%2e%2e/market.db",
                 "/uploads/" + "0" * 32 + ".jpg", "/uploads/private/x.jpg"):
        assert (await api.fetch("GET", path)).status == 404, path


@pytest.mark.gen_test(timeout=90)
async def test_photos_go_to_the_newest_listing_capped_under_concurrency(api, app, config):
    token = await api.login("tia")
    nothing = await upload(api, token, "tia", picture("PNG"))
    assert nothing.status == 404 and nothing.code == 100
    first = await publish(api, token, "tia")
    newest = await publish(api, token, "tia")
    replies = await asyncio.gather(*[upload(api, token, "tia", picture("PNG"))
                                     for _ in range(9)])
    assert sorted(r.status for r in replies) == [200] * 6 + [409] * 3
    assert {r.extend["gid"] for r in replies if r.status == 200} == {newest}
    rows = await app.run_db(lambda: [i.gid for i in ImageRow.select()])
    assert rows == [newest] * 6 and first not in rows
    assert len(os.listdir(config["uploads"]["dir"])) == 12


@pytest.mark.gen_test(timeout=60)
async def test_student_id_photo_is_private_and_makes_the_user_pending(api, app, config):
    uma, vic = await api.login("uma"), await api.login("vic")
    reply = await upload(api, uma, "uma", picture("PNG"), flag=1)
    assert reply.code == 200 and reply.extend["state"] == 3
    signed = reply.extend["imageUrl"]
    name = signed.split("/private/")[1].split("?")[0]
    assert NAME.match(name) and signed.startswith(api.base + "/wx/images/private/")
    assert (await api.get("/wx/admin/userIsOk", uma, openid="uma")).extend["state"] == 3
    assert not os.path.exists(os.path.join(config["uploads"]["dir"], name))
    assert (await api.fetch("GET", "/uploads/" + name)).status == 404
    got = await api.fetch("GET", signed[len(api.base):])
    assert got.status == 200 and got.headers["Content-Type"] == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(got.body)).format == "PNG"
    # another user cannot get a URL, and forged or expired URLs fail
    assert (await api.get("/wx/images/studentId", vic, openid="uma")).status == 403
    assert (await api.get("/wx/images/studentId", openid="uma")).status == 401
    forged = re.sub(r"s=[0-9a-f]+", "s=" + "0" * 64, signed)
    assert (await api.fetch("GET", forged[len(api.base):])).status == 403
    assert (await api.fetch("GET", "/wx/images/private/" + name)).status == 403
    secret = app.settings["cookie_secret"]
    expired = images.private_url("", secret, name, now=time.time() - 3600)
    assert (await api.fetch("GET", expired)).status == 403
    mine = await api.get("/wx/images/studentId", uma, openid="uma")
    assert len(mine.extend["image"]) == 1
    again = await api.fetch("GET", mine.extend["image"][0]["imageUrl"][len(api.base):])
    assert again.status == 200 and again.body == got.body
    admin = await api.get("/wx/images/studentId", admin_token(config), openid="uma")
    assert admin.code == 200 and len(admin.extend["image"]) == 1
    # a blocked user cannot upload their way back to pending
    await set_user_state(app, "vic", 10)
    assert (await upload(api, vic, "vic", picture("PNG"), flag=1)).status == 403
    assert (await api.get("/wx/admin/userIsOk", vic, openid="vic")).extend["state"] == 10


@pytest.mark.gen_test
async def test_home_images_are_the_banners_in_order(api, app):
    empty = await api.get("/wx/images/getHomeImages")
    assert empty.code == 200 and empty.extend == {}
    names = ["a" * 32 + ".jpg", "https://cdn.example/b.png", "c" * 32 + ".png"]
    await app.run_db(lambda: [ImageRow.create(openid="boss", flag=BANNER, url=n)
                              for n in names])
    reply = await api.get("/wx/images/getHomeImages")
    assert reply.extend == {"0": api.base + "/uploads/" + names[0], "1": names[1],
                            "2": api.base + "/uploads/" + names[2]}


@pytest.mark.gen_test(timeout=90)
async def test_damaged_images_are_refused_never_a_500(api, app):
    token, gid = await seller(api, app)
    rng = random.Random(4)
    seeds = [picture("JPEG", (64, 48)), picture("PNG", (64, 48)), picture("WEBP", (64, 48)),
             animated_gif()]
    statuses = []
    for seed in seeds:
        for _ in range(6):
            data = bytearray(seed)
            for _ in range(8):
                data[rng.randrange(8, len(data))] = rng.randrange(256)
            reply = await upload(api, token, "sam", bytes(data))
            assert reply.status in (200, 400, 409, 415) and reply.code in (200, 100), reply
            statuses.append(reply.status)
    assert 400 in statuses  # some of them are really broken, and said so
    secret = app.settings["cookie_secret"]
    missing = images.private_url("", secret, "f" * 32 + ".png")
    assert (await api.fetch("GET", missing)).status == 404


@pytest.mark.gen_test(timeout=60)
async def test_a_photo_on_an_approved_listing_sends_it_back_to_review(api, app, config):
    """Issue 14 item 4: approved with no photos, then given one: the listing leaves every public
    read (and the seller's approved list) until a moderator approves it again, photo included;
    a photo on a listing still in review leaves it in review."""
    token = await api.login("ria")
    gid = await publish(api, token, "ria")
    admin = admin_token(config)
    assert (await api.get("/wx/admin/setState", admin, gid=gid, state=1)).code == 200
    assert (await api.get("/wx/goods/getDeGoodfwl", gid=gid)).extend["goodInfo"]["imageUrl"] == []
    reply = await upload(api, token, "ria", picture("PNG"))
    assert reply.code == 200 and reply.extend["gid"] == gid
    photo = reply.extend["imageUrl"]

    async def public_view():
        detail = await api.get("/wx/goods/getDeGoodfwl", gid=gid)
        lists = [await api.get("/wx/goods/getSimpleGoods", state=1),
                 await api.get("/wx/goods/getAllSimpleGoods", openid="ria"),
                 await api.get("/wx/goods/query", flag="教材"),
                 await api.get("/wx/goods/getMyIssGoods", token, openid="ria")]
        listed = any(item.get("gid") == gid for r in lists if r.code == 200
                     for item in r.extend.values())
        return detail.status, listed, photo in detail.body.decode()
    assert await public_view() == (404, False, False)
    mine = await api.get("/wx/goods/getMyCheckSimGoods", token, openid="ria")
    assert [(i["gid"], i["state"]) for i in mine.extend.values()] == [(gid, 0)]
    queue = await api.get("/wx/goods/getSimpleGoods", admin, state=0)
    assert [i["gid"] for i in queue.extend.values()] == [gid]
    assert photo in (await api.get("/wx/goods/getDeGoodfwl", admin, gid=gid)).body.decode()
    assert (await upload(api, token, "ria", picture("PNG"))).code == 200  # still in review
    assert await public_view() == (404, False, False)
    assert (await api.get("/wx/admin/setState", admin, gid=gid, state=1)).code == 200
    assert await public_view() == (200, True, True)
