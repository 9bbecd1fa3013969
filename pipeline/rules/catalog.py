"""Imports every rule module so that each registers itself (one file per rule family)."""

from pipeline.rules import (  # noqa: F401
    attendance,
    desk,
    gesture,
    hall,
    phone,
    post,
    posture,
    roster,
)
