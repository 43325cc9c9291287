"""Grafana dashboards kept as code."""
