"""Images: upload (/wx/images/upload), banners, public files at /uploads/, signed private photos."""
import tornado.web

from handlers.goods import MarketHandler
from services import images, validate
from services.errors import Forbidden, Invalid

NAME = r"([0-9a-f]{32}\.(?:jpg|png|webp|gif))"


class UploadHandler(MarketHandler):
    """POST multipart /wx/images/upload (file, openid, flag 0 goods photo | 1 student-ID photo)."""

    async def post(self):
        openid = self.caller(self.arg("openid"))
        flag = validate.choice(self.arg("flag", "0"), "flag", (0, 1))
        files = self.request.files.get("file") or []
        if len(files) != 1:
            raise Invalid("send exactly one file in the field `file`")
        uploads = self.config["uploads"]
        self.application.limiter.hit("upload", openid,
                                     6 * self.config["limits"]["publish_per_minute_user"],
                                     "uploads")
        # the cheap refusals (size; blocked, no listing, listing full) before the costly decode
        images.check_bytes(files[0]["body"], uploads["max_bytes"])
        await self.run_db(images.may_upload, openid, flag, uploads["per_goods"])
        processed = await self.application.run_decode(
            images.process, files[0]["body"], uploads["max_bytes"], uploads["max_pixels"])
        public, private = images.folders(self.config)
        if flag == 0:
            saved = await self.run_db(images.save_goods_photo, openid, processed, public,
                                      uploads["per_goods"])
            url = images.upload_url(self.base, saved["url"])
            if self.application.content.enabled:  # WeChat answers later, at /wx/wechat/callback
                self.application.background(self.application.content.submit_image(
                    saved["id"], saved["gid"], openid, url))
            self.ok({"gid": saved["gid"], "imageUrl": url,
                     "thumbUrl": images.upload_url(self.base, saved["thumb"])}, msg="uploaded")
        else:
            saved = await self.run_db(images.save_student_id, openid, processed, private,
                                      uploads["per_goods"])
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


class UploadsHandler(tornado.web.StaticFileHandler):
    """GET /uploads/NAME : public images (random names, so cached for long), never sniffed."""

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
