"""Image bombs and decoding load: every frame within the pixel cap before it is decoded (GIF,
APNG, WebP, MPO), MPO accepted as its first picture, cheap refusals before any decoding, and a
bounded number of decodes at once (503 past the queue; memory measured on a real server)."""
import asyncio
import io
import json
import os
import random
import struct
import subprocess
import sys
import threading
import warnings
import urllib.error
import urllib.request
import zlib

import pytest
from PIL import Image, ImageSequence

from imaging import clean
from imaging.gif import gif_geometry
from errors import Unsupported
from tests.security_helpers import goods_body
from tests.serverproc import ROOT, MarketProcess, dev_login
from tests.test_goods import publish, set_user_state
from tests.test_images import animated_gif, multipart, seller, stored, upload


# -- crafted files ------------------------------------------------------------------------------
def _after_sub_blocks(data, pos):
    while data[pos]:
        pos += 1 + data[pos]
    return pos + 1


def _gif_image_block(width, height, colour):
    """The image descriptor and LZW data of a one-colour width x height frame, as Pillow
    writes it."""
    im = Image.new("P", (width, height), colour)
    im.putpalette([0, 0, 0, 255, 0, 0])
    out = io.BytesIO()
    im.save(out, "GIF", optimize=False)  # keep the colour index
    data = out.getvalue()
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while data[pos] == 0x21:  # extensions
        pos = _after_sub_blocks(data, pos + 2)
    assert data[pos] == 0x2C
    end = pos + 10 + (3 << ((data[pos + 9] & 7) + 1) if data[pos + 9] & 0x80 else 0)
    return data[pos:_after_sub_blocks(data, end + 1)]


def gif(screen, frames):
    """A GIF with logical screen `screen` and frames at (x, y, width, height), black and red
    in turn."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + bytes(6))
    out[13:19] = bytes([0, 0, 0, 255, 0, 0])
    for i, (x, y, width, height) in enumerate(frames):
        block = bytearray(_gif_image_block(width, height, (i + 1) % 2))
        block[1:5] = struct.pack("<HH", x, y)
        out += b"!\xf9\x04\x00\x0a\x00\x00\x00" + block  # graphic control: 100 ms
    return bytes(out + b";")


def gif_with_hidden_frame(side):
    """A frame that a naive block walk misses: after a graphic control extension with no data,
    Pillow goes on skipping sub-blocks (`01 21`, `00`) and meets an image descriptor, where a
    walk by the GIF grammar reads `21 00` as an extension whose first sub-block (length 0x2C)
    swallows that descriptor."""
    head = gif((16, 16), [(0, 0, 16, 16)])[:-1]
    big = b"," + struct.pack("<HHHHB", 0, 0, side, side, 0) + b"\x02" + b"\x21" + bytes(33)
    return head + b"!\xf9\x00" + b"\x01\x21\x00" + big + b"\x00;"


def apng(size, frames=3):
    pictures = [Image.new("RGBA", size, (40 * i, 0, 0, 255)) for i in range(frames)]
    out = io.BytesIO()
    pictures[0].save(out, "PNG", save_all=True, append_images=pictures[1:], duration=100)
    return out.getvalue()


def apng_with_oversized_frame(side):
    """A 16x16 APNG whose second frame control chunk claims side x side."""
    data = bytearray(apng((16, 16), 2))
    pos = data.index(b"fcTL", data.index(b"IDAT"))  # the second frame's control chunk
    data[pos + 8:pos + 16] = struct.pack(">II", side, side)
    length = struct.unpack(">I", data[pos - 4:pos])[0]
    data[pos + 4 + length:pos + 8 + length] = struct.pack(
        ">I", zlib.crc32(bytes(data[pos:pos + 4 + length])))
    return bytes(data)


def animated_webp(size, frames=3):
    pictures = [Image.new("RGB", size, (0, 40 * i, 0)) for i in range(frames)]
    out = io.BytesIO()
    pictures[0].save(out, "WEBP", save_all=True, append_images=pictures[1:], lossless=True)
    return out.getvalue()


def mpo(first, second, mode="RGB"):
    """A multi-picture JPEG (as phone cameras write): a red first picture, a blue second."""
    out = io.BytesIO()
    Image.new(mode, first, (220, 20, 20) if mode == "RGB" else 200).save(
        out, "MPO", save_all=True, append_images=[Image.new(mode, second, (20, 20, 220)
                                                            if mode == "RGB" else 50)])
    return out.getvalue()


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """Real-size bombs on disk: what the issue measured, and their siblings."""
    folder = tmp_path_factory.mktemp("bombs")
    files = {
        "gif-second-frame": gif((16, 16), [(0, 0, 16, 16), (0, 0, 8500, 8500)]),   # 54 KB
        "gif-three-frames": gif((16, 16), [(0, 0, 16, 16)] + [(0, 0, 8500, 8500)] * 3),
        "gif-first-frame": gif((16, 16), [(0, 0, 8500, 8500)]),
        "gif-offset-frame": gif((16, 16), [(0, 0, 16, 16), (8000, 8000, 500, 500)]),
        "gif-many-frames": gif((2000, 2000), [(0, 0, 2000, 2000)] * 17),  # 68 Mpx together
        "gif-hidden-frame": gif_with_hidden_frame(8500),
        "apng-oversized-frame": apng_with_oversized_frame(8500),
        "mpo-huge-second": mpo((64, 48), (8500, 8500), mode="L"),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


# -- 1. every frame within the cap, before it is decoded ----------------------------------------
CHILD = r"""
import json, sys
from imaging import clean
def peak_mb():  # VmHWM: this process's own peak (ru_maxrss would include the forking parent)
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) // 1024
out = {}
for path in sys.argv[1:]:
    try:
        p = clean.process(open(path, "rb").read(), 10 * 1024 * 1024, 64_000_000)
        out[path] = "stored " + p.name.rsplit(".", 1)[1]
    except Exception as e:
        out[path] = type(e).__name__
    out[path] += " %d" % peak_mb()
print(json.dumps(out))
"""


def test_frame_bombs_are_refused_without_the_big_allocation(bombs):
    """Each bomb is processed (default caps) in a fresh process, whose peak memory must stay
    small: before, the 54 KB GIF was accepted after taking the process to 1.4 GB."""
    expected = {"gif-second-frame": "Invalid", "gif-three-frames": "Invalid",
                "gif-first-frame": "Invalid", "gif-offset-frame": "Invalid",
                "gif-many-frames": "Invalid", "gif-hidden-frame": "Invalid",
                "apng-oversized-frame": "stored png",
                "mpo-huge-second": "stored jpg"}
    for name, outcome in expected.items():
        path = str(bombs / name)
        done = subprocess.run([sys.executable, "-c", CHILD, path], cwd=ROOT, timeout=60,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        result, peak_mb = json.loads(done.stdout)[path].rsplit(" ", 1)
        assert result == outcome, (name, result)
        assert int(peak_mb) < 120, (name, peak_mb)  # a Python with Pillow is ~30 MB


def test_the_gif_walk_never_sees_fewer_or_smaller_frames_than_pillow():
    """The pre-decode walk must agree with Pillow's reader on hostile bytes too: for mutated
    GIFs, every frame Pillow yields fits the walked canvas, and Pillow yields no more frames."""
    assert gif_geometry(gif_with_hidden_frame(8500)) == ((8500, 8500), 2)
    rng = random.Random(14)
    seeds = [animated_gif(), gif((16, 16), [(0, 0, 16, 16), (4, 4, 40, 30), (0, 0, 10, 10)])]
    for _ in range(1000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 6)):  # change, drop or insert (block markers) bytes
            at, how = rng.randrange(6, len(data)), rng.random()
            if how < 0.7:
                data[at] = rng.randrange(256)
            elif how < 0.85:
                del data[at]
            else:
                data.insert(at, rng.choice((0, 0x21, 0x2C, 0x3B, 0xF9, 0xFE, 0xFF)))
        (width, height), frames = gif_geometry(bytes(data))
        seen = 0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(bytes(data))) as im:
                    for frame in ImageSequence.Iterator(im):
                        seen += 1
                        assert frame.size[0] <= width and frame.size[1] <= height
                        if frame.size[0] * frame.size[1] > 1_000_000:
                            break  # the upload refuses it (walked canvas): not worth decoding
                        frame.load()
        except AssertionError:
            raise
        except Exception:  # damaged: Pillow stops here, and so would the upload
            continue
        assert seen <= frames


@pytest.mark.gen_test(timeout=60)
async def test_frames_past_the_screen_and_frames_together_count_against_the_cap(api, app,
                                                                                 config):
    token, gid = await seller(api, app)
    app.config["uploads"]["max_pixels"] = 100 * 100
    refused = [
        gif((16, 16), [(0, 0, 16, 16), (0, 0, 200, 200)]),     # second frame past the screen
        gif((16, 16), [(0, 0, 16, 16), (150, 150, 10, 10)]),   # a small frame far away
        gif((50, 50), [(0, 0, 50, 50)] * 5),                   # 5 x 2500 px together
        apng((120, 120)), animated_webp((120, 120)),            # canvas over the cap
    ]
    for data in refused:
        reply = await upload(api, token, "sam", data)
        assert reply.status == 400 and reply.json["msg"] == "图片像素太多了", reply
    assert not os.path.exists(config["uploads"]["dir"])  # nothing stored
    app.config["uploads"]["max_pixels"] = 64_000_000
    bomb = await upload(api, token, "sam", gif((16, 16), [(0, 0, 16, 16), (0, 0, 8500, 8500)]))
    assert bomb.status == 400 and bomb.code == 100
    app.config["uploads"]["max_pixels"] = 100 * 100
    fits = await upload(api, token, "sam", gif((50, 50), [(0, 0, 50, 50)] * 4))  # exactly 10,000
    assert fits.status == 200, fits
    with Image.open(stored(config, fits.extend["imageUrl"])) as im:
        assert im.format == "GIF" and im.size == (50, 50) and im.n_frames == 4


@pytest.mark.gen_test(timeout=60)
async def test_apng_and_animated_webp_keep_only_their_first_frame(api, app, config):
    """Their frames cannot exceed the canvas and only the first is decoded: 5 frames of 60x60
    (18,000 px together) pass a 10,000 px cap, stored as one still frame."""
    token, _ = await seller(api, app)
    app.config["uploads"]["max_pixels"] = 100 * 100
    for data, fmt in ((apng((60, 60), 5), "PNG"), (animated_webp((60, 60), 5), "WEBP"),
                      (apng_with_oversized_frame(8500), "PNG")):
        reply = await upload(api, token, "sam", data)
        assert reply.status == 200, reply
        with Image.open(stored(config, reply.extend["imageUrl"])) as im:
            assert im.format == fmt and getattr(im, "n_frames", 1) == 1
            assert im.size in ((60, 60), (16, 16))


# -- 9. MPO ------------------------------------------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_an_mpo_from_a_phone_is_stored_as_a_jpeg_of_its_first_picture(api, app, config):
    token, gid = await seller(api, app)
    data = mpo((64, 48), (200, 150))
    with Image.open(io.BytesIO(data)) as original:  # the test file really is a 2-picture MPO
        assert original.format == "MPO" and original.n_frames == 2
    reply = await upload(api, token, "sam", data)
    assert reply.status == 200 and reply.code == 200 and reply.extend["gid"] == gid, reply
    assert reply.extend["imageUrl"].endswith(".jpg")
    with Image.open(stored(config, reply.extend["imageUrl"])) as im:
        assert im.format == "JPEG" and im.size == (64, 48)
        assert im.convert("RGB").getpixel((32, 24))[0] > 180  # the red first picture
    with Image.open(stored(config, reply.extend["thumbUrl"])) as thumb:
        assert thumb.format == "JPEG"
    app.config["uploads"]["max_pixels"] = 100 * 100  # the second picture is never decoded
    assert (await upload(api, token, "sam", mpo((64, 48), (200, 150)))).status == 200
    assert (await upload(api, token, "sam", mpo((200, 150), (64, 48)))).status == 400


def test_a_format_pillow_opens_that_is_not_ours_is_refused():
    """Pillow's JPEG opener hands back other formats (MPO): any format outside the accepted
    list is a 415 refusal, never a KeyError."""
    data = mpo((64, 48), (64, 48))
    saved = clean.SAME_AS
    clean.SAME_AS = {}  # as if MPO had no mapping: a format the pipeline does not know
    try:
        with pytest.raises(Unsupported):
            clean.process(data, 10 * 1024 * 1024, 64_000_000)
    finally:
        clean.SAME_AS = saved


# -- 2. cheap refusals first, bounded decoding --------------------------------------------------
@pytest.mark.gen_test(timeout=60)
async def test_refusals_that_need_no_decoding_come_first(api, app, config):
    """Bytes the decoder would refuse (415) are refused for the cheaper reason first:
    no listing (404), a blocked caller (403), a full listing (409)."""
    damaged = b"\x89PNG\r\n\x1a\n" + bytes(200)
    token = await api.login("nolisting")
    reply = await upload(api, token, "nolisting", damaged)
    assert reply.status == 404 and reply.code == 100, reply
    assert (await upload(api, token, "nolisting", damaged, flag=1)).status == 415  # decoded
    blocked = await api.login("blocked")
    await publish(api, blocked, "blocked")
    await set_user_state(app, "blocked", 10)
    for flag in (0, 1):
        reply = await upload(api, blocked, "blocked", damaged, flag=flag)
        assert reply.status == 403 and reply.code == 100, reply
    app.config["uploads"]["per_goods"] = 1
    token, _ = await seller(api, app, "full")
    assert (await upload(api, token, "full", apng((8, 8), 1))).status == 200
    assert (await upload(api, token, "full", damaged)).status == 409
    assert len(os.listdir(config["uploads"]["dir"])) == 2  # the one photo and its thumbnail


@pytest.fixture
def one_decoder(settings_env):
    settings_env["MARKET_UPLOADS_DECODE_WORKERS"] = "1"
    settings_env["MARKET_UPLOADS_DECODE_QUEUE"] = "1"


def slow_png():
    """A small file that takes a while to decode and re-encode (4000x4000 RGBA, ~80 KB)."""
    out = io.BytesIO()
    im = Image.new("RGBA", (4000, 4000), (10, 200, 30, 255))
    im.paste((200, 0, 0, 128), (100, 100, 3000, 2000))
    im.save(out, "PNG")
    return out.getvalue()


@pytest.mark.gen_test(timeout=120)
async def test_decodes_at_once_are_bounded_and_past_the_queue_busy(one_decoder, api, app):
    """One decoder, one waiting: of six parallel uploads two are stored, four get 503."""
    token, _ = await seller(api, app)
    data = slow_png()
    replies = await asyncio.gather(*[upload(api, token, "sam", data) for _ in range(6)])
    assert sorted(r.status for r in replies) == [200, 200, 503, 503, 503, 503], replies
    busy = [r for r in replies if r.status == 503]
    assert all(r.code == 100 and "服务器正忙" in r.json["msg"] for r in busy)
    assert app.decoding == 0
    assert (await upload(api, token, "sam", apng((8, 8), 1))).status == 200  # free again


# -- 2. memory of a real server: N parallel max-size uploads within 2x one ----------------------
def _status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024  # MB
    raise AssertionError(key)


def _reset_peak(pid):
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")  # VmHWM starts again from the current RSS


def _post_upload(base, token, data):
    body, ctype = multipart({"openid": "mem", "flag": "0"}, [("file", "a.png", "image/png",
                                                               data)])
    request = urllib.request.Request(base + "/wx/images/upload", data=body, method="POST",
                                     headers={"Content-Type": ctype,
                                              "Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def big_png(side):
    out = io.BytesIO()
    im = Image.new("RGBA", (side, side), (10, 200, 30, 255))
    im.paste((200, 0, 0, 128), (100, 100, side // 2, side // 3))
    im.save(out, "PNG")
    return out.getvalue()


def measure(folder, side, parallel=8):
    """(base RSS, peak for one upload, peak for `parallel` at once) of `main.py serve`, MB."""
    server = MarketProcess(folder, {"MARKET_UPLOADS_PER_GOODS": "50",
                                    "MARKET_LIMITS_PUBLISH_PER_MINUTE_USER": "100"}).migrate()
    server.start()
    try:
        base_url = "http://127.0.0.1:%d" % server.port
        token = dev_login(base_url, "mem")
        request = urllib.request.Request(
            base_url + "/wx/goods/goodsIssue", data=json.dumps(goods_body("mem")).encode(),
            method="POST", headers={"Content-Type": "application/json",
                                    "Authorization": "Bearer " + token})
        urllib.request.urlopen(request, timeout=10).close()
        data, pid = big_png(side), server.proc.pid
        assert _post_upload(base_url, token, apng((8, 8), 1)) == 200  # warm up
        base = _status(pid, "VmRSS")
        _reset_peak(pid)
        assert _post_upload(base_url, token, data) == 200
        one = _status(pid, "VmHWM")
        _reset_peak(pid)
        statuses = []
        threads = [threading.Thread(target=lambda: statuses.append(
            _post_upload(base_url, token, data))) for _ in range(parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [200] * parallel, statuses
        return base, one, _status(pid, "VmHWM")
    finally:
        server.kill()


def test_parallel_uploads_cost_at_most_twice_one(tmp_path):
    """8 parallel 25 Mpx RGBA uploads on a real server (default decode_workers 1, queue 16):
    the peak above the idle RSS stays within twice that of one upload (before: one decode per
    default-executor thread at once)."""
    base, one, eight = measure(tmp_path, 5000)
    print("RSS MB: idle %d, one upload peak %d, 8 parallel peak %d" % (base, one, eight))
    assert one - base > 50  # the measurement sees the decode at all
    assert eight - base <= 2 * (one - base), (base, one, eight)


if __name__ == "__main__":  # figures for docs/security.md: python -m tests.test_image_bombs DIR
    print("idle, one, eight (MB):", measure(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2
                                            else 7999))
