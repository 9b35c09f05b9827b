# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Automatic query (``query_source: auto``): a tagger (RAM, RAM++, BLIP) says what the camera sees, and its tags are
the query of the following frames.

Topics (in the camera's namespace)::

    auto_query   std_msgs/String   out   reliable + transient local: the automatic query, whenever it changes

In ``auto`` mode the tagger runs on the worker, on the first frame and then on the first frame after every
``auto_query_period`` seconds; the query it gives (:func:`grounded_sam_ros.auto_query.build_query`: deduplicated,
``auto_query_exclude`` out, capped at the detector's token window) is used from that frame on. A frame in which the
tagger finds nothing keeps the previous query. A query that arrives on the ``query`` topic (or parameter) while
``query_source`` is ``auto`` is stored but not used: the node logs that once; setting ``query_source`` back to
``topic`` (live) makes it the query again. ``query_source`` may switch to ``auto`` live as well: the tagger then
loads on the worker before the next frame (a pause of a few seconds); the tagger parameters apply at ``configure``.
With several cameras each keeps its own query and period, and all share one loaded tagger.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Optional

from std_msgs.msg import String

from grounded_sam_ros.ros.capabilities.base import Camera, Capability, FrameContext, NodeApi
from grounded_sam_ros.ros.model_store import models_of
from grounded_sam_ros.ros.param_table import CONFIGURE, ParamSpec
from grounded_sam_ros.ros.qos import LATCHED_QOS

PARAMS = (
    ParamSpec(
        "query_source",
        "topic",
        "Where the query comes from: 'topic' (the 'query' topic / parameter) or 'auto' (the tagger's tags, refreshed "
        "every auto_query_period s and published on 'auto_query').",
        choices=("topic", "auto"),
    ),
    ParamSpec(
        "auto_query_period",
        10.0,
        "Seconds between two tagger runs in auto mode (it also runs on the first frame); 0 = every frame.",
        low=0.0,
        high=86400.0,
    ),
    ParamSpec(
        "tagger",
        "ram_plus",
        "Tagger of the auto mode: ram, ram_plus (RAM release checkpoints + tag list), blip (captions' nouns) or "
        "florence2 (<OD> object labels).",
        CONFIGURE,
        choices=("ram", "ram_plus", "blip", "florence2"),
    ),
    ParamSpec(
        "tagger_model",
        "",
        "RAM/RAM++ release checkpoint (.pth) or BLIP Hub id / directory ('' = the family's default).",
        CONFIGURE,
    ),
    ParamSpec("tag_list", "", "RAM: the release's ram_tag_list.txt (required for ram and ram_plus).", CONFIGURE),
    ParamSpec(
        "tag_thresholds",
        "",
        "RAM: the release's ram_tag_list_threshold.txt ('' = tag_threshold for every tag).",
        CONFIGURE,
    ),
    ParamSpec("tag_threshold", 0.68, "RAM: threshold of the tags without one of their own.", CONFIGURE, 0.0, 1.0),
    ParamSpec("auto_query_exclude", "", "Phrases never put in the automatic query, e.g. 'room, floor, wall'."),
    ParamSpec(
        "auto_query_max_tags",
        0,
        "At most this many tags in the automatic query (0 = as many as the detector's token window holds).",
        low=0,
        high=1000,
    ),
)


class AutoQuery(Capability):
    """The tagger-driven query of one camera (see the module docstring)."""

    PARAMS = PARAMS

    def __init__(self, node: NodeApi, camera: Camera) -> None:
        super().__init__(node, camera)
        self._auto: Any = None  # grounded_sam_ros.auto_query.AutoQuery, loaded at configure or on first need
        self._pub = None
        self._query = ""
        self._tags: list = []
        self._last_run: Optional[float] = None
        self._seconds = 0.0
        self._runs = 0
        self._ignored_logged = False

    def _tagger_config(self) -> Any:
        from grounded_sam_ros.auto_query import TaggerConfig

        s = self.node.settings
        return TaggerConfig(
            family=s.tagger,
            model=s.tagger_model,
            tag_list=s.tag_list,
            tag_thresholds=s.tag_thresholds,
            threshold=s.tag_threshold,
        ).validate()

    @classmethod
    def check(cls, values: Dict[str, Any]) -> None:
        ram = values.get("query_source") == "auto" and str(values.get("tagger", "")).startswith("ram")
        if ram and not str(values.get("tag_list", "")).strip():
            raise ValueError("query_source 'auto' with a RAM tagger needs 'tag_list' (the release's ram_tag_list.txt)")

    def configure(self) -> None:
        self._pub = self.publisher(String, "auto_query", LATCHED_QOS)
        if self.node.settings.query_source == "auto":
            self._load()  # fail the transition now on a bad checkpoint or tag list

    def _load(self) -> None:
        from grounded_sam_ros.auto_query import build_auto_query, load_options

        pipeline = self.node.pipeline  # configure: the worker is stopped; later: called on the worker
        config = self._tagger_config()

        def load() -> Any:
            started = time.monotonic()
            auto = build_auto_query(config, load_options(pipeline.config), pipeline.detector)
            self.node.get_logger().info(
                f"auto query: tagger {config.family} loaded in {time.monotonic() - started:.1f} s"
            )
            return auto

        # One tagger for every camera of the node (the node's model store; the per-frame hooks run on the node's
        # one worker thread, never concurrently)
        self._auto = models_of(self.node).get(("tagger", repr(config), pipeline.config.device), load)

    def cleanup(self) -> None:
        super().cleanup()
        self._auto, self._pub, self._query, self._last_run = None, None, "", None

    def on_query(self, query: str) -> None:
        if self.node.settings.query_source == "auto" and not self._ignored_logged:
            self._ignored_logged = True
            self.node.get_logger().info(
                f"query '{query}' stored but not used while query_source is 'auto' (set it to 'topic' to use it)"
            )

    def before_inference(self, frame: FrameContext, query: str) -> str:
        settings = self.node.settings
        if settings.query_source != "auto":
            return query
        now = time.monotonic()
        if self._last_run is None or now - self._last_run >= settings.auto_query_period:
            self._last_run = now
            self._tag(frame)
        return self._query

    def _tag(self, frame: FrameContext) -> None:
        settings = self.node.settings
        if self._auto is None:
            self._load()
        self._auto.exclude = settings.auto_query_exclude
        self._auto.max_tags = settings.auto_query_max_tags
        started = time.monotonic()
        try:
            query, tags = self._auto(frame.image)
        except ValueError:
            raise  # a malformed frame: the node counts it as an invalid input
        except Exception as exc:  # noqa: BLE001 - keep the previous query; the reason is logged and counted
            self.node.count_error(self.camera, f"tagger: {type(exc).__name__}: {exc}")
            self.node.log_throttled(f"auto query: the tagger failed: {exc}", error=True)
            return
        self._seconds, self._runs, self._tags = time.monotonic() - started, self._runs + 1, list(tags.tags)
        if query and query != self._query:
            self._query = query
            if self._pub is not None:
                self._pub.publish(String(data=query))

    def diagnostics(self) -> Dict[str, str]:
        if self.node.settings.query_source != "auto":
            return {}
        return {
            "auto_query": self._query,
            "auto_query_runs": str(self._runs),
            "tagger_seconds": f"{self._seconds:.3f}",
        }

    def warning(self) -> Optional[str]:
        if self.node.settings.query_source == "auto" and self._runs and not self._query:
            return "auto query: the tagger found nothing to look for yet"
        return None
