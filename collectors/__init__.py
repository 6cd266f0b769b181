"""Collectors: one module per source kind, each producing captures for the archive."""
