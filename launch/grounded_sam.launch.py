# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Launch the grounded_sam node.

    ros2 launch grounded_sam_ros grounded_sam.launch.py image_topic:=/camera/color/image_raw query:="red cup . person"
    ros2 launch grounded_sam_ros grounded_sam.launch.py namespace:=robot1 params_file:=/path/my_params.yaml \
        detector_model:=/models/grounding-dino-tiny segmenter_model:=/models/sam-vit-base device:=cuda rviz:=true
    ros2 launch grounded_sam_ros grounded_sam.launch.py image_topic:=/camera/color/image_raw use_depth:=true \
        depth_topic:=/camera/aligned_depth_to_color/image_raw \
        depth_info_topic:=/camera/aligned_depth_to_color/camera_info
    ros2 launch grounded_sam_ros grounded_sam.launch.py cameras:="[front, left, right]" query:="person"

Arguments left empty keep the value from ``params_file`` (default: this package's config/grounded_sam.yaml).
With ``cameras`` (a list of namespaces) one node serves every camera with one copy of the models: camera ``front``
is read from ``front/image`` (``front/image/compressed``, ``front/depth/...``) and its outputs go to ``front/...``,
relative to ``namespace``; ``image_topic``/``depth_topic``/``depth_info_topic`` apply to the single-camera case only
(remap per camera with the namespaces of your drivers instead).
The node configures and activates itself (parameter ``autostart``); set it to false in the params file to drive it
with a lifecycle manager instead.
"""

import os

import yaml
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node

NODE_NAME = "grounded_sam"
OVERRIDES = ("query", "detector_model", "segmenter_model", "device", "tracking")
BOOL_OVERRIDES = ("use_depth",)  # 'true' / 'false'; '' keeps the params file's value


def _file_parameters(path):
    """The ros__parameters that apply to this node in a params file, whatever namespace it is launched in.

    Sections named ``grounded_sam`` (with or without a namespace prefix) and the wildcards ``/**`` and ``**`` are
    merged in file order, so one file works with and without the ``namespace`` argument.
    """
    with open(path, encoding="utf-8") as stream:
        content = yaml.safe_load(stream) or {}
    merged = {}
    for key, section in content.items():
        name = str(key).rstrip("/").split("/")[-1]
        if name in (NODE_NAME, "**") and isinstance(section, dict):
            merged.update(section.get("ros__parameters", {}) or {})
    return merged


def _camera_list(text):
    """``[cam1, cam2]`` (or ``cam1, cam2``) -> ['cam1', 'cam2']; ValueError for anything else."""
    value = yaml.safe_load(text if text.startswith("[") else f"[{text}]")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'cameras:={text!r}: expected a list of namespaces, e.g. cameras:="[cam1, cam2]"')
    return value


def _launch_node(context):
    namespace = LaunchConfiguration("namespace").perform(context)
    image_topic = LaunchConfiguration("image_topic").perform(context)
    params_file = LaunchConfiguration("params_file").perform(context)
    parameters = _file_parameters(params_file) if params_file else {}
    for name in OVERRIDES:
        value = LaunchConfiguration(name).perform(context)
        if value:
            parameters[name] = value
    for name in BOOL_OVERRIDES:
        value = LaunchConfiguration(name).perform(context).strip().lower()
        if value in ("true", "false"):
            parameters[name] = value == "true"
        elif value:
            raise ValueError(f"{name}:={value!r}: expected true or false")
    cameras = LaunchConfiguration("cameras").perform(context).strip()
    if cameras:
        parameters["cameras"] = _camera_list(cameras)
    depth_topic = LaunchConfiguration("depth_topic").perform(context)
    depth_info_topic = LaunchConfiguration("depth_info_topic").perform(context)
    node = LifecycleNode(
        package="grounded_sam_ros",
        executable="grounded_sam_node",
        name=NODE_NAME,
        namespace=namespace,
        output="screen",
        emulate_tty=True,
        parameters=[parameters],
        remappings=[
            ("image", image_topic),
            ("image/compressed", image_topic.rstrip("/") + "/compressed"),
            ("depth/image", depth_topic),
            ("depth/camera_info", depth_info_topic),
        ],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        namespace=namespace,
        arguments=["-d", os.path.join(get_package_share_directory("grounded_sam_ros"), "config", "grounded_sam.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return [node, rviz]


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory("grounded_sam_ros"), "config", "grounded_sam.yaml")
    return LaunchDescription(
        [
            DeclareLaunchArgument("namespace", default_value="", description="namespace of the node and its topics"),
            DeclareLaunchArgument(
                "image_topic", default_value="image", description="camera topic (sensor_msgs/Image) to segment"
            ),
            DeclareLaunchArgument(
                "query", default_value="", description="phrases to find, e.g. 'red cup . person' ('' = from params)"
            ),
            DeclareLaunchArgument("params_file", default_value=default_params, description="YAML parameter file"),
            DeclareLaunchArgument(
                "detector_model", default_value="", description="Grounding DINO Hub id or directory ('' = from params)"
            ),
            DeclareLaunchArgument(
                "segmenter_model", default_value="", description="SAM Hub id or directory ('' = from params)"
            ),
            DeclareLaunchArgument(
                "device", default_value="", description="auto, cpu, cuda or cuda:N ('' = from params)"
            ),
            DeclareLaunchArgument(
                "tracking", default_value="", description="off, iou or sam2: ids that follow objects ('' = from params)"
            ),
            DeclareLaunchArgument(
                "use_depth", default_value="", description="true: fuse depth for 3D instances ('' = from params)"
            ),
            DeclareLaunchArgument(
                "depth_topic",
                default_value="depth/image",
                description="depth image (16UC1 mm / 32FC1 m) registered to the colour image, used when use_depth",
            ),
            DeclareLaunchArgument(
                "depth_info_topic", default_value="depth/camera_info", description="CameraInfo of the depth image"
            ),
            DeclareLaunchArgument(
                "cameras",
                default_value="",
                description="camera namespaces served by one node, e.g. '[cam1, cam2]' ('' = from params)",
            ),
            DeclareLaunchArgument("rviz", default_value="false", description="also start RViz showing annotated_image"),
            OpaqueFunction(function=_launch_node),
        ]
    )
