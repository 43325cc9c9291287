"""`linli dashboards push`: datasource, folder and dashboards through Grafana's HTTP API.

Idempotent: each object is read first (by its stable uid) and written only when absent
or different, so a second push changes nothing. Grafana documents the endpoints used:
GET/POST /api/datasources, PUT /api/datasources/uid/:uid, GET /api/folders/:uid,
POST /api/folders, PUT /api/folders/:uid, GET /api/dashboards/uid/:uid and
POST /api/dashboards/db (overwrite, folderUid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException, GrafanaUnauthorizedError

from linli.dashboards.grafana import DATASOURCE_UID, Json

DATASOURCE_NAME: Final = "linli"
FOLDER_UID: Final = "linli"
FOLDER_TITLE: Final = "linli"
MESSAGE: Final = "linli dashboards push"

# Fields Grafana adds to a stored dashboard; they never make it differ from ours.
_ASSIGNED: Final = ("id", "version")


class PushError(Exception):
    """Grafana is unreachable, refused the token, or answered what linli cannot use."""


@dataclass(frozen=True, slots=True)
class InfluxSource:
    """InfluxDB as Grafana reaches it (the URL may differ from linli's, e.g. in compose)."""

    url: str
    db: str
    user: str | None = None
    password: str | None = None
    token: str | None = None


def datasource_body(source: InfluxSource) -> Json:
    """The InfluxQL datasource, as POST/PUT /api/datasources take it."""
    json_data: Json = {"dbName": source.db, "httpMode": "POST", "version": "InfluxQL"}
    secure: Json = {}
    body: Json = {
        "uid": DATASOURCE_UID,
        "name": DATASOURCE_NAME,
        "type": "influxdb",
        "access": "proxy",
        "url": source.url,
        "database": source.db,
        "isDefault": False,
        "basicAuth": False,
        "jsonData": json_data,
    }
    if source.user:
        body["user"] = source.user
        secure["password"] = source.password or ""
    if source.token:  # 2.x/3.x through the v1 API: the token as a header
        json_data["httpHeaderName1"] = "Authorization"
        secure["httpHeaderValue1"] = f"Token {source.token}"
    if secure:
        body["secureJsonData"] = secure
    return body


def _datasource_differs(existing: Json, wanted: Json) -> bool:
    for key, value in wanted.items():
        if key == "secureJsonData":
            stored = existing.get("secureJsonFields") or {}
            if not all(stored.get(k) for k in value):
                return True
        elif key == "jsonData":
            theirs = existing.get("jsonData") or {}
            if any(theirs.get(k) != v for k, v in value.items()):
                return True
        elif existing.get(key) != value:
            return True
    return False


def _not_found(err: GrafanaException) -> bool:
    return isinstance(err, GrafanaClientError) and err.status_code == 404


class Pusher:
    """One push: each step returns what it did (created, updated or unchanged)."""

    def __init__(self, api: GrafanaApi) -> None:
        self._api = api

    def datasource(self, body: Json) -> str:
        """Create or update the datasource with the stable uid."""
        try:
            existing = self._api.datasource.get_datasource_by_uid(DATASOURCE_UID)
        except GrafanaException as err:
            if not _not_found(err):
                raise
            self._api.datasource.create_datasource(body)
            return "created"
        if not _datasource_differs(existing, body):
            return "unchanged"
        self._api.datasource.update_datasource_by_uid(DATASOURCE_UID, body)
        return "updated"

    def folder(self) -> str:
        """Create the folder, or give it back its title."""
        try:
            existing = self._api.folder.get_folder(FOLDER_UID)
        except GrafanaException as err:
            if not _not_found(err):
                raise
            self._api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
            return "created"
        if existing.get("title") == FOLDER_TITLE:
            return "unchanged"
        self._api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
        return "updated"

    def dashboard(self, board: Json) -> str:
        """Save the dashboard into the folder unless Grafana already holds the same."""
        action = "created"
        try:
            existing = self._api.dashboard.get_dashboard(board["uid"])
        except GrafanaException as err:
            if not _not_found(err):
                raise
        else:
            stored = {k: v for k, v in existing["dashboard"].items() if k not in _ASSIGNED}
            if stored == board and existing.get("meta", {}).get("folderUid") == FOLDER_UID:
                return "unchanged"
            action = "updated"
        self._api.dashboard.update_dashboard(
            {
                "dashboard": {**board, "id": None},
                "folderUid": FOLDER_UID,
                "overwrite": True,
                "message": MESSAGE,
            }
        )
        return action


def push(
    grafana_url: str,
    token: str,
    source: InfluxSource,
    boards: dict[str, Json],
    timeout_s: float = 10,
) -> list[str]:
    """Push everything; one report line per object. Raises PushError with one clear line."""
    # a trailing slash keeps a sub-path (https://host/grafana/) in front of /api
    api = GrafanaApi.from_url(grafana_url.rstrip("/") + "/", credential=token, timeout=timeout_s)
    pusher = Pusher(api)
    lines = []
    try:
        lines.append(
            f"datasource {DATASOURCE_NAME} ({DATASOURCE_UID}): "
            + pusher.datasource(datasource_body(source))
        )
        lines.append(f"folder {FOLDER_TITLE}: {pusher.folder()}")
        for board in boards.values():
            lines.append(f"dashboard {board['title']} ({board['uid']}): {pusher.dashboard(board)}")
    except GrafanaUnauthorizedError as err:
        raise PushError(
            f"Grafana at {grafana_url} refused the token (401 Unauthorized): check --token or "
            "LINLI_GRAFANA_TOKEN (a service account token with the Admin role)"
        ) from err
    except GrafanaException as err:
        if err.status_code == 0:  # the library's wrapper of a transport error or timeout
            raise PushError(f"cannot reach Grafana at {grafana_url}: {_one_line(err)}") from err
        if err.status_code == 403:
            raise PushError(
                f"Grafana at {grafana_url} denied access (403): the token needs the Admin role "
                "to manage datasources"
            ) from err
        raise PushError(f"Grafana at {grafana_url}: {_one_line(err)}") from err
    except OSError as err:  # niquests' ConnectionError and timeouts are OSErrors
        raise PushError(f"cannot reach Grafana at {grafana_url}: {_reason(err)}") from err
    return lines


def _one_line(err: Any) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _reason(err: OSError) -> str:
    text = str(err)
    for reason in ("Connection refused", "Name or service not known", "timed out"):
        if reason.lower() in text.lower():
            return reason.lower()
    return _one_line(err)
