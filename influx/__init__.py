"""InfluxDB: the client, retention policies and continuous queries, reading history, annotations."""
