"""Every name linli uses in NATS, in one place: streams, subjects, consumers, buckets.

The readings come from the devices over MQTT: NATS stores each QoS 1 publish in its own
stream `$MQTT_msgs` under `$MQTT.msgs.<topic with dots>` and acknowledges the device then.
`linli nats setup` sources that stream, through a durable acknowledged consumer, into
the readings stream, rewriting each subject to its sensor's partition:

    $MQTT.msgs.linli.v1.<sensor>.<telemetry|status>
        → <name>.r.<partition(sensor)>.<sensor>.<telemetry|status>      (<NAME>_READINGS)

Ingest stores a partition's readings and publishes each stored one by its site, which
the stored stream's own transform puts into the site's partition for the engine:

    <name>.stored.<site>.<sensor>  → <name>.s.<partition(site)>.<site>.<sensor>  (<NAME>_STORED)
"""

from __future__ import annotations

from dataclasses import dataclass

from linli.rules.partitions import site_token

MQTT_STREAM = "$MQTT_msgs"  # NATS's own: every QoS 1 publish of its MQTT listener
MQTT_QOS_HEADER = "Nmqtt-Pub"  # on a device's publish as a NATS message: its QoS


@dataclass(frozen=True, slots=True)
class Layout:
    """The names of one linli in NATS (`LINLI_NATS_NAME`), with its partition count."""

    name: str
    partitions: int
    topic_prefix: str = "linli/v1"
    replicas: int = 3
    max_age_s: float = 72 * 3600.0
    # the stored stream drops a reading published again within this window (a worker
    # that stored it and died before acknowledging; the next owner stores it again)
    duplicate_window_s: float = 600.0
    # a worker (or the notifier's lease) not heard of this long is gone
    member_ttl_s: float = 3.0

    @property
    def topic_subject(self) -> str:
        """The MQTT topic prefix as a NATS subject prefix (`linli/v1` → `linli.v1`)."""
        return self.topic_prefix.replace("/", ".")

    # --- the streams -----------------------------------------------------------------------

    @property
    def readings_stream(self) -> str:
        """The readings, partitioned by sensor (ingest's work)."""
        return f"{self.name.upper()}_READINGS"

    @property
    def stored_stream(self) -> str:
        """The stored readings, partitioned by site (the engine's work)."""
        return f"{self.name.upper()}_STORED"

    @property
    def mqtt_consumer(self) -> str:
        """The durable consumer on `$MQTT_msgs` that feeds the readings stream."""
        return f"{self.name}_readings"

    @property
    def mqtt_deliver_subject(self) -> str:
        """Where that consumer delivers (the readings stream's source listens there)."""
        return f"{self.name}.deliver.readings"

    @property
    def mqtt_filter(self) -> str:
        """The QoS 1 publishes under the topic prefix, in `$MQTT_msgs`."""
        return f"$MQTT.msgs.{self.topic_subject}.>"

    @property
    def health_subject(self) -> str:
        """The devices' health messages as plain NATS messages: QoS 0 publishes are never in
        `$MQTT_msgs`, so ingest takes them here, one worker of a queue group each."""
        return f"{self.topic_subject}.*.health"

    @property
    def health_queue(self) -> str:
        """The ingest workers' queue group for the health messages."""
        return f"{self.name}_health"

    def health_topic(self, subject: str) -> str:
        """The device's MQTT topic of a health message's subject."""
        sensor = subject[len(self.topic_subject) + 1 : -len(".health")]
        return f"{self.topic_prefix}/{sensor}/health"

    @property
    def readings_transform(self) -> tuple[str, str]:
        """(source, destination) of the mapping by sensor."""
        return (
            f"$MQTT.msgs.{self.topic_subject}.*.*",
            f"{self.name}.r.{{{{partition({self.partitions},1)}}}}.{{{{wildcard(1)}}}}"
            ".{{wildcard(2)}}",
        )

    @property
    def stored_subjects(self) -> str:
        """What ingest publishes a stored reading to (before the mapping by site)."""
        return f"{self.name}.stored.*.*"

    @property
    def stored_transform(self) -> tuple[str, str]:
        """(source, destination) of the mapping by site."""
        return (
            self.stored_subjects,
            f"{self.name}.s.{{{{partition({self.partitions},1)}}}}.{{{{wildcard(1)}}}}"
            ".{{wildcard(2)}}",
        )

    def stored_subject(self, site: str, sensor: str) -> str:
        """Where ingest publishes a stored reading of `sensor` at `site`."""
        return f"{self.name}.stored.{site_token(site)}.{sensor}"

    # --- the partitions --------------------------------------------------------------------

    def readings_filter(self, part: int) -> str:
        """One partition of the readings stream."""
        return f"{self.name}.r.{part}.>"

    def stored_filter(self, part: int) -> str:
        """One partition of the stored stream."""
        return f"{self.name}.s.{part}.>"

    # --- the buckets -----------------------------------------------------------------------

    @property
    def members_bucket(self) -> str:
        """The live workers: `<role>.<member>` → the partitions it holds, with a TTL."""
        return f"{self.name}_members"

    @property
    def leases_bucket(self) -> str:
        """Leases (the one active notifier), with a TTL."""
        return f"{self.name}_leases"
