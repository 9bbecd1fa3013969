"""The base of every detector and pose backend's config.

Each plugin file in `pipeline.detectors` declares a subclass with a `type: Literal[...]`
discriminator and only the fields its backend reads; `pipeline.settings` joins them into
the discriminated unions of `models.detector` and `models.pose`, so config itself
knows no backend.
"""

from __future__ import annotations

from typing import Literal, Self

from pipeline.config.rule_params import StrictModel


class BackendConfig(StrictModel):
    """Config of one detector or pose backend; subclasses add `type: Literal[...]` and their fields."""

    type: str

    def with_threads(self, n: int) -> Self:
        """The same config with `n` inference threads where the backend takes a thread count; else unchanged."""
        return self.model_copy(update={"threads": n}) if "threads" in type(self).model_fields else self

    def threads_or(self, default: int) -> int:
        """The backend's inference thread count, or `default` for a backend that has none."""
        return self.threads if "threads" in type(self).model_fields else default  # type: ignore[attr-defined]


class NoPoseConfig(BackendConfig):
    """`models.pose.type: none`: no pose model; posture rules see no skeletons."""

    type: Literal["none"] = "none"

    @property
    def model(self) -> None:
        return None

    @property
    def staff_only(self) -> bool:
        return True
