"""The data path: MQTT → parse → InfluxDB (or the spool) → acknowledge."""
