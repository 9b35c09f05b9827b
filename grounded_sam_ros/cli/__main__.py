# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``python -m grounded_sam_ros.cli`` = the ``grounded-sam`` command."""

import sys

from grounded_sam_ros.cli import main

sys.exit(main())
