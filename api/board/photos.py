"""Photos of a fix (整改照片): an image is known by its first bytes, never by its name or
the type the browser says (a renamed .exe says image/jpeg as easily)."""

from __future__ import annotations


class PhotoRefused(ValueError):
    """Not an image the board keeps."""


def image_type(data: bytes) -> str:
    """The content type of a JPEG, PNG, WebP or GIF by its magic bytes; PhotoRefused else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    raise PhotoRefused("not a JPEG, PNG, WebP or GIF image")
