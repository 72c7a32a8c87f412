"""Images: upload (/wx/images/upload), banners, public files at /uploads/, signed private photos."""
import tornado.web
from tornado import httputil

from actions.images import do_add_chat_image, do_add_goods_photo, do_add_student_id
from handlers.base import MarketHandler, StaticHandler
from imaging import clean
from services import chat_media, images, validate
from errors import Forbidden, Invalid, TooLarge, TooMany

NAME = r"([0-9a-f]{32}\.(?:jpg|png|webp|gif))"


MULTIPART_SLACK = 64 * 1024  # the form around the file: boundaries, part headers, openid, flag
UPLOADS_AT_ONCE = 10  # bodies one user may be sending at once: WeChat's own cap on concurrent
                      # wx.uploadFile calls, so the mini-program never meets it


def upload_body_bytes(config):
    """The largest upload body read: one file of uploads.max_bytes and its form, at most
    server.max_body_bytes."""
    return min(config["server"]["max_body_bytes"],
               config["uploads"]["max_bytes"] + MULTIPART_SLACK)


@tornado.web.stream_request_body
class UploadHandler(MarketHandler):
    """POST multipart /wx/images/upload (file, openid, flag 0 goods photo | 1 student-ID photo
    | 3 a picture for a chat message, private to the conversation).

    The body is streamed: prepare() (AppHandler's: the address budget, the identity checks,
    then admit() here) refuses, from the headers alone, what will not be accepted
    (too large, no or a bad token, over the upload rate, too many uploads of this user at
    once) before a byte of the body is kept; an accepted body is collected (capped) and parsed
    as the form Tornado would have parsed, so post() reads it as before."""
    max_body_bytes = staticmethod(upload_body_bytes)  # MarketApp.get_handler_delegate applies it

    def initialize(self):
        self._chunks, self._counted, self._holder, self._refusal = bytearray(), False, None, None

    def refuse_early(self, refusal):
        """A refusal of prepare (the address budget, a dead token, the size, the upload rate)
        is answered after the body was drained, when the client would otherwise see a reset."""
        if not self._drain_first():
            raise refusal
        self._refusal = refusal

    async def admit(self):
        """The refusals the headers decide, after the identity checks every route passes; the
        accepted caller holds one upload slot."""
        declared = validate.strict_int(self.request.headers.get("Content-Length", ""))
        if declared is not None and declared > upload_body_bytes(self.config):
            raise TooLarge("the upload is larger than %(max)d bytes",
                           max=upload_body_bytes(self.config))
        if self.claims is None and not self.config["auth"]["require_token"]:
            return  # tokens off: the caller is the form's openid, known after the body
        openid = self.caller(None)  # 401 without a token, 403 for a non-user token
        self.count_upload(openid)
        if self.application.uploads_in_flight[openid] >= UPLOADS_AT_ONCE:
            raise TooMany("at most %(n)d uploads at once", n=UPLOADS_AT_ONCE)
        self.application.uploads_in_flight[openid] += 1
        self._holder = openid

    def _drain_first(self):
        """Whether to answer a refusal only after the body is in, dropping it as it comes.

        A client that sends its body without waiting (no `Expect: 100-continue`) and is
        answered mid-way gets a reset, not the envelope: so up to server.max_body_bytes the
        body is read and thrown away (nothing kept), then the refusal is answered. A client
        that waits for 100-continue, or a body declared larger than that, is answered at once
        and the connection closed."""
        if self.request.headers.get("Expect", "").lower() == "100-continue":
            return False
        limit = self.config["server"]["max_body_bytes"]
        declared = validate.strict_int(self.request.headers.get("Content-Length", ""))
        if declared is not None and declared > limit:
            # answered now; Tornado must not answer its own 400 after ours
            self.request.connection.set_max_body_size(declared)
            return False
        self.request.connection.set_max_body_size(limit)
        return True

    def data_received(self, chunk):
        if self._refusal is None:  # a refused body is dropped as it arrives
            self._chunks += chunk  # at most upload_body_bytes: the connection's body limit

    def read_form(self):
        """Parse the collected body as the multipart form (request.files, arguments), or
        answer the refusal prepare() put off until the body was in."""
        if self._refusal is not None:
            raise self._refusal
        self.request.body, self._chunks = bytes(self._chunks), bytearray()
        try:
            httputil.parse_body_arguments(self.request.headers.get("Content-Type", ""),
                                          self.request.body, self.request.body_arguments,
                                          self.request.files, self.request.headers)
        except httputil.HTTPInputError:
            raise Invalid("the body is not a valid multipart form")
        for name, values in self.request.body_arguments.items():
            self.request.arguments.setdefault(name, []).extend(values)

    def count_upload(self, openid):
        """Spend one token of the user's upload rate (once per request)."""
        if not self._counted:
            self._counted = True
            self.application.limiter.hit("upload", openid,
                                         6 * self.config["limits"]["publish_per_minute_user"],
                                         "uploads")

    def on_finish(self):
        self._release()

    def on_connection_close(self):
        self._release()
        super().on_connection_close()

    def _release(self):
        holder, self._holder = getattr(self, "_holder", None), None
        if holder is not None:
            in_flight = self.application.uploads_in_flight
            in_flight[holder] -= 1
            if in_flight[holder] <= 0:
                del in_flight[holder]

    async def post(self):
        self.read_form()
        openid = self.caller(self.arg("openid"))
        flag = validate.choice(self.arg("flag", "0"), "flag", (0, 1, 3))
        files = self.request.files.get("file") or []
        if len(files) != 1:
            raise Invalid("send exactly one file in the field `file`")
        uploads = self.config["uploads"]
        self.count_upload(openid)
        # the cheap refusals (size; blocked, no listing, listing full) before the costly decode
        clean.check_bytes(files[0]["body"], uploads["max_bytes"])
        await self.run_db(images.may_upload, openid, flag, uploads["per_goods"])
        processed = await self.application.run_decode(
            clean.process, files[0]["body"], uploads["max_bytes"], uploads["max_pixels"])
        if flag == 0:
            saved = await do_add_goods_photo(self.actions, openid, processed, self.base)
            self.ok({"gid": saved["gid"], "imageUrl": images.upload_url(self.base, saved["url"]),
                     "thumbUrl": images.upload_url(self.base, saved["thumb"])}, msg="uploaded")
        elif flag == 3:
            secret = self.settings["cookie_secret"]
            saved = await do_add_chat_image(self.actions, openid, processed, self.base, secret)
            self.ok({"name": saved["url"],
                     "imageUrl": images.private_url(self.base, secret, saved["url"],
                                                    chat_media.IMAGE_TTL),
                     "thumbUrl": images.private_url(self.base, secret, saved["thumb"],
                                                    chat_media.IMAGE_TTL)}, msg="uploaded")
        else:
            saved = await do_add_student_id(self.actions, openid, processed)
            url = images.private_url(self.base, self.settings["cookie_secret"], saved["url"])
            self.ok({"imageUrl": url, "state": 3}, msg="uploaded, waiting for review")


class HomeImagesHandler(MarketHandler):
    """GET /wx/images/getHomeImages : extend map {"0": url, …} of the banner images."""

    async def get(self):
        urls = await self.run_db(images.home_images, self.base)
        self.ok({str(i): url for i, url in enumerate(urls)})


class StudentIdHandler(MarketHandler):
    """GET /wx/images/studentId?openid= : extend.image[{imageUrl}] signed, for owner and admins."""

    async def get(self):
        openid = validate.openid(self.arg("openid"))
        if not self.is_admin() and self.caller(openid) != openid:
            raise Forbidden("only the owner and admins see student-ID photos")
        found = await self.run_db(images.student_id_images, openid, self.base,
                                  self.settings["cookie_secret"])
        self.ok({"image": found})


class PrivateImageHandler(MarketHandler):
    """GET /wx/images/private/NAME?e=&s= : a student-ID photo, only through a valid signed URL."""

    async def get(self, name):
        if not images.check_signature(self.settings["cookie_secret"], name, self.arg("e"),
                                      self.arg("s")):
            raise Forbidden("this link is invalid or has expired")
        data, content_type = await self.run_db(images.private_file,
                                               images.folders(self.config)[1], name)
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", "private, no-store")
        self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
        self.finish(data)


class UploadsHandler(StaticHandler):
    """GET /uploads/NAME : public images (random names, so cached for long), never sniffed.
    Served without a token; one that is sent passes the identity checks of every route."""

    def initialize(self):
        super().initialize(path=images.folders(self.settings["config"])[0])

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")

    def get_content_type(self):
        return images.CONTENT_TYPES[self.absolute_path.rsplit(".", 1)[1]]

    def get_cache_time(self, path, modified, mime_type):
        return 30 * 24 * 3600


default_handlers = [
    (r"/wx/images/upload", UploadHandler),
    (r"/wx/images/getHomeImages", HomeImagesHandler),
    (r"/wx/images/studentId", StudentIdHandler),
    (r"/wx/images/private/" + NAME, PrivateImageHandler),
    (r"/uploads/" + NAME, UploadsHandler),
]
