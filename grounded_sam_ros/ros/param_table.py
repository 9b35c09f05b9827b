# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""ROS parameters as data: :class:`ParamSpec` (one parameter) and :class:`ParamTable` (the rules over a set of them).

The node's table is the core parameters (:mod:`grounded_sam_ros.ros.params`) plus each capability's ``PARAMS``
(:mod:`grounded_sam_ros.ros.capabilities`). Everything here except :func:`descriptor` and
:meth:`ParamTable.declare` is pure Python (no ``rclpy``), so the rules are unit-tested without ``rclpy.init``.
Each parameter says when a change takes effect:

- ``live``: from the next frame, without reloading models (query, thresholds, rate);
- ``configure``: only while the node is unconfigured — models load on the lifecycle ``configure`` transition, so a
  change needs ``cleanup`` → set → ``configure`` → ``activate``;
- ``startup``: read once when the node starts (read-only afterwards).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple

from grounded_sam_ros.config import PipelineConfig

LIVE = "live"
CONFIGURE = "configure"
STARTUP = "startup"


@dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter: its default (which also fixes its type), meaning, limits and when it applies."""

    name: str
    default: Any
    description: str
    applies: str = LIVE
    low: Optional[float] = None  # inclusive range, ints for int parameters
    high: Optional[float] = None
    choices: Tuple[str, ...] = ()
    config_field: Optional[str] = None  # PipelineConfig field this parameter fills; None for node-only ones
    clean: Optional[Callable[[Any], Any]] = None  # extra check + normalisation after the type/range checks

    @property
    def type(self) -> type:
        return type(self.default)


class Settings:
    """The cleaned values of the node-only parameters, read as attributes (``settings.max_rate``); immutable.

    The node swaps its ``Settings`` for a new one when live parameters change, so a reader always sees one
    consistent set.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no node setting {name!r}; known: {', '.join(self._values)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Settings are immutable: use replace(name=value)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self._values == other._values

    def __repr__(self) -> str:
        return f"Settings({self._values!r})"

    def replace(self, **changes: Any) -> "Settings":
        unknown = set(changes) - set(self._values)
        if unknown:
            raise AttributeError(f"no node setting(s) {', '.join(sorted(unknown))}")
        return Settings({**self._values, **changes})

    def as_dict(self) -> Dict[str, Any]:
        return dict(self._values)


class ParamTable:
    """Validation and mapping rules over a set of parameters (names unique)."""

    def __init__(self, specs: Iterable[ParamSpec], checks: Iterable[Callable[[Mapping[str, Any]], None]] = ()) -> None:
        self.specs: Tuple[ParamSpec, ...] = tuple(specs)
        self.by_name: Dict[str, ParamSpec] = {}
        for spec in self.specs:
            if spec.name in self.by_name:
                raise ValueError(f"parameter {spec.name!r} is declared twice (core or capability PARAMS)")
            self.by_name[spec.name] = spec
        self._checks = tuple(checks)  # cross-field checks on the merged values; raise ValueError
        # Pipeline fields that GroundedSamPipeline.update() applies per frame without reloading models
        self.live_config_fields = tuple(s.config_field for s in self.specs if s.applies == LIVE and s.config_field)
        # Node-only parameters that apply from the next frame (Settings fields)
        self.live_node_fields = tuple(s.name for s in self.specs if s.applies == LIVE and not s.config_field)

    def defaults(self) -> Dict[str, Any]:
        """Every parameter's default value by name."""
        return {spec.name: spec.default for spec in self.specs}

    def validate_value(self, name: str, value: Any) -> Any:
        """Check one value; return it cleaned (e.g. queries normalised, ints as float), or raise ``ValueError``."""
        spec = self.by_name.get(name)
        if spec is None:
            raise ValueError(f"unknown parameter {name!r}; known: {', '.join(self.by_name)}")
        # Types: bool is an int in Python, so check it first; an int is accepted for a float parameter
        if spec.type is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{name}={value!r}: expected true or false")
        elif spec.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name}={value!r}: expected an integer")
        elif spec.type is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name}={value!r}: expected a finite number")
            value = float(value)
        elif spec.type is str and not isinstance(value, str):
            raise ValueError(f"{name}={value!r}: expected a string")
        if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
            raise ValueError(f"{name}={value!r}: expected a value in [{spec.low}, {spec.high}]")
        if spec.choices and value not in spec.choices:
            raise ValueError(f"{name}={value!r}: expected one of {', '.join(spec.choices)}")
        if spec.clean is not None:
            try:
                return spec.clean(value)
            except ValueError as exc:
                raise ValueError(f"{name} rejected: {exc}") from None
        return value

    def check_changes(self, current: Mapping[str, Any], changes: Mapping[str, Any], configured: bool) -> Dict[str, Any]:
        """Validate a set of parameter changes as one; return the cleaned new values or raise ``ValueError``.

        ``current`` holds every parameter's present value; ``configured`` is true while models are loaded (lifecycle
        states inactive and active), when ``configure`` parameters cannot change.
        """
        cleaned = {name: self.validate_value(name, value) for name, value in changes.items()}
        for name, value in cleaned.items():
            spec = self.by_name[name]
            if value == current.get(name):
                continue
            if spec.applies == STARTUP:
                raise ValueError(f"{name} is read once at start-up; restart the node to change it")
            if spec.applies == CONFIGURE and configured:
                raise ValueError(
                    f"{name} applies when the models load: deactivate and clean up the node first "
                    f"(ros2 lifecycle set <node> deactivate; ros2 lifecycle set <node> cleanup), set {name}, "
                    "then configure and activate again"
                )
        # Cross-field checks (PipelineConfig.validate, capabilities' own) on the combined result
        merged = {**current, **cleaned}
        self.config_from(merged)
        for check in self._checks:
            check({**self.defaults(), **merged})
        return cleaned

    def config_from(self, values: Mapping[str, Any]) -> PipelineConfig:
        """The PipelineConfig described by parameter values (missing ones take their defaults); validated."""
        merged = {**self.defaults(), **values}
        fields = {spec.config_field: merged[spec.name] for spec in self.specs if spec.config_field}
        unknown = set(fields) - {f.name for f in dataclasses.fields(PipelineConfig)}
        if unknown:
            raise ValueError(f"parameter table names unknown PipelineConfig field(s): {', '.join(sorted(unknown))}")
        for name in ("detector_model", "segmenter_model"):
            if isinstance(fields.get(name), str):
                fields[name] = fields[name].strip()
        return PipelineConfig(**fields).validate()

    def settings_from(self, values: Mapping[str, Any]) -> Settings:
        """The node-only settings described by parameter values, each validated (``ValueError`` names the bad one)."""
        merged = {**self.defaults(), **values}
        return Settings({s.name: self.validate_value(s.name, merged[s.name]) for s in self.specs if not s.config_field})

    def default_settings(self) -> Settings:
        """Node-only settings at their defaults, unvalidated (what the node holds before it is configured)."""
        return Settings({s.name: s.default for s in self.specs if not s.config_field})

    def live_settings(self, changes: Mapping[str, Any]) -> Dict[str, Any]:
        """The cleaned parameter changes that are live Settings fields, as ``Settings.replace`` keywords."""
        return {name: value for name, value in changes.items() if name in self.live_node_fields}

    def live_updates(self, changes: Mapping[str, Any]) -> Dict[str, Any]:
        """The subset of cleaned parameter changes that the pipeline applies per frame, as ``update()`` keywords."""
        return {
            self.by_name[n].config_field: v
            for n, v in changes.items()
            if self.by_name[n].config_field in self.live_config_fields
        }

    def declare(self, node) -> Dict[str, Any]:
        """Declare every parameter on ``node`` (an rclpy Node); return the values it starts with (overrides applied)."""
        for spec in self.specs:
            node.declare_parameter(spec.name, spec.default, descriptor(spec))
        return {spec.name: node.get_parameter(spec.name).value for spec in self.specs}


def descriptor(spec: ParamSpec):
    """The ``rcl_interfaces/ParameterDescriptor`` of a parameter: type, description, range, read-only flag."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType

    types = {
        bool: ParameterType.PARAMETER_BOOL,
        int: ParameterType.PARAMETER_INTEGER,
        float: ParameterType.PARAMETER_DOUBLE,
        str: ParameterType.PARAMETER_STRING,
    }
    desc = ParameterDescriptor(
        name=spec.name,
        type=types[spec.type],
        description=spec.description,
        read_only=spec.applies == STARTUP,
    )
    notes = []
    if spec.choices:
        notes.append(f"one of: {', '.join(spec.choices)}")
    if spec.applies == CONFIGURE:
        notes.append("changes only while unconfigured (lifecycle cleanup, set, configure, activate)")
    desc.additional_constraints = "; ".join(notes)
    if spec.low is not None and spec.type is float:
        low, high = float(spec.low), float(spec.high)
        desc.floating_point_range = [FloatingPointRange(from_value=low, to_value=high, step=0.0)]
    elif spec.low is not None and spec.type is int:
        desc.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=1)]
    return desc
