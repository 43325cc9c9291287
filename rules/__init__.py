"""The core: linli's vocabulary (readings, rejections, registry, later rules and cases).

Nothing here imports paho, InfluxDB, SQLAlchemy or FastAPI; ingest/ and api/ import inward.
"""
