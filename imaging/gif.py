"""The geometry of a GIF (canvas and frame count) read from its blocks, decoding nothing, so the
pixel cap holds before Pillow allocates a single frame."""
import struct

from errors import Invalid

MAX_FRAMES = 300  # a GIF with more frames is refused (imaging/clean.py checks the count)


def gif_geometry(raw):
    """(canvas size, frame count) of a GIF, read from its blocks exactly the way Pillow's GIF
    reader walks them (quirks included: a differing walk could hide a frame), decoding nothing.
    The canvas covers the logical screen and every frame's extent (Pillow grows the image to a
    frame that reaches past the screen). Counting stops past MAX_FRAMES."""
    if len(raw) < 13:
        raise Invalid("the image is damaged")
    width, height = struct.unpack_from("<HH", raw, 6)
    pos, frames = 13 + _color_table(raw[10]), 0
    while pos < len(raw) and frames <= MAX_FRAMES:
        kind, pos = raw[pos], pos + 1
        if kind == 0x3B:  # trailer
            break
        if kind == 0x21:  # extension: a label, then sub-blocks
            label, (block, pos) = raw[pos:pos + 1], _data(raw, pos + 1)
            if label == b"\xfe":  # a comment: its sub-blocks up to the terminator
                while block:
                    block, pos = _data(raw, pos)
                continue
            if label == b"\xff" and not frames and block and block.startswith(b"NETSCAPE2.0"):
                block, pos = _data(raw, pos)  # Pillow reads the loop count block...
            block, pos = _data(raw, pos)  # ...then skips blocks, even past a terminator it read
            while block:
                block, pos = _data(raw, pos)
        elif kind == 0x2C:  # image descriptor: x, y, w, h, flags; colour table; LZW size; data
            x, y, w, h = struct.unpack("<HHHH", raw[pos:pos + 8].ljust(8, b"\0"))
            width, height, frames = max(width, x + w), max(height, y + h), frames + 1
            flags = raw[pos + 8] if pos + 8 < len(raw) else 0
            block, pos = _data(raw, pos + 9 + _color_table(flags) + 1)
            while block:
                block, pos = _data(raw, pos)
        # any other byte is skipped, as Pillow does
    return (width, height), max(frames, 1)


def _color_table(flags):
    """Bytes of the colour table that follows a GIF screen or image descriptor with these flags."""
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _data(raw, pos):
    """(sub-block, position after it) as GifImageFile.data() reads one: None for a terminator
    or the end of the file, a short block when truncated."""
    size = raw[pos] if pos < len(raw) else 0
    return (raw[pos + 1:pos + 1 + size] if size else None), pos + 1 + size
