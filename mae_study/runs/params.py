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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Iterator

PROFILES = ("ci", "cpu", "gpu", "paper")


def default_profile() -> str:
    """``MAE_STUDY_PROFILE`` if set (CI sets ``ci``), else ``cpu``."""
    return os.environ.get("MAE_STUDY_PROFILE", "cpu")


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    return profile


class Params(Mapping):
    """The resolved, validated parameters of one run: read-only, typed like the profile's defaults.

    Made only by `Experiment.resolve`, at the boundary (a notebook's parameters cell, a sweep's
    plan), and passed down unchanged. Read a field as ``p.num_epochs`` or ``p["num_epochs"]``;
    ``p.replace(num_epochs=3)`` resolves a changed copy (checked again). ``p.experiment`` is the
    `Experiment` it belongs to, so a run can be named from the parameters that differ from the
    profile's defaults (`mae_study.runs.skeleton.auto_run_name`). ``p.spec`` is what the
    experiment's check built from them, once, at resolve (e.g. `PretrainSpec`: the model, train,
    schedule and data configs a runner uses), or None.
    """

    __slots__ = ("_values", "experiment", "spec")

    def __init__(self, experiment: "Experiment", values: dict[str, Any], spec: Any = None):
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "experiment", experiment)
        object.__setattr__(self, "spec", spec)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"{self.experiment.name!r} has no parameter {key!r}") from None

    def __setattr__(self, key, value):
        raise AttributeError("Params are read-only; use .replace(...)")

    def __repr__(self) -> str:
        return f"Params({self.experiment.name!r}, {self._values!r})"

    def __reduce__(self):  # picklable (spawned processes, torch.save) as long as the experiment is;
        return (Params, (self.experiment, self._values))  # the spec is rebuilt where it is needed

    @property
    def profile(self) -> str:
        return self._values["profile"]

    def replace(self, **changes) -> "Params":
        """A copy with ``changes``, resolved and checked like any other parameters."""
        values = {k: v for k, v in self._values.items() if k != "profile"}
        return self.experiment.resolve(self.profile, **{**values, **changes})


@dataclass(frozen=True)
class Experiment:
    """An experiment's parameters: ``defaults[profile]`` holds a value for every parameter.

    Args:
        name: the experiment, also the folder its runs are written to.
        defaults: per profile, every parameter's default value (its type is the parameter's type).
        check: domain checks of resolved parameters, raising ValueError before any compute; what
            it returns (e.g. the configs it built to check them) is kept as ``Params.spec``.
        derive: fills in values that follow from others, ``derive(params, given) -> params``
            (``given``: the names the caller set explicitly, which it must not override), e.g. a
            linear probe's learning rate, or a model's settings made explicit so that one
            configuration has one parameter set however it was asked for.
        naming: ``naming(params) -> (readable run name, names of the parameters it shows)``.
    """

    name: str
    defaults: dict[str, dict[str, Any]]
    check: Callable[[dict], None] | None = None
    derive: Callable[[dict, frozenset], dict] | None = None
    naming: Callable[[Mapping], tuple[str, tuple[str, ...]]] | None = None

    def names(self) -> list[str]:
        return sorted(next(iter(self.defaults.values())))

    def resolve(self, profile: str | None = None, **overrides) -> Params:
        """Profile defaults updated with the non-None ``overrides``; validated once, here."""
        params = self.values(profile, **overrides)
        spec = self.check(params) if self.check is not None else None
        return Params(self, params, spec)

    def values(self, profile: str | None = None, **overrides) -> dict[str, Any]:
        """What `resolve` resolves, typed and derived but not checked: for comparing parameters
        that were checked already (a run name's reference, `skeleton.changed_params`)."""
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
        if self.derive is not None:
            params = self.derive(params, frozenset(k for k, v in overrides.items() if v is not None))
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


def notebook_params(experiment: Experiment, namespace: dict, before: set) -> Params:
    """Collect the parameters a notebook's parameters cell and papermill's injected cell defined."""
    new = {k: v for k, v in namespace.items() if k not in before and not k.startswith("_")
           and not callable(v) and not hasattr(v, "__file__")}
    profile = new.pop("profile", None)
    return experiment.resolve(profile, **new)
