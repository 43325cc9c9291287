"""One MQTT connection of the fleet: a paho client whose socket the reactor drives."""

from __future__ import annotations

import contextlib
import socket
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

if TYPE_CHECKING:
    from .reactor import Reactor

KEEPALIVE_S: Final = 60


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the broker is and how to log in, from an mqtt:// or mqtts:// URL."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """`mqtt://host:port` or `mqtts://user:pass@host:port`."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"MQTT URL {url!r}: scheme is not mqtt:// or mqtts://")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


@dataclass(frozen=True, slots=True)
class Will:
    """A retained QoS 1 last will."""

    topic: str
    payload: bytes


class LinkHandler(Protocol):
    """What the owner of links hears from them."""

    def link_ready(self, link: BaseLink) -> None:
        """Connected and subscribed: members may send."""

    def link_lost(self, link: BaseLink) -> None:
        """The connection went down: members must buffer."""

    def link_message(self, link: BaseLink, topic: str, payload: bytes) -> None:
        """A message on a subscribed topic."""


class BaseLink(ABC):
    """One MQTT connection (3.1.1, clean session) driven by the reactor, and its counters."""

    def __init__(
        self,
        reactor: Reactor,
        client_id: str,
        handler: LinkHandler,
        subscriptions: Sequence[str],
        members: Sequence[int],
    ) -> None:
        self.reactor = reactor
        self.client_id = client_id
        self.handler = handler
        self.subscriptions = tuple(subscriptions)
        self.members = list(members)  # indices of the devices this link sends for
        self.ready = False  # connected and subscribed
        self.hold = False  # a scripted outage or a stop: do not reconnect
        self.sent = 0  # QoS 1 telemetry messages published
        self.acked = 0  # their PUBACKs
        self.errors = 0
        self.last_error = ""
        self._uncounted: set[int] = set()  # mids of status and health messages

    @property
    def outstanding(self) -> int:
        """Telemetry messages published and not yet acknowledged."""
        return self.sent - self.acked

    @property
    def settled(self) -> bool:
        """Every QoS 1 message, telemetry or status, has its PUBACK."""
        return self.outstanding == 0 and not self._uncounted

    @property
    def closed(self) -> bool:
        """No socket open."""
        return self.socket() is None

    def fail(self, message: str) -> None:
        """Count an error and remember the latest."""
        self.errors += 1
        self.last_error = f"{self.client_id}: {message}"

    def resume(self) -> None:
        """Come back after `drop()`."""
        self.hold = False
        self.reactor.schedule_connect(self, 0.0)

    def _become_ready(self) -> None:
        self.ready = True
        self.handler.link_ready(self)

    @abstractmethod
    def socket(self) -> Any | None:
        """The open socket, for the reactor's selector."""

    @abstractmethod
    def connect(self) -> bool:
        """Open the TCP (and TLS) connection and send CONNECT; False if that failed."""

    @abstractmethod
    def read(self) -> None:
        """The socket is readable."""

    @abstractmethod
    def write(self) -> None:
        """Write what is queued; tell the reactor `written()` once nothing is left."""

    @abstractmethod
    def misc(self) -> None:
        """Keepalive, about once a second."""

    @abstractmethod
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> bool:
        """Send a telemetry message (counted towards sent/acked)."""

    @abstractmethod
    def notify(self, topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        """Send a status or health message (not counted as telemetry)."""

    @abstractmethod
    def drop(self) -> None:
        """Lose the connection without DISCONNECT, so the broker sends the last will."""

    @abstractmethod
    def close(self) -> None:
        """Disconnect cleanly (no last will)."""


class Link(BaseLink):
    """A connection through paho's external-loop API: one per device in per-device mode."""

    def __init__(
        self,
        reactor: Reactor,
        endpoint: Endpoint,
        client_id: str,
        handler: LinkHandler,
        *,
        username: str | None = None,
        password: str | None = None,
        will: Will | None = None,
        subscriptions: Sequence[str] = (),
        max_inflight: int = 20,
        members: Sequence[int] = (),
    ) -> None:
        super().__init__(reactor, client_id, handler, subscriptions, members)
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if username is not None:
            c.username_pw_set(username, password)
        if endpoint.tls:
            c.tls_set()
        if will is not None:
            c.will_set(will.topic, will.payload, qos=1, retain=True)
        # paho rescans its whole queue per PUBACK once the inflight window is full, so
        # the window stays small here (a device sends a reading per period, batches
        # after an outage); 0 would mean unlimited.
        c.max_inflight_messages_set(max_inflight)
        c.max_queued_messages_set(0)
        c.connect_async(endpoint.host, endpoint.port, KEEPALIVE_S)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        c.on_socket_open = lambda _c, _u, sock: reactor.register(sock, self)
        c.on_socket_close = lambda _c, _u, sock: reactor.unregister(sock, self)
        c.on_socket_register_write = lambda _c, _u, _s: reactor.want_write(self)
        c.on_socket_unregister_write = lambda _c, _u, sock: reactor.written(sock, self)
        self.client = c

    def socket(self) -> Any | None:
        """The open socket, for the reactor's selector."""
        return self.client.socket()

    def connect(self) -> bool:
        """Open the TCP (and TLS) connection and send CONNECT; False if that failed."""
        try:
            self.client.reconnect()
        except (OSError, ValueError) as err:
            self.fail(f"connect: {err}")
            return False
        return True

    def read(self) -> None:
        """The socket is readable."""
        self.client.loop_read()

    def write(self) -> None:
        """Write what paho queued."""
        self.client.loop_write()

    def misc(self) -> None:
        """paho's keepalive."""
        self.client.loop_misc()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> bool:
        """Send a telemetry message (counted towards sent/acked)."""
        info = self.client.publish(topic, payload, qos, retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self.fail(f"publish {topic}: {mqtt.error_string(info.rc)}")
            return False
        self.sent += 1
        return True

    def notify(self, topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        """Send a status or health message (not counted as telemetry)."""
        info = self.client.publish(topic, payload, qos, retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self.fail(f"publish {topic}: {mqtt.error_string(info.rc)}")
            return False
        self._uncounted.add(info.mid)
        return True

    def drop(self) -> None:
        """Lose the connection without DISCONNECT, so the broker sends the last will."""
        self.hold = True
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            # The reactor then reads EOF and paho cleans up as for any lost connection.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Disconnect cleanly (no last will)."""
        self.hold = True
        if self.client.socket() is not None:
            self.client.disconnect()

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            self.fail(f"connection refused: {rc}")
            return
        if self.subscriptions:
            self.client.subscribe([(topic, 1) for topic in self.subscriptions])
        else:
            self._become_ready()

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        if any(code.is_failure for code in codes):
            self.fail(f"subscription to {', '.join(self.subscriptions)} refused")
        self._become_ready()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        was_ready, self.ready = self.ready, False
        if was_ready:
            self.handler.link_lost(self)
        if not self.hold:
            self.fail(f"connection lost: {rc}")
            self.reactor.schedule_connect(self, self.reactor.retry_s)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.handler.link_message(self, message.topic, bytes(message.payload))

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
        if mid in self._uncounted:
            self._uncounted.discard(mid)
        else:
            self.acked += 1
