"""linli (邻里): community noise and cooking-fume monitoring."""

__version__ = "0.1.0"
