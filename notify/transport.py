"""What the HTTP channels share: one POST mapped to an answer, JSON read, bodies fitted.

Group robots answer HTTP 200 with an error code in the body (CONTRACT §6: only code 0
is delivered), so a channel reads the body itself; these helpers turn what happens
before that (a timeout, a refused connection, HTTP 5xx, a body that is not JSON) into
the `Answer` every HTTP channel gives for it.
"""

from __future__ import annotations

import email.utils
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import httpx
import orjson

from linli.notify.channel import Answer, Outcome

SHORTENED: Final = "…(已截短，详见链接)"  # "shortened, see the link"
SNIPPET_CHARS: Final = 80  # of a garbage answer, in the detail

T = TypeVar("T")


def client(timeout_s: float) -> httpx.Client:
    """An HTTP client for one channel: its timeout, no redirects (a robot never redirects)."""
    return httpx.Client(timeout=timeout_s, follow_redirects=False)


def post(
    http: httpx.Client,
    url: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response | Answer:
    """POST `body`; the response, or a RETRY answer for a timeout or a connection error."""
    try:
        return http.post(
            url,
            content=body,
            headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )
    except httpx.TimeoutException as err:
        return Answer(Outcome.RETRY, f"timeout ({type(err).__name__})")
    except httpx.TransportError as err:
        return Answer(Outcome.RETRY, f"cannot reach the service: {type(err).__name__}: {err}")


def with_query(url: str, params: Mapping[str, str]) -> str:
    """`url` with `params` appended to its query (httpx's `params=` would replace the
    query, and with it a robot's access_token)."""
    if not params:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode(params)}"


def json_answer(response: httpx.Response) -> dict[str, Any] | Answer:
    """The JSON object a service answered, or RETRY for HTTP 5xx, 429 or a garbage body."""
    if response.status_code >= 500 or response.status_code == 429:
        return Answer(
            Outcome.RETRY,
            f"HTTP {response.status_code}",
            retry_after_s=retry_after(response.headers.get("Retry-After")),
        )
    try:
        doc = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict):
        return Answer(
            Outcome.RETRY,
            f"HTTP {response.status_code}, answer not a JSON object: {snippet(response.content)}",
        )
    return doc


class HttpChannel:
    """What the HTTP channels share: their id in the community file, the URL they post to
    and their HTTP client (closed with the channel)."""

    def __init__(
        self, id: str, url: str, *, timeout_s: float = 10.0, http: httpx.Client | None = None
    ) -> None:
        self._id = id
        self.url = url
        self.http = http or client(timeout_s)

    @property
    def id(self) -> str:
        """The channel's id in the community file."""
        return self._id

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()


def robot_exchange(
    http: httpx.Client, url: str, body: bytes, read: Callable[[dict[str, Any]], Answer]
) -> Answer:
    """Post to a group robot and read its JSON answer (HTTP 200 with an errcode) by `read`;
    HTTP failures and garbage are answers already."""
    response = post(http, url, body)
    if isinstance(response, Answer):
        return response
    doc = json_answer(response)
    return doc if isinstance(doc, Answer) else read(doc)


def snippet(content: bytes) -> str:
    """The start of a body, for a detail line."""
    text = content.decode("utf-8", "replace").replace("\n", " ")
    return repr(text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else ""))


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date, RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def dumps(doc: Mapping[str, Any]) -> bytes:
    """A JSON body as the services read it: UTF-8, not ASCII-escaped (escapes would
    triple the bytes Chinese text counts against a size limit)."""
    return orjson.dumps(doc)


def fit(
    build: Callable[[str], T], text: str, limit_bytes: int, size: Callable[[T], int] | None = None
) -> T | None:
    """What `build` makes of `text` (a body, a content string), shortened until its `size`
    is at most `limit_bytes`.

    The text is cut (marked `SHORTENED`), never the rest of the message (the title, the
    link, the mentions), so a long message still reaches its readers with its link;
    None when even an empty text does not fit. Binary search: the size grows with the text.
    """
    size = size or _length
    whole = build(text)
    if size(whole) <= limit_bytes:
        return whole
    if size(build(shorten(text, 0))) > limit_bytes:
        return None
    lo, hi = 0, len(text)  # lo characters fit, hi do not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if size(build(shorten(text, mid))) <= limit_bytes:
            lo = mid
        else:
            hi = mid
    return build(shorten(text, lo))


def _length(value: Any) -> int:
    return len(value)


def utf8_size(text: str) -> int:
    """Bytes of `text` in UTF-8: what the services' limits count."""
    return len(text.encode())


def shorten(text: str, chars: int) -> str:
    """The first `chars` characters of `text` and the mark that it was cut."""
    return text[:chars].rstrip() + SHORTENED


def coded_answer(
    doc: Mapping[str, Any],
    *,
    code_key: str,
    message_key: str,
    too_fast: frozenset[int],
    too_fast_wait_s: float,
    config_errors: frozenset[int],
    hint: str,
    busy: frozenset[int] = frozenset({-1}),
) -> Answer:
    """A robot's JSON answer `{code: .., message: ..}` as an outcome: 0 delivered; too fast
    retry after `too_fast_wait_s`; busy retry; a configuration error failed with `hint`;
    any other code failed (the service refused this message: retrying sends it again)."""
    code = doc.get(code_key)
    if not isinstance(code, int) or isinstance(code, bool):
        return Answer(Outcome.RETRY, f"answer without an {code_key}: {snippet(dumps(doc))}")
    text = doc.get(message_key)
    detail = f"{code_key} {code}" + (f": {text}" if text else "")
    if code == 0:
        return Answer(Outcome.DELIVERED, detail)
    if code in too_fast:
        return Answer(Outcome.RETRY, detail, retry_after_s=too_fast_wait_s)
    if code in busy:
        return Answer(Outcome.RETRY, detail)
    if code in config_errors:
        return Answer(Outcome.FAILED, f"{detail} (configuration: {hint})")
    return Answer(Outcome.FAILED, detail)
