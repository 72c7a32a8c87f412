"""Pure Pillow work on uploaded bytes: decode, byte and pixel limits, the GIF walk, re-encode
without metadata, thumbnails. No database, no files, no Tornado: services/images.py stores
what comes out.

Only real JPEG, PNG, WebP and GIF images pass: the bytes are decoded (never trusted by name or
content type), capped in bytes and in pixels (decompression bombs), turned upright from EXIF,
and written anew without EXIF, GPS, comments or XMP under a random name (imaging/clean.py).

The pixel cap holds for everything that gets decoded, checked before it is: a GIF's frames are
read from its blocks first (imaging/gif.py: a frame may be larger than the logical screen, and
Pillow grows the canvas to fit it), and the canvas times the frame count must fit the cap. APNG,
animated WebP and MPO (multi-picture JPEG) keep only their first picture, whose size is the
canvas (APNG and WebP frames cannot exceed it), so nothing past it is ever decoded.
"""
