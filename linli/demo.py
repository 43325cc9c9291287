"""`linli demo`: the whole thing on this machine with the bundled communities of Jianqiao
street: Tianxin and its neighbour Liming (CONTRACT §9).

With no `LINLI_MQTT_URL` / `LINLI_INFLUX_URL` in the environment it starts its own
mosquitto and influxd under ./var/, applies the bundled community files and the
scenario (package data of the installed `linli`: community/tianxin.toml and
community/liming.toml install as `linli.data`, firmware-sim/scenarios/tianxin.toml as
`linli.sim`'s; `--config FILE` runs one community file instead), runs the service
(ingest + rule engine + API) and the simulated fleet with its scripted nuisances, and
prints where to look. Ctrl-C stops everything it started, by PID.

The demo's clock. The engine judges readings by their own timestamps in local time, and
the fleet can neither run ahead of real time nor start more than 7 days back. To show a
lunchtime fume case and a night-time noise case within a few real minutes whenever it is
run, the demo replays the most recent *finished* day from 10:30 local (a day whose 23:30
has passed: yesterday or the day before) at ×240: lunch comes after ~15 s, the evening
after ~2 min, 22:00 after ~3 min; then the fleet catches up with real time and goes on at
1×. The scenario's times (firmware-sim/scenarios/tianxin.toml) are offsets from 10:30.
Replayed readings are hours old when they arrive, so the demo's policy counts data as
late only beyond the replayed span (otherwise every demo case would say "late data").

Telling. Every channel of the community file gets a local stand-in
(linli/demochannels.py: DingTalk robots for the grids' chats and the community office,
the KTV's WeCom robot, Aliyun's SendSms, an aiosmtpd SMTP server), its `env:` variables
set before the engine's child process and the notifier start; each message they take is
printed as its recipient reads it. An unacknowledged case climbs the ladder after
`UNACKNOWLEDGED_S` (2 min) instead of the policy's 30 min, so the KTV's night case
reaches the merchant (~3 min in) and then the grid's workers (~5 min in).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any, Final, TextIO
from zoneinfo import ZoneInfo

import httpx

from linli import service, wiring
from linli.community import Community, load_street
from linli.demochannels import Printer, StandIns, names_of, set_environ, start_standins
from linli.ingestion import Ingest
from linli.localservers import LocalServer, free_port, influxd, mosquitto, spawn_logged
from linli.notifying import start_notifier
from linli.rules.case import CaseState
from linli.rules.escape import terminal
from linli.rules.links import STAFF, Claims, sign
from linli.rules.policy import RulePolicy
from linli.settings import Settings
from linli.store import Database

log = logging.getLogger(__name__)

# The bundled files: (package, file) of the installed linli, not the checkout's folders.
COMMUNITIES: Final = (("linli.data", "tianxin.toml"), ("linli.data", "liming.toml"))
SCENARIO: Final = ("linli.sim", "scenarios/tianxin.toml")
AUTO: Final = "auto"
DAY_START: Final = (10, 30)  # the replayed day starts at 10:30 local ...
DAY_SPAN: Final = timedelta(hours=13)  # ... and must be over by 23:30 (after the KTV case)
UNACKNOWLEDGED_S: Final = 120  # the demo's escalation of an unacknowledged case (not 30 min)


@dataclass(frozen=True, slots=True)
class DemoComplaint:
    """A resident's complaint the demo files once its window has been measured."""

    label: str
    start: timedelta  # the window, after the replayed day's 10:30 (the scenario's clock)
    length: timedelta
    body: dict[str, Any]


# The scripted KTV night (n-ktv-01 22:10–22:50) heard from Hongjie Tiancheng 1 across the
# lane (its `near`), called in to 12345; the barbecue's purifier left off (f-bbq-01
# 18:00–18:40), a walk-in at the community office naming only the address; and a quiet
# afternoon at Hongjie Apartments 6 that the sensors do not bear out (an on-site check).
COMPLAINTS: Final = (
    DemoComplaint(
        "KTV night, 12345",
        timedelta(hours=11, minutes=40),
        timedelta(minutes=30),
        {"site": "tc-b1", "kind": "noise", "source": "12345", "external_id": "12345-DEMO-0001",
         "text": "对面欢唱KTV半夜开着门唱歌，吵得睡不着", "contact": {"name": "李女士"}},
    ),
    DemoComplaint(
        "barbecue fume, walk-in",
        timedelta(hours=7, minutes=30),
        timedelta(minutes=30),
        {"address": "新塘路72号 夜市烧烤", "kind": "fume", "source": "walk_in",
         "text": "烧烤店油烟直接排进楼道，窗户都不敢开", "contact": {"name": "王先生"}},
    ),
    DemoComplaint(
        "quiet afternoon, phone",
        timedelta(hours=4, minutes=30),
        timedelta(minutes=30),
        {"site": "hj-b6", "kind": "noise", "source": "phone", "text": "下午楼里一直有噪音"},
    ),
)  # fmt: skip
MARGIN: Final = timedelta(minutes=3)  # of simulated time after a window: its readings are in


def complaint_body(complaint: DemoComplaint, day_start: datetime) -> dict[str, Any]:
    """The complaint's POST body with its window on the replayed day."""
    begin = day_start + complaint.start
    end = begin + complaint.length
    return {**complaint.body, "from": begin.isoformat(), "to": end.isoformat()}


def replay_start(now: datetime) -> datetime:
    """The most recent 10:30 local whose day's 23:30 has passed (1–2 days back)."""
    start = now.replace(hour=DAY_START[0], minute=DAY_START[1], second=0, microsecond=0)
    while start + DAY_SPAN > now:
        start -= timedelta(days=1)
    return start


def simulated(day_start: datetime, elapsed_s: float, speed: float, now: datetime) -> datetime:
    """The fleet's clock `elapsed_s` real seconds after it started at `day_start`: `speed`
    simulated seconds a second until it catches up with `now`, then `now`."""
    return min(day_start + timedelta(seconds=elapsed_s * speed), now)


def is_due(complaint: DemoComplaint, day_start: datetime, at: datetime) -> bool:
    """Whether simulated time `at` has passed the complaint's window and a margin."""
    return at >= day_start + complaint.start + complaint.length + MARGIN


@dataclass(frozen=True, slots=True)
class DemoDay:
    """What the demo replays when started at `now` (the caller's clock): the day, the
    fleet's `--start`, the late-data bound and the complaints' bodies on that day."""

    now: datetime
    start: datetime

    @classmethod
    def at(cls, now: datetime) -> DemoDay:
        """The demo started at `now` (aware, local)."""
        return cls(now, replay_start(now))

    @property
    def sim_start(self) -> str:
        """The fleet's `--start`."""
        return self.start.isoformat(timespec="seconds")

    @property
    def late_after_s(self) -> int:
        """Readings of the replayed span are not "late data" (the module docstring)."""
        return int((self.now - self.start).total_seconds()) + 3600

    def bodies(
        self, complaints: Sequence[DemoComplaint] = COMPLAINTS
    ) -> list[tuple[DemoComplaint, dict[str, Any]]]:
        """Each complaint with its POST body on the replayed day."""
        return [(c, complaint_body(c, self.start)) for c in complaints]


class DemoComplaints:
    """Files the demo's complaints through the API as simulated time passes their windows,
    and prints each verdict (a thread; `client` an httpx.Client on the demo's API; `clock`
    the wall clock, aware)."""

    def __init__(
        self,
        client: httpx.Client,
        day_start: datetime,
        speed: float,
        complaints: Sequence[DemoComplaint] = COMPLAINTS,
        out: TextIO = sys.stdout,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._client = client
        self._day_start = day_start
        self._speed = speed
        self._pending = list(complaints)
        self._out = out
        tz = day_start.tzinfo
        self._clock = clock if clock is not None else lambda: datetime.now(tz)
        self._began = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="linli-demo-complaints", daemon=True)
        self.filed: list[dict[str, Any]] = []

    def start(self) -> DemoComplaints:
        """Begin; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """End and wait."""
        self._stop.set()
        self._thread.join(10)

    def file_due(self, now: datetime, at: datetime | None = None) -> None:
        """File every complaint that simulated time `at` has passed (by default the
        fleet's clock at `now`); print its verdict."""
        if at is None:
            elapsed_s = time.monotonic() - self._began
            at = simulated(self._day_start, elapsed_s, self._speed, now)
        for complaint in list(self._pending):
            if not is_due(complaint, self._day_start, at):
                continue
            answer = self._client.post(
                "/api/v1/complaints", json=complaint_body(complaint, self._day_start)
            )
            self._pending.remove(complaint)
            if answer.status_code != 201:
                print(f"[demo] complaint {complaint.label}: {answer.status_code} "
                      f"{terminal(answer.text)}", file=self._out, flush=True)  # fmt: skip
                continue
            got = answer.json()
            self.filed.append(got)
            c = got["corroboration"]
            print(
                f"[demo] ✉ 投诉 {got['reference']} ({complaint.label}) at {got['site']}: "
                f"{c['verdict']} — {terminal(c['summary'])} → case {got['case_id']}",
                file=self._out,
                flush=True,
            )

    def _run(self) -> None:
        while self._pending and not self._stop.wait(1.0):
            try:
                self.file_due(self._clock())
            except httpx.HTTPError as err:
                print(f"[demo] complaints: the API did not answer: {err}", file=self._out)


@contextmanager
def bundled(config: Path | None = None) -> Iterator[tuple[list[Path], Path]]:
    """The community files (`config`, or the bundled street: Tianxin, then Liming) and the
    demo's scenario, as files on disk for as long as the block runs (the simulator's
    process reads them too)."""
    with ExitStack() as stack:
        paths = [
            stack.enter_context(as_file(files(package).joinpath(*name.split("/"))))
            for package, name in (*COMMUNITIES, SCENARIO)
        ]
        yield ([config] if config else paths[:-1]), paths[-1]


def merged_names(communities: Sequence[Community]) -> dict[str, str]:
    """Who each address and group channel is, over every community of the street."""
    names: dict[str, str] = {}
    for community in communities:
        names.update(names_of(community))
    return names


def check(settings: Settings, config: Path | None, out: TextIO = sys.stdout) -> int:
    """`linli demo --check`: load the community file, its rules and the scenario as the
    demo would, say which files and what they hold, start nothing; 0 when all load."""
    from linli.sim.scenario import load_scenario

    with bundled(config) as (community_files, scenario_file):
        street = load_street(community_files)
        wiring.load_policy(settings, community_files)
        wiring.load_complaint_rules(community_files)
        scenario = load_scenario(scenario_file)
        for path, community in zip(street.files, street.communities, strict=True):
            print(
                f"community {path}: {community.id}, {len(community.site)} sites, "
                f"{len(community.sensor)} sensors",
                file=out,
            )
        if street.street is not None:
            print(f"street    {street.street.name}", file=out)
        print(f"scenario  {scenario_file}: {len(scenario.events)} events", file=out)
    return 0


def _port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return free_port()


def _local_servers(settings: Settings, var: Path) -> tuple[Settings, list[LocalServer]]:
    started: list[LocalServer] = []
    update: dict[str, object] = {}
    if "LINLI_MQTT_URL" not in os.environ:
        broker = mosquitto(var / "mosquitto", _port(1883)).start()
        started.append(broker)
        update["mqtt_url"] = f"mqtt://127.0.0.1:{broker.port}"
    if "LINLI_INFLUX_URL" not in os.environ:
        db = influxd(var / "influxdb", _port(8086)).start()
        started.append(db)
        update["influx_url"] = f"http://127.0.0.1:{db.port}"
    if not settings.admin_token:
        update["admin_token"] = "demo-" + secrets.token_hex(16)
    if "LINLI_API_ADDR" not in os.environ:
        update["api_addr"] = f"127.0.0.1:{_port(8000)}"
    if "LINLI_HJ212_ADDR" not in os.environ:  # the restaurants' HJ 212 fume monitors dial it
        update["hj212_addr"] = f"127.0.0.1:{_port(9212)}"
    if "LINLI_PUBLIC_URL" not in os.environ:  # the messages' links: this demo's API
        update["public_url"] = "http://" + str(update.get("api_addr", settings.api_addr))
    return settings.model_copy(update=update), started


def demo_policy(policy: RulePolicy, unacknowledged_s: int = UNACKNOWLEDGED_S) -> RulePolicy:
    """The policy with the demo's escalation: an unacknowledged case climbs within minutes."""
    escalation = dataclasses.replace(
        policy.escalation,
        unacknowledged_s=min(policy.escalation.unacknowledged_s, unacknowledged_s),
    )
    return dataclasses.replace(policy, escalation=escalation)


def run(settings: Settings, args: argparse.Namespace, now: datetime | None = None) -> int:
    """Start servers, service and fleet; report until Ctrl-C or `--duration` (`--check`:
    only load the files). `now` is when the demo starts (the real clock by default): it
    picks the replayed day."""
    if args.check:
        return check(settings, args.config)
    with bundled(args.config) as (config, scenario):
        return _run(settings, args, config, scenario, now)


def _run(
    settings: Settings,
    args: argparse.Namespace,
    config: list[Path],
    scenario: Path,
    now: datetime | None,
) -> int:
    var = Path("var").resolve()
    var.mkdir(exist_ok=True)
    settings, started = _local_servers(settings, var)
    sim: subprocess.Popen[bytes] | None = None
    worker: Ingest | None = None
    engine = None
    api_service: service.ApiService | None = None
    notifier = None
    stand_ins: StandIns | None = None
    printer: Printer | None = None
    complaints: DemoComplaints | None = None
    try:
        street = load_street(config)
        # The channels' variables first: the engine's child inherits them (module docstring).
        stand_ins = start_standins(street.merged())
        set_environ(stand_ins.environ)
        db = wiring.open_store(settings, config)
        influx = wiring.open_influx(settings)
        policy = demo_policy(wiring.load_policy(settings, config))
        sim_start = args.sim_start
        day: DemoDay | None = None
        if sim_start == AUTO:
            day = DemoDay.at(datetime.now(ZoneInfo(settings.tz)) if now is None else now)
            sim_start = day.sim_start
            # Replayed data is not "late data" (see the module docstring).
            late_s = max(policy.late_after_s, day.late_after_s)
            policy = dataclasses.replace(policy, late_after_s=late_s)
        engine = service.start_engine(settings, policy, config)
        notifier = start_notifier(db, settings, config, influx=influx)
        printer = Printer(stand_ins.delivered, merged_names(street.communities)).start()
        worker = Ingest(
            settings,
            db,
            db,
            influx,
            policy=policy,
            on_stored=engine.submit,
            hj212=wiring.hj212_monitors(settings, db),
        )
        worker.start()
        host, port = settings.api_host_port()
        api_service = service.api_service(
            settings,
            config,
            db,
            influx,
            lambda: worker.source.connected if worker else False,
            notifier,
            policy,
            rejudge_every_s=30.0,
        )
        threading.Thread(target=api_service.server.run, name="linli-api", daemon=True).start()
        sim_log = var / "sim.log"
        argv = [sys.executable, "-m", "linli", "sim", "--mqtt-url", settings.mqtt_url]
        argv += ["--prefix", settings.topic_prefix]
        for path in config:
            argv += ["--community", str(path)]
        argv += ["--scenario", str(scenario), "--speed", str(args.speed)]
        argv += [f"--start={sim_start}"]
        if settings.hj212_addr:  # the file's monitors with an hj212 block dial the listener
            argv += ["--hj212-addr", settings.hj212_addr]
        sim = spawn_logged(argv, sim_log)
        key = wiring.board_key(settings.board_secret, db)
        overview = overview_link(settings, key, None if now is None else now.timestamp())
        monitors = sum(1 for c in street.communities for s in c.sensor if s.hj212 is not None)
        _banner(
            settings,
            street.communities,
            sim_log,
            sim_start,
            args.speed,
            stand_ins,
            policy,
            overview,
            monitors,
        )
        if day is not None:  # the residents' complaints, on the scripted day's windows
            api = httpx.Client(
                base_url=f"http://{host}:{port}",
                headers={"Authorization": f"Bearer {settings.admin_token}"},
                timeout=30,
            )
            complaints = DemoComplaints(api, day.start, args.speed).start()
        stop = service.wait_for_signal()
        deadline = time.monotonic() + args.duration if args.duration else None
        while not stop.wait(10):
            _report(worker, db)
            if deadline and time.monotonic() >= deadline:
                break
        _report(worker, db)
    finally:
        if complaints is not None:
            complaints.stop()
        if sim is not None:
            sim.terminate()
            sim.wait(10)
        if api_service is not None:
            api_service.stop()
        if worker is not None:
            worker.stop()
        if engine is not None:
            engine.stop()
        if notifier is not None:
            notifier.stop()
        if printer is not None:
            printer.stop()
        if stand_ins is not None:
            stand_ins.stop()
        for s in reversed(started):
            s.stop()
    return 0


def overview_link(settings: Settings, key: bytes, now_s: float | None = None) -> str:
    """The board's overview as a signed staff link (rules/links.py): opening it signs the
    browser in as staff for the link's lifetime (LINLI_BOARD_LINK_TTL_S)."""
    now = time.time() if now_s is None else now_s
    claims = Claims(
        STAFF, int(now) + settings.board_link_ttl_s, person="演示 staff", sent_s=int(now)
    )
    return f"{settings.public_url.rstrip('/')}/board/overview?t={sign(key, claims)}"


def hj212_banner(settings: Settings, monitors: int) -> str:
    """The banner's line for the HJ 212 listener: where the monitors dial (none: no line)."""
    if not settings.hj212_addr:
        return ""
    return (
        f"\n  HJ 212        tcp://{settings.hj212_addr}   ({monitors} restaurants' fume monitors "
        "dial it: HJ 212-2017\n                frames, answered 9014 once stored; docs/devices.md)"
    )


def _banner(
    settings: Settings,
    communities: Sequence[Community],
    sim_log: Path,
    start: str,
    speed: float,
    stand_ins: StandIns,
    policy: RulePolicy,
    overview: str,
    monitors: int = 0,
) -> None:
    host, port = settings.api_host_port()
    hj212 = hj212_banner(settings, monitors)
    channels = "\n".join("                " + line for line in stand_ins.describe())
    escalate_s = policy.escalation.unacknowledged_s
    names = "、".join(c.community.name for c in communities)
    board = settings.public_url.rstrip("/")
    each = "\n".join(
        f"                {c.community.name} only: {board}/board/overview?community={c.id}"
        for c in communities
    )
    public = "\n".join(
        f"                {c.community.name}: {board}/public/communities/{c.id}   (红绿榜)"
        for c in communities
    )
    shop = next(
        (s.id for c in communities for s in c.site if s.kind == "shop" and s.merchant), None
    )
    if shop is not None:
        public += (
            f"\n                a shop: {board}/public/sites/{shop}   (QR code: …/qr.svg; "
            "report there, the code comes by SMS)"
        )
    reports = f"  reports       {board}/board/stats   (the month's governance figures; A4)"
    if shop is not None:
        api = f"http://{host}:{port}/api/v1/reports/sites/{shop}"
        reports += (
            f"\n                a shop's month: {board}/board/reports/sites/{shop}"
            f"\n                as CSV or XLSX: {api}?format=csv (or xlsx)"
        )
    print(
        f"""
case board (工单台) — open this first; it signs this browser in as staff:
  {overview}

linli demo — Jianqiao street (笕桥街道): {names}
  street board  {board}/board/street   (the communities side by side,
                once the link above signed this browser in)
{each}
  public pages  no sign-in (CONTRACT §11):
{public}
{reports}
  API docs      http://{host}:{port}/docs   (token: Bearer {settings.admin_token})
  health        http://{host}:{port}/api/v1/health
  rejected      http://{host}:{port}/api/v1/rejected/counts
  cases (工单)   http://{host}:{port}/api/v1/cases   rules: http://{host}:{port}/api/v1/rules
  complaints    http://{host}:{port}/api/v1/complaints   (three residents' complaints are
                filed as their windows pass: the KTV night by 12345, the barbecue's fume
                walk-in, a quiet afternoon the sensors do not bear out; Open311 at
                http://{host}:{port}/open311/v2/services.json)
  MQTT broker   {settings.mqtt_url}   (topics {settings.topic_prefix}/<sensor>/telemetry){hj212}
  InfluxDB      {settings.influx_url}   database {settings.influx_db!r}
                e.g. curl -G {settings.influx_url}/query --data-urlencode db={settings.influx_db} \\
                       --data-urlencode 'q=SELECT last(laeq) FROM noise GROUP BY site'
  simulator log {sim_log}   (simulated time from {start} at ×{speed:g})
  links         messages link to {settings.public_url}/board/cases/<id>?t=<signed>: each
                opens its case on the board as the person told (merchant, grid worker, staff)
  channels      local stand-ins (linli/standins/), each message printed as "[demo] ▶":
{channels}
  escalation    an unacknowledged case climbs a level after {escalate_s} s in this demo
                (30 min by default): the KTV's night case reaches the merchant ~3 min
                in, then the grid's workers ~2 min later; acknowledging stops the ladder:
                POST /api/v1/cases/<id>/actions  {{"action": "acknowledge"}}
Ctrl-C stops everything the demo started.
""",
        flush=True,
    )


def _report(worker: Ingest, db: Database) -> None:
    p, w = worker.pipeline.stats, worker.writer.stats
    by_reason: dict[str, int] = {}
    for row in db.rejection_counts():
        by_reason[str(row.reason)] = by_reason.get(str(row.reason), 0) + row.count
    reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(by_reason.items()))
    print(
        f"[demo] messages {p.messages:,}  readings {p.readings:,}  "
        f"points written {w.lines:,}  duplicates {p.duplicates}  "
        f"spooled batches {w.spooled_batches}  "
        f"rejected {sum(by_reason.values())}" + (f" ({reasons})" if reasons else ""),
        flush=True,
    )
    with db.cases() as tx:
        open_by_rule = Counter(c.rule for c in tx.not_closed())
        _, closed = tx.list_cases(state=CaseState.CLOSED, limit=0)
    rules = ", ".join(f"{rule} {n}" for rule, n in sorted(open_by_rule.items()))
    print(f"[demo] cases open by rule: {rules or 'none'}  (closed {closed})", flush=True)
