"""The `linli` command (CONTRACT §1): serve, ingest, api, sim, demo, dashboards, notify,
config."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from linli import logs
from linli.settings import Settings


def _common(parser: argparse.ArgumentParser, *, several: bool = True) -> None:
    if several:
        parser.add_argument(
            "--config",
            type=Path,
            action="append",
            help="community TOML: inventory, rules, channels (applied at start); given "
            "again, or a directory of *.toml: the communities of one street (CONTRACT §9)",
        )
    else:
        parser.add_argument(
            "--config",
            type=Path,
            help="community TOML: inventory, rules, channels (applied at start)",
        )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="linli", description="linli (邻里): community noise and cooking-fume monitoring"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _common(sub.add_parser("serve", help="ingest + HTTP API in one service"))
    ingest = sub.add_parser("ingest", help="the MQTT → InfluxDB data path alone")
    _common(ingest)
    ingest.add_argument(
        "--workers",
        type=int,
        default=1,
        help="ingest processes sharing the subscription ($share/linli/...)",
    )
    ingest.add_argument(
        "--rules",
        action="store_true",
        help="also run the rule engine (one worker only: with several, no process sees a "
        "sensor's whole window)",
    )
    _common(sub.add_parser("api", help="the HTTP API alone"))
    _common(
        sub.add_parser(
            "engine", help="the rule engine alone, on its share of a NATS cluster's partitions"
        )
    )
    nats_cmd = sub.add_parser("nats", help="linli's streams on a NATS cluster (docs/cluster.md)")
    nats_sub = nats_cmd.add_subparsers(dest="action", required=True)
    nats_sub.add_parser(
        "setup", help="create the streams, mappings, consumers and buckets (idempotent)"
    )
    nats_sub.add_parser(
        "status",
        help="members, the notifier's lease and each partition against its checkpoint "
        "(exit 1: a partition nobody reads)",
    )
    demo = sub.add_parser("demo", help="everything on this machine with the Tianxin community")
    _common(demo, several=False)
    demo.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    demo.add_argument(
        "--check",
        action="store_true",
        help="only load the community file and the scenario (from the installed package), "
        "say which files they were, and exit",
    )
    demo.add_argument("--speed", type=float, default=240.0, help="simulated seconds per second")
    demo.add_argument(
        "--sim-start",
        default="auto",
        help="simulated start, e.g. -2h (the fleet catches up with real time, then runs at 1×); "
        "auto: 10:30 local of the most recent finished day, so lunch and night both come "
        "within minutes (the scenario's times are offsets from it)",
    )
    dash = sub.add_parser("dashboards", help="Grafana dashboards: build the JSON, push to Grafana")
    dash_sub = dash.add_subparsers(dest="action", required=True)
    build = dash_sub.add_parser("build", help="regenerate dashboards/json from the Python source")
    build.add_argument("--check", action="store_true", help="only report stale files (exit 1)")
    build.add_argument(
        "--out", type=Path, default=None, help="write there instead of dashboards/json/"
    )
    push = dash_sub.add_parser(
        "push", help="create or update the datasource, folder and dashboards in Grafana"
    )
    push.add_argument("--grafana-url", help="Grafana's URL (default: LINLI_GRAFANA_URL)")
    push.add_argument("--token", help="service account token (default: LINLI_GRAFANA_TOKEN)")
    push.add_argument(
        "--influx-url",
        help="InfluxDB's URL as Grafana reaches it (default: LINLI_INFLUX_URL)",
    )
    for p in (build, push):
        p.add_argument(
            "--config",
            type=Path,
            help="community TOML: its [rules] night splits day and night (whole hours); "
            "default GB 3096 22:00-06:00",
        )
    notify = sub.add_parser("notify", help="the notification channels")
    notify_sub = notify.add_subparsers(dest="action", required=True)
    probe = notify_sub.add_parser(
        "test", help="send one test message on a channel and say what the service answered"
    )
    probe.add_argument("--config", type=Path, required=True, help="community TOML")
    probe.add_argument("--channel", required=True, help="a [[channel]] id of the file")
    probe.add_argument(
        "--to",
        action="append",
        default=[],
        help="an address on the channel: a mobile to @-mention, an e-mail address, a phone "
        "number (repeatable; required for email and sms)",
    )
    probe.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING, ERROR")
    config = sub.add_parser("config", help="the configuration's reference")
    config_sub = config.add_subparsers(dest="action", required=True)
    config_sub.add_parser(
        "docs",
        help="print docs/configuration.md: every LINLI_* variable and community-file key",
    )
    # `linli sim ...` is handed whole to the simulator's own parser (firmware-sim/cli.py),
    # which speaks only the wire protocol and imports nothing of linli.
    sub.add_parser("sim", add_help=False, help="the sensor fleet simulator, against any broker")
    return parser


def _sim(argv: list[str]) -> int:
    from linli.sim.cli import add_arguments, run

    parser = argparse.ArgumentParser(prog="linli sim", description="the sensor fleet simulator")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def _dashboards(settings: Settings, args: argparse.Namespace) -> int:
    from linli.dashboards.build import JSON_DIR, build_all, generate
    from linli.dashboards.options import Options
    from linli.dashboards.push import InfluxSource, PushError, push
    from linli.wiring import StartupError, load_calendar

    try:  # the calendar the engine and ingest use: LINLI_TZ, the community's night
        calendar = load_calendar(settings, args.config)
    except (ValueError, StartupError) as err:  # CommunityError names file, table and field
        print(f"linli: {err}", file=sys.stderr)
        return 2
    try:
        opts = Options(calendar=calendar)
    except ValueError as err:  # a night not on whole hours
        print(f"linli: {args.config}: {err}", file=sys.stderr)
        return 2
    if args.action == "build":
        return generate(opts, args.out or JSON_DIR, check=args.check)
    url = args.grafana_url or settings.grafana_url
    token = args.token or settings.grafana_token
    if not url or not token:
        print(
            "linli: give --grafana-url and --token (or LINLI_GRAFANA_URL, LINLI_GRAFANA_TOKEN)",
            file=sys.stderr,
        )
        return 2
    source = InfluxSource(
        args.influx_url or settings.influx_url,
        settings.influx_db,
        settings.influx_user,
        settings.influx_password,
        settings.influx_token,
    )
    try:
        for line in push(url, token, source, build_all(opts)):
            print(line)
    except PushError as err:
        print(f"linli: {err}", file=sys.stderr)
        return 2
    return 0


def _notify_test(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from linli.community import CommunityError, load_community
    from linli.notify.channel import Outcome
    from linli.notifytest import probe, test_message

    try:
        community = load_community(args.config)
    except CommunityError as err:
        print(f"linli: {err}", file=sys.stderr)
        return 2
    now = datetime.now(ZoneInfo(settings.tz))
    message = test_message(community.community.name, settings.public_url, now)
    answer, line = probe(community, args.channel, args.to, message)
    if answer is None:  # not sent: the channel's configuration
        print(f"linli: {args.config}: {line}", file=sys.stderr)
        return 2
    print(line)  # what the service answered, delivered or not
    return 0 if answer.outcome is Outcome.DELIVERED else 2


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `linli` console command."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sim"]:
        return _sim(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "config":
        from linli import configdocs

        return configdocs.main()
    logs.configure(getattr(args, "log_level", "INFO"))
    settings = Settings()
    if args.command == "dashboards":
        return _dashboards(settings, args)
    if args.command == "notify":
        return _notify_test(settings, args)
    from linli import service
    from linli.community import CommunityError
    from linli.wiring import StartupError

    try:
        if args.command == "serve":
            return service.serve(settings, args.config)
        if args.command == "ingest":
            return service.ingest(settings, args.config, args.workers, rules=args.rules)
        if args.command == "api":
            return service.api(settings, args.config)
        if args.command == "engine":
            from linli import clustering

            return clustering.engine(settings, args.config)
        if args.command == "nats":
            from linli import clustering

            if args.action == "status":
                return clustering.nats_status(settings)
            return clustering.nats_setup(settings)
        if args.command == "demo":
            from linli import demo

            return demo.run(settings, args)
    except (StartupError, CommunityError) as err:  # CommunityError names the field
        print(f"linli: {err}", file=sys.stderr)
        return 2
    return 2
