"""The plain way, for comparison: one paho subscriber writing each reading to `/write`.

It keeps the same promise as linli (QoS 1, acknowledge only after InfluxDB took the
reading), so the two numbers compare like with like.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import httpx
import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


def main(host: str, port: int, influx_url: str, db: str, prefix: str) -> None:
    """Subscribe and write reading by reading until stdin closes."""
    http = httpx.Client(base_url=influx_url)

    def on_message(client: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        sensor = msg.topic.split("/")[-2]
        doc = orjson.loads(msg.payload)
        fields = ",".join(f"{k}={float(v)}" for k, v in doc["metrics"].items())
        line = f"noise,sensor={sensor} {fields},seq={doc['seq']}i {doc['ts']}"
        http.post("/write", params={"db": db, "precision": "ms"}, content=line)
        client.ack(msg.mid, msg.qos)

    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id="plain-baseline",
        clean_session=False,
        manual_ack=True,
    )
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/+/telemetry", qos=1)
    client.connect(host, port)
    client.loop_start()
    print("ready", flush=True)
    threading.Thread(target=sys.stdin.read, daemon=True).start()
    sys.stdin.read()
    client.loop_stop()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
