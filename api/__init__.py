"""HTTP API under /api/v1 (CONTRACT §5): FastAPI app, one thin router per resource."""
