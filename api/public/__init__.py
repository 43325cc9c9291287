"""Residents and the public (CONTRACT §11): a site's public page and its QR code, a
community's red/green list, reporting without an account (SMS code), a resident's private
follow link. No sign-in, zh-CN, no JavaScript; what the public sees is decided by
rules/disclosure.py's public table (`public_sees`) and nowhere else (docs/public.md)."""
