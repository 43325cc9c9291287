"""Photos of a fix (整改照片): decoded, bounded and re-encoded before they are kept.

An image is known by decoding it, never by its name, the type the browser says or its
first bytes alone (HTML after PNG's magic bytes passed that). Pillow reads the header
first: more than MAX_PIXELS (a decompression bomb: a few KB that decode to gigabytes) is
refused before a pixel is decoded; the rest is verified, decoded and encoded again, so
what is kept and served is pixels only: no trailing bytes, no metadata (EXIF's GPS
position, the phone's make), JPEG as JPEG, the others as PNG, at most MAX_SIDE pixels a side.
"""

from __future__ import annotations

import io
import warnings
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS: Final = 40_000_000  # a 40 MP phone camera's photo; decoded at most ~160 MB
MAX_SIDE: Final = 4096  # what is kept: enough to see a fix on any screen
FORMATS: Final = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
JPEG_QUALITY: Final = 88


class PhotoRefused(ValueError):
    """Not an image the board keeps."""


class PhotoTooLarge(PhotoRefused):
    """An image of more than MAX_PIXELS."""


def keep(data: bytes) -> tuple[str, bytes]:
    """The content type and bytes to keep of an uploaded photo; PhotoRefused if it is not
    a JPEG, PNG, WebP or GIF image that decodes, or has more than MAX_PIXELS."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=sorted(FORMATS)) as probe:
                _check_size(probe)
                probe.verify()  # the whole file's structure, without decoding it
            with Image.open(io.BytesIO(data), formats=sorted(FORMATS)) as image:
                _check_size(image)
                kind = image.format
                image.load()
                shown = ImageOps.exif_transpose(image)  # upright, as the phone showed it
    except PhotoRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise PhotoTooLarge(str(err)) from err
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,  # Pillow's parsers raise it for a malformed file
        ValueError,
        EOFError,
    ) as err:
        raise PhotoRefused(f"not an image that decodes: {err}") from err
    shown.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    if kind == "JPEG":
        shown.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
        return "image/jpeg", out.getvalue()
    if shown.mode not in ("RGB", "RGBA", "L", "LA"):
        shown = shown.convert("RGBA")
    shown.save(out, "PNG", optimize=True)
    return "image/png", out.getvalue()


def _check_size(image: Image.Image) -> None:
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        mp = width * height / 1e6
        raise PhotoTooLarge(f"{width}×{height} ({mp:.0f} MP): at most {MAX_PIXELS // 10**6} MP")
