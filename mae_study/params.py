"""Papermill parameters: profiles, defaults, and a clear error for anything unknown or invalid.

A notebook's first cell records the names it already has (``_before = set(globals())``); its
``parameters`` cell lists every parameter with ``None`` ("use the profile's default") and
``profile``; papermill injects the caller's values after it. `notebook_params` then collects
whatever the two cells defined, rejects names the experiment does not know (a typo in
``papermill -p`` would otherwise be silently ignored), fills in the profile's defaults and checks
types, all before any compute starts.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

PROFILES = ("ci", "cpu", "gpu", "paper")


def default_profile() -> str:
    """``MAE_STUDY_PROFILE`` if set (CI sets ``ci``), else ``cpu``."""
    return os.environ.get("MAE_STUDY_PROFILE", "cpu")


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    return profile


@dataclass(frozen=True)
class Experiment:
    """An experiment's parameters: ``defaults[profile]`` holds a value for every parameter."""

    name: str
    defaults: dict[str, dict[str, Any]]
    check: Callable[[dict], None] | None = None  # extra domain checks, raising ValueError

    def names(self) -> list[str]:
        return sorted(next(iter(self.defaults.values())))

    def resolve(self, profile: str | None = None, **overrides) -> dict:
        """Profile defaults updated with the non-None ``overrides``; validated."""
        profile = check_profile(profile or default_profile())
        if profile not in self.defaults:
            raise ValueError(f"experiment {self.name!r} has no {profile!r} profile; allowed: {sorted(self.defaults)}")
        defaults = self.defaults[profile]
        unknown = sorted(set(overrides) - set(defaults))
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown} for experiment {self.name!r}; "
                             f"allowed: {sorted(defaults)} (and 'profile')")
        params = dict(defaults)
        for key, value in overrides.items():
            if value is None:
                continue
            params[key] = _check_type(key, value, defaults[key])
        params["profile"] = profile
        if self.check is not None:
            self.check(params)
        return params


def _check_type(key: str, value: Any, default: Any) -> Any:
    """Accept ``value`` if it has the default's type (ints for floats; lists/tuples alike)."""
    if default is None:
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ValueError(f"parameter {key!r} must be of type {type(default).__name__} "
                         f"(like its default {default!r}), got {value!r}")
    return value


def notebook_params(experiment: Experiment, namespace: dict, before: set) -> dict:
    """Collect the parameters a notebook's parameters cell and papermill's injected cell defined."""
    new = {k: v for k, v in namespace.items() if k not in before and not k.startswith("_")
           and not callable(v) and not hasattr(v, "__file__")}
    profile = new.pop("profile", None)
    return experiment.resolve(profile, **new)
