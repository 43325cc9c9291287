"""InfluxDB over the HTTP API every version serves: `/write` (line protocol) and `/query`.

InfluxDB 1.x is the tested target (Debian's 1.6 has no /api/v2). On 2.x and 3.x the
same two endpoints answer through a DBRP mapping; `ensure_database` creates that
mapping with influxdb-client's v2 management API when the server says it is 2.x.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from linli.influx import retention as rp
from linli.influx.errors import InfluxError, InfluxRejected, InfluxUnavailable

__all__ = ["InfluxClient", "InfluxError", "InfluxRejected", "InfluxUnavailable", "ResultSeries"]

log = logging.getLogger(__name__)


def _error_of(response: httpx.Response) -> str:
    """InfluxDB's `{"error": ...}` text, or the body as it is."""
    try:
        error = response.json().get("error")
    except ValueError:
        error = None
    return str(error) if error else response.text[:2000]


@dataclass(frozen=True, slots=True)
class ResultSeries:
    """One series of a query result."""

    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]


class InfluxClient:
    """A small, thread-safe InfluxDB HTTP client bound to one database."""

    def __init__(
        self,
        url: str,
        db: str,
        *,
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.db = db
        self._token = token
        headers = {"Authorization": f"Token {token}"} if token else {}
        auth = httpx.BasicAuth(user, password or "") if user else None
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)),
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise InfluxUnavailable(f"InfluxDB at {self.url}: {err!r}") from err
        if response.status_code >= 500 or response.status_code == 429:
            raise InfluxUnavailable(
                f"InfluxDB at {self.url} answered {response.status_code}: {response.text[:300]}"
            )
        if response.status_code in (400, 413):
            raise InfluxRejected(
                f"InfluxDB at {self.url} refused {path} with {response.status_code}: "
                f"{response.text[:2000]}",
                _error_of(response),
            )
        if response.status_code >= 400:
            # 401, 403, 404 (no such database): not the data's fault; the writer spools
            # and retries, and says so in the log, rather than set data aside for it.
            raise InfluxUnavailable(
                f"InfluxDB at {self.url} answered {path} with {response.status_code}: "
                f"{response.text[:500]}"
            )
        return response

    def ping(self) -> str:
        """The server's version; raises InfluxUnavailable when it does not answer."""
        response = self._request("GET", "/ping")
        return response.headers.get("X-Influxdb-Version", "unknown")

    def write(self, body: bytes, rp: str | None = None) -> None:
        """Write line protocol with millisecond timestamps."""
        params = {"db": self.db, "precision": "ms"}
        if rp:
            params["rp"] = rp
        self._request("POST", "/write", params=params, content=body)

    def query(self, q: str, *, epoch: str = "ms", db: str | None = None) -> list[ResultSeries]:
        """Run InfluxQL; returns the series of every statement, raising on a statement error."""
        response = self._request(
            "POST", "/query", data={"q": q, "db": db or self.db, "epoch": epoch}
        )
        out: list[ResultSeries] = []
        # orjson: a month of a sensor's readings is ~1.4 MB of JSON (bench/report.py)
        for result in orjson.loads(response.content).get("results", []):
            if "error" in result:
                raise InfluxRejected(f"InfluxQL {q!r}: {result['error']}")
            for s in result.get("series", []):
                out.append(
                    ResultSeries(
                        s.get("name", ""), s.get("tags", {}), s["columns"], s.get("values", [])
                    )
                )
        return out

    def ensure_database(self, retention: str, *, now_ms: int | None = None) -> None:
        """Create the database, its retention policies and downsampling (1.x), or the DBRP.

        On 1.x: policy `raw` (default, `retention`) and `forever` with the hourly
        continuous queries of influx/retention.py; given `now_ms`, the aggregates of the
        last 7 days are recomputed (a backfill at start).
        """
        version = self.ping()
        if version.startswith(("v2", "2")):
            self._ensure_dbrp()
            return
        self.query(f'CREATE DATABASE "{self.db}"', db="")
        rp.ensure_policies(self, retention)
        rp.ensure_downsampling(self, now_ms)

    def _ensure_dbrp(self) -> None:
        """InfluxDB 2.x: map database `db` / policy `raw` onto the bucket of the same name."""
        from influxdb_client import InfluxDBClient  # the v2 management API only
        from influxdb_client.domain.dbrp_create import DBRPCreate
        from influxdb_client.service.dbr_ps_service import DBRPsService

        with InfluxDBClient(url=self.url, token=self._token or "") as client:
            bucket = client.buckets_api().find_bucket_by_name(self.db)
            if bucket is None:
                raise InfluxRejected(
                    f"InfluxDB 2.x at {self.url}: bucket {self.db!r} does not exist; create it "
                    "and give LINLI_INFLUX_TOKEN write access"
                )
            service = DBRPsService(client.api_client)
            existing = service.get_dbr_ps(org_id=bucket.org_id, bucket_id=bucket.id)
            if not existing.content:
                service.post_dbrp(
                    DBRPCreate(
                        org_id=bucket.org_id,
                        bucket_id=bucket.id,
                        database=self.db,
                        retention_policy="raw",
                        default=True,
                    )
                )
                log.info("created DBRP mapping %s/raw -> bucket %s", self.db, bucket.id)
