# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Files in and out, shared by every command (no ROS needed).

- :mod:`.progress`: one progress style for every command.
- :mod:`.sources`: frames from image files, folders, globs, videos and rosbag2 files, with stable keys.
- :mod:`.video`: MP4 reading and writing (PyAV).
- :mod:`.bags`: rosbag2 reading and writing (rosbags; sqlite3 and mcap), our messages in the typestore.
- :mod:`.coco`: resumable COCO instances JSON writer.
"""
