# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node's parameter table and rules (grounded_sam_ros.ros.params), the YAML file and the launch file.

Pure tests: no rclpy.init, no DDS.
"""

from __future__ import annotations

import dataclasses
import math
import py_compile
import sys
import types
from pathlib import Path

import pytest
import yaml

from grounded_sam_ros.config import PipelineConfig
from grounded_sam_ros.ros import params

ROOT = Path(__file__).resolve().parents[1]
CONFIG_YAML = ROOT / "config" / "grounded_sam.yaml"
LAUNCH_FILE = ROOT / "launch" / "grounded_sam.launch.py"

REQUIRED = {
    "query",
    "detector_model",
    "segmenter_model",
    "device",
    "dtype",
    "box_threshold",
    "text_threshold",
    "nms_iou",
    "max_detections",
    "multimask",
    "compressed_input",
    "image_reliability",
    "local_files_only",
    "max_rate",
    "autostart",
}


def test_table_has_every_required_parameter_once():
    names = [spec.name for spec in params.PARAMS]
    assert len(names) == len(set(names))
    assert REQUIRED <= set(names)


def test_config_fields_exist_and_defaults_match_pipeline_config():
    fields = {f.name: f.default for f in dataclasses.fields(PipelineConfig)}
    for spec in params.PARAMS:
        if spec.config_field:
            assert spec.config_field in fields, spec.name
            assert spec.default == fields[spec.config_field], spec.name
            assert type(spec.default) is type(fields[spec.config_field]), spec.name
    assert params.config_from_params({}) == PipelineConfig()


def test_live_fields_are_the_ones_the_pipeline_updates_without_reloading():
    from grounded_sam_ros.pipeline import RUNTIME_FIELDS

    assert set(params.LIVE_CONFIG_FIELDS) <= RUNTIME_FIELDS
    reload_fields = {s.config_field for s in params.PARAMS if s.config_field and s.applies == params.CONFIGURE}
    assert not reload_fields & RUNTIME_FIELDS


def test_yaml_lists_every_parameter_with_its_default():
    content = yaml.safe_load(CONFIG_YAML.read_text())
    values = content["grounded_sam"]["ros__parameters"]
    assert values == params.defaults()
    # Types as ROS will read them (a float written as 1 would be an integer parameter)
    for name, value in values.items():
        assert type(value) is params.SPECS[name].type, name


def test_config_from_params_maps_values():
    config = params.config_from_params(
        {"detector_model": " /models/gd ", "box_threshold": 0.5, "max_detections": 3, "device": "cpu", "query": "x"}
    )
    assert config.detector_model == "/models/gd"
    assert config.box_threshold == 0.5
    assert config.max_detections == 3
    assert config.device == "cpu"


def test_settings_from_params_normalises_the_query():
    settings = params.settings_from_params(
        {"query": "Red  Cup, person .", "max_rate": 2, "image_reliability": "reliable"}
    )
    assert settings.query == "red cup . person"
    assert settings.max_rate == 2.0 and isinstance(settings.max_rate, float)
    assert settings.image_reliability == "reliable"


@pytest.mark.parametrize(
    "name, value, needle",
    [
        ("box_threshold", 1.5, "[0.0, 1.0]"),
        ("box_threshold", -0.1, "[0.0, 1.0]"),
        ("text_threshold", math.nan, "finite"),
        ("nms_iou", "high", "number"),
        ("max_detections", -1, "[0, 1000]"),
        ("max_detections", 2.5, "integer"),
        ("max_detections", True, "integer"),
        ("multimask", 1, "true or false"),
        ("image_reliability", "sometimes", "best_effort, reliable"),
        ("dtype", "int8", "float32"),
        ("device", "gpu", "cuda"),
        ("max_rate", -1.0, "[0.0, 1000.0]"),
        ("query", "...", "no phrase"),
        ("query", "a" * 10_000, "characters"),
        ("query", 5, "string"),
        ("query", "cup \ufffd\ufffd", "UTF-8"),
        ("no_such_parameter", 1, "unknown parameter"),
    ],
)
def test_bad_values_are_rejected_with_a_reason(name, value, needle):
    with pytest.raises(ValueError) as info:
        params.check_changes(params.defaults(), {name: value}, configured=False)
    assert needle in str(info.value)


def test_blank_query_means_no_query_and_queries_are_normalised():
    assert params.check_changes(params.defaults(), {"query": "   "}, configured=True) == {"query": ""}
    assert params.check_changes(params.defaults(), {"query": "Cup, CUP . dog"}, configured=True) == {
        "query": "cup . dog"
    }


def test_model_parameters_change_only_while_unconfigured():
    current = params.defaults()
    with pytest.raises(ValueError, match="cleanup") as info:
        params.check_changes(current, {"detector_model": "/models/other"}, configured=True)
    assert "configure" in str(info.value)
    assert params.check_changes(current, {"detector_model": "/models/other"}, configured=False) == {
        "detector_model": "/models/other"
    }
    # Setting a configure parameter to the value it already has is harmless
    assert params.check_changes(current, {"device": current["device"]}, configured=True) == {"device": "auto"}
    for name, value in (("image_reliability", "reliable"), ("compressed_input", True), ("dtype", "float32")):
        with pytest.raises(ValueError, match="cleanup"):
            params.check_changes(current, {name: value}, configured=True)


def test_startup_parameter_is_read_only():
    with pytest.raises(ValueError, match="start-up"):
        params.check_changes(params.defaults(), {"autostart": False}, configured=False)


def test_one_bad_value_rejects_the_whole_change():
    with pytest.raises(ValueError, match="box_threshold"):
        params.check_changes(params.defaults(), {"text_threshold": 0.2, "box_threshold": 2.0}, configured=True)


def test_live_updates_keep_only_per_frame_pipeline_fields():
    cleaned = params.check_changes(
        params.defaults(),
        {"box_threshold": 0.5, "max_detections": 4, "multimask": True, "query": "cup", "max_rate": 3.0},
        configured=True,
    )
    assert params.live_updates(cleaned) == {"box_threshold": 0.5, "max_detections": 4, "multimask": True}


def test_descriptors_carry_types_ranges_and_read_only():
    pytest.importorskip("rcl_interfaces.msg")
    from rcl_interfaces.msg import ParameterType

    box = params.descriptor(params.SPECS["box_threshold"])
    assert box.type == ParameterType.PARAMETER_DOUBLE
    assert (box.floating_point_range[0].from_value, box.floating_point_range[0].to_value) == (0.0, 1.0)
    top_k = params.descriptor(params.SPECS["max_detections"])
    assert top_k.type == ParameterType.PARAMETER_INTEGER
    assert (top_k.integer_range[0].from_value, top_k.integer_range[0].to_value) == (0, 1000)
    assert params.descriptor(params.SPECS["autostart"]).read_only
    assert not params.descriptor(params.SPECS["detector_model"]).read_only
    assert "cleanup" in params.descriptor(params.SPECS["detector_model"]).additional_constraints
    assert "reliable" in params.descriptor(params.SPECS["image_reliability"]).additional_constraints
    assert params.descriptor(params.SPECS["query"]).type == ParameterType.PARAMETER_STRING
    assert params.descriptor(params.SPECS["multimask"]).type == ParameterType.PARAMETER_BOOL


# --- launch file (launch / launch_ros are not installable here: compile it, and run its YAML logic on stubs) ------


def test_launch_file_compiles(tmp_path):
    py_compile.compile(str(LAUNCH_FILE), doraise=True, cfile=str(tmp_path / "launch.pyc"))


@pytest.fixture
def launch_module(monkeypatch):
    """The launch file imported with stand-ins for launch, launch_ros and ament_index_python."""

    def module(name, **attrs):
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, mod)
        return mod

    class Action:
        def __init__(self, *args, **kwargs):
            self.args, self.kwargs = args, kwargs

    module("launch", LaunchDescription=lambda entities: list(entities))
    module("launch.actions", DeclareLaunchArgument=Action, OpaqueFunction=Action)
    module("launch.conditions", IfCondition=Action)
    module("launch.substitutions", LaunchConfiguration=Action)
    module("launch_ros")
    module("launch_ros.actions", LifecycleNode=Action, Node=Action)
    module("ament_index_python")
    module("ament_index_python.packages", get_package_share_directory=lambda package: str(ROOT))
    namespace = {"__name__": "grounded_sam_launch", "__file__": str(LAUNCH_FILE)}
    exec(compile(LAUNCH_FILE.read_text(), str(LAUNCH_FILE), "exec"), namespace)
    return types.SimpleNamespace(**namespace)


def test_launch_reads_this_nodes_parameters_from_the_yaml(launch_module, tmp_path):
    assert launch_module._file_parameters(str(CONFIG_YAML)) == params.defaults()
    other = tmp_path / "ns.yaml"
    other.write_text(
        "/**:\n  ros__parameters:\n    device: cpu\n"
        "/robot1/grounded_sam:\n  ros__parameters:\n    query: cup\n"
        "other_node:\n  ros__parameters:\n    query: nope\n"
    )
    assert launch_module._file_parameters(str(other)) == {"device": "cpu", "query": "cup"}


def test_launch_declares_the_documented_arguments(launch_module):
    entities = launch_module.generate_launch_description()
    declared = {e.args[0]: e.kwargs.get("default_value") for e in entities if "default_value" in e.kwargs}
    for name in ("namespace", "image_topic", "query", "params_file", "detector_model", "segmenter_model", "device"):
        assert name in declared
    assert declared["params_file"] == str(CONFIG_YAML)
    assert declared["image_topic"] == "image"
