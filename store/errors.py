"""The store's few named errors; the API maps each to one HTTP status."""

from __future__ import annotations


class StoreError(Exception):
    """The relational store refused or failed an operation."""


class NotFound(StoreError):
    """No grid, site, sensor or token has that id."""


class Duplicate(StoreError):
    """An entry with that id already exists."""


class Invalid(StoreError):
    """The entry breaks a rule: a bad id, an unknown grid or site, a wrong scope."""


class Dangling(Invalid):
    """The entry names a grid or site that does not exist (yet): the same request
    succeeds once it does, so the API answers 409 (a conflict with the registry's
    state), not 422 (a request that is wrong in itself)."""


class StateConflict(Invalid):
    """The case's (or complaint's) state does not allow this now (acknowledging an
    acknowledged case, rating a complaint whose case is not resolved): the request is
    right in itself, so the API answers 409, not 422."""
