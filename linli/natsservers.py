"""A local NATS cluster (JetStream, the MQTT listener) for the tests and the benchmark.

Three `nats-server` processes on loopback ports, each with its data in a folder of its
own, routed to each other as one cluster (docs/cluster.md shows the same configuration
for real machines). Each node is started and stopped by the PID it was started with.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from linli.localservers import LocalServer, ServerError, free_port

# One node's configuration. The MQTT listener needs a server_name and JetStream; in a
# cluster its streams ($MQTT_msgs, the sessions) are replicated on 3 nodes. The
# monitoring port answers /healthz once JetStream is current (the meta leader known).
NODE_CONF = """\
server_name: {name}
listen: 127.0.0.1:{port}
http: 127.0.0.1:{http_port}
jetstream {{
  store_dir: "{dir}/js"
  max_memory_store: 256MB
  max_file_store: 4GB
}}
cluster {{
  name: {cluster}
  listen: 127.0.0.1:{cluster_port}
  routes: [{routes}]
}}
mqtt {{
  listen: 127.0.0.1:{mqtt_port}
  ack_wait: "10s"
}}
"""


def nats_server_binary() -> str:
    """The nats-server of this environment (the pinned wheel installs it beside python)."""
    beside = Path(sys.executable).parent / "nats-server"
    for candidate in (str(beside), shutil.which("nats-server")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ServerError(
        "nats-server is not installed: run ./dev setup (deploy/nats-server-requirements.txt)"
    )


@dataclass
class NatsNode:
    """One nats-server of the cluster: its ports and its process."""

    name: str
    dir: Path
    port: int
    http_port: int
    cluster_port: int
    mqtt_port: int
    server: LocalServer = field(repr=False)

    @property
    def url(self) -> str:
        """Its client URL."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def mqtt_url(self) -> str:
        """Its MQTT listener, as LINLI_MQTT_URL spells it."""
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def running(self) -> bool:
        """Whether its process is alive."""
        return self.server.proc is not None and self.server.proc.poll() is None

    def healthy(self) -> bool:
        """Whether /healthz says JetStream is current on this node."""
        try:
            r = httpx.get(f"http://127.0.0.1:{self.http_port}/healthz", timeout=1)
        except httpx.HTTPError:
            return False
        return r.status_code == 200


@dataclass
class NatsCluster:
    """Three (or more) nats-server processes on loopback forming one JetStream cluster."""

    nodes: list[NatsNode]

    @property
    def url(self) -> str:
        """All nodes' client URLs, as LINLI_NATS_URL lists them."""
        return ",".join(n.url for n in self.nodes)

    def start(self, timeout_s: float = 60.0) -> NatsCluster:
        """Start every node, wait for JetStream on all, warm the MQTT listeners."""
        for node in self.nodes:
            if not node.running:
                node.server.start(timeout_s)
        self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Until every running node is healthy and takes an MQTT QoS 1 round trip."""
        deadline = time.monotonic() + timeout_s
        for node in self.nodes:
            if not node.running:
                continue
            while not node.healthy():
                if time.monotonic() > deadline:
                    raise ServerError(f"{node.name}: JetStream not ready in {timeout_s}s")
                time.sleep(0.1)
        for node in self.nodes:
            if node.running:
                warm_mqtt(node.mqtt_port, deadline)

    def kill(self, index: int) -> None:
        """SIGKILL one node, as a machine's death would."""
        self.nodes[index].server.stop(signal.SIGKILL)

    def restart(self, index: int, timeout_s: float = 60.0) -> None:
        """Start a killed node again with its data; wait until the cluster is ready."""
        self.nodes[index].server.start(timeout_s)
        self.wait_ready(timeout_s)

    def stop(self) -> None:
        """Stop every node we started, by PID."""
        for node in self.nodes:
            node.server.stop()


def nats_cluster(data_dir: Path, size: int = 3, name: str = "linli") -> NatsCluster:
    """A cluster of `size` nodes under `data_dir`, configured, not yet started."""
    binary = nats_server_binary()
    ports = [(free_port(), free_port(), free_port(), free_port()) for _ in range(size)]
    routes = ", ".join(f"nats-route://127.0.0.1:{p[2]}" for p in ports)
    nodes = []
    for i, (port, http_port, cluster_port, mqtt_port) in enumerate(ports):
        node_name = f"n{i + 1}"
        folder = data_dir / node_name
        folder.mkdir(parents=True, exist_ok=True)
        conf = folder / "nats.conf"
        conf.write_text(
            NODE_CONF.format(
                name=node_name,
                port=port,
                http_port=http_port,
                cluster_port=cluster_port,
                mqtt_port=mqtt_port,
                cluster=name,
                routes=routes,
                dir=folder,
            )
        )
        server = LocalServer(f"nats-{node_name}", [binary, "-c", str(conf)], port, folder)
        nodes.append(NatsNode(node_name, folder, port, http_port, cluster_port, mqtt_port, server))
    return NatsCluster(nodes)


def warm_mqtt(port: int, deadline: float, host: str = "127.0.0.1") -> None:
    """One QoS 1 publish acknowledged on this MQTT listener, retried until `deadline`.

    A fresh cluster's first MQTT connections can time out while the listener creates its
    streams ($MQTT_msgs, the sessions) in JetStream: the devices should not be the first.
    """
    while True:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"warm-{uuid.uuid4().hex[:8]}")
        try:
            client.connect(host, port, keepalive=10)
            client.loop_start()
            info = client.publish("linli-warm/ping", b"1", qos=1)
            info.wait_for_publish(timeout=5)
            if info.is_published():
                return
        except (OSError, ValueError, RuntimeError):
            pass
        finally:
            client.loop_stop()
            client.disconnect()
        if time.monotonic() > deadline:
            raise ServerError(f"MQTT listener on port {port} does not acknowledge QoS 1")
        time.sleep(0.5)
