"""Imports every rule module so that each registers itself (one file per rule family)."""

from pipeline.rules import post  # noqa: F401
