"""The bundled community files, installed as package data of `linli.data` (no code)."""
