"""Grafana dashboards kept as code: generated JSON, provisioning, `linli dashboards push`."""
