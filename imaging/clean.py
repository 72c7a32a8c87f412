"""An upload decoded, checked against the byte and pixel limits, and written anew without metadata,
with its thumbnail: process() and the Processed image it returns."""
import io
import secrets
import warnings
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import ImageOps, ImageSequence, UnidentifiedImageError

from errors import Invalid, TooLarge, Unsupported
from imaging.gif import MAX_FRAMES, gif_geometry

EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
SAME_AS = {"MPO": "JPEG"}  # phone cameras' multi-picture JPEG: its first picture, as a JPEG
THUMB_SIZE = (360, 360)
RESAMPLE_AS_RGBA = ("1", "P", "PA", "LA", "I", "I;16", "F")  # modes resized through RGBA
KEEP_INFO = ("transparency", "icc_profile")  # everything else (exif, comment, xmp, dpi…) goes
BROKEN = Exception  # decoders raise almost anything on hostile input (struct.error, KeyError…)

# Pillow's own bomb check (MAX_IMAGE_PIXELS) must refuse, not warn; set once for the process.
warnings.simplefilter("error", PILImage.DecompressionBombWarning)


@dataclass
class Processed:
    """A cleaned image and its thumbnail, ready to store."""
    name: str
    data: bytes
    thumb: str
    thumb_data: bytes


def process(raw, max_bytes, max_pixels):
    """Decode, check and re-encode an upload; Invalid / TooLarge / Unsupported when refused."""
    with warnings.catch_warnings():  # also when something reset the process-wide filter
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)
        return _process(raw, max_bytes, max_pixels)


def check_bytes(raw, max_bytes):
    """Invalid when empty, TooLarge past max_bytes: the first, free refusals."""
    if not raw:
        raise Invalid("file is empty")
    if len(raw) > max_bytes:
        raise TooLarge("the image is larger than %(max)d bytes", max=max_bytes)


def _process(raw, max_bytes, max_pixels):
    check_bytes(raw, max_bytes)
    # A GIF's frames are measured from its blocks before Pillow sees it: opening one already
    # allocates for its first frame, and each seek for the next (disposal), before any check.
    canvas, frames = gif_geometry(raw) if raw[:6] in (b"GIF87a", b"GIF89a") else (None, 1)
    if canvas is not None:
        _check_pixels(canvas, frames, max_pixels)
    try:
        im = PILImage.open(io.BytesIO(raw), formats=list(EXTENSIONS))
    except UnidentifiedImageError:
        raise Unsupported("only JPEG, PNG, WebP or GIF images are accepted")
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise Invalid("the image has too many pixels")
    except BROKEN:
        raise Invalid("the image is damaged")
    with im:
        fmt = SAME_AS.get(im.format, im.format)
        if fmt not in EXTENSIONS:  # a format Pillow reaches through an accepted one's opener
            raise Unsupported("only JPEG, PNG, WebP or GIF images are accepted")
        if canvas is None or fmt != "GIF":
            canvas, frames = im.size, 1  # only the first picture is decoded
        _check_pixels(canvas, frames, max_pixels)
        try:
            data, thumb_data, thumb_ext = _reencode(im, fmt, frames, canvas)
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
            raise Invalid("the image has too many pixels")
        except Invalid:
            raise
        except BROKEN:
            raise Invalid("the image is truncated or damaged")
    ext = EXTENSIONS[fmt]
    return Processed(secrets.token_hex(16) + "." + ext, data,
                     secrets.token_hex(16) + "." + thumb_ext, thumb_data)


def _check_pixels(canvas, frames, max_pixels):
    """Invalid unless every frame (each decoded to the full canvas) and all together fit."""
    pixels = canvas[0] * canvas[1]
    if frames > MAX_FRAMES or pixels > max_pixels or pixels * frames > max_pixels:
        raise Invalid("the image has too many pixels")


def _clean(image):
    """Drop every metadata entry Pillow would write back (EXIF, GPS, comment, XMP)."""
    image.info = {k: v for k, v in image.info.items() if k in KEEP_INFO}
    return image


def _reencode(im, fmt, frames, canvas):
    """(image bytes, thumbnail bytes, thumbnail extension), written anew. Full-size copies are
    avoided (EXIF rotation in place, the thumbnail resized straight from the image): one upload
    holds about one decoded image, or for a GIF one RGBA canvas per frame."""
    out = io.BytesIO()
    if fmt == "GIF" and frames > 1:
        parts, durations = [], []
        for frame in ImageSequence.Iterator(im):
            # seek() grew the canvas to this frame before decoding it: it must match the walk
            if frame.size[0] > canvas[0] or frame.size[1] > canvas[1] or len(parts) >= frames:
                raise Invalid("the image has too many pixels")
            durations.append(max(20, int(frame.info.get("duration", 100))))
            parts.append(_clean(frame.convert("RGBA")))
        parts[0].save(out, "GIF", save_all=True, append_images=parts[1:], duration=durations,
                      loop=0, disposal=2)
        upright = parts[0]
    else:
        im.load()
        ImageOps.exif_transpose(im, in_place=True)
        upright = _clean(im)
        options = {"JPEG": {"quality": 88}, "WEBP": {"quality": 85}}.get(fmt, {})
        if fmt == "JPEG" and upright.mode not in ("L", "RGB", "CMYK"):
            upright = _clean(upright.convert("RGB"))
        upright.save(out, fmt, **options)
    thumb = _thumbnail(upright)
    small = io.BytesIO()
    if fmt == "JPEG":
        thumb.convert("RGB").save(small, "JPEG", quality=80)
        return out.getvalue(), small.getvalue(), "jpg"
    if fmt == "WEBP":
        thumb.save(small, "WEBP", quality=80)
        return out.getvalue(), small.getvalue(), "webp"
    thumb.save(small, "PNG")
    return out.getvalue(), small.getvalue(), "png"


def _thumbnail(image):
    """A new image no larger than THUMB_SIZE, made without a full-size copy: Pillow's own
    thumbnail() copies and converts the whole image first (RGBA to premultiplied, P to RGBA)."""
    scale = min(1.0, THUMB_SIZE[0] / image.width, THUMB_SIZE[1] / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    factor = min(image.width // size[0], image.height // size[1]) // 2  # reducing gap 2
    if factor > 1:
        image = _reduce_in_bands(image, factor)
    elif image.mode in RESAMPLE_AS_RGBA:
        image = image.convert("RGBA")
    return _clean(image.resize(size, PILImage.Resampling.BICUBIC))


def _reduce_in_bands(image, factor):
    """image.reduce(factor) (converted to RGBA where needed), a band of rows at a time."""
    rows = factor * max(1, 1_000_000 // (image.width * factor))  # about a megapixel a band
    mode = "RGBA" if image.mode in RESAMPLE_AS_RGBA else image.mode
    out = PILImage.new(mode, (-(-image.width // factor), -(-image.height // factor)))
    for top in range(0, image.height, rows):
        band = image.crop((0, top, image.width, min(top + rows, image.height)))
        out.paste((band.convert(mode) if band.mode != mode else band).reduce(factor),
                  (0, top // factor))
    return out
