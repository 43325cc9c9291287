"""Developer tools that read the product's layout from pyproject.toml (not installed)."""
