# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""One progress style for every command: ``desc: count/total unit, rate, ETA`` on stderr.

On a terminal it is a tqdm bar redrawn in place. When stderr is not a terminal (CI logs, ``2> file``, pipes) there is
no bar: one plain line every ``interval_s`` seconds (default 10, ``GSR_PROGRESS_INTERVAL`` overrides it) and a final
line on exit, so logs get a few readable lines instead of thousands of carriage returns.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Optional, TextIO

from tqdm import tqdm

_BAR_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}, {rate_fmt}]"
_BAR_FORMAT_NO_TOTAL = "{desc}: {n_fmt} {unit} [{elapsed}, {rate_fmt}]"


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """Progress of a loop over ``total`` items (None when unknown), used as a context manager.

    ``update(n)`` after each item, ``write(line)`` for a result line on stdout that does not break the bar.
    ``stream`` (default stderr) and ``interval_s`` (plain-line period when the stream is not a terminal) are for tests
    and special callers.
    """

    def __init__(
        self,
        total: Optional[int],
        desc: str,
        unit: str = "img",
        *,
        stream: Optional[TextIO] = None,
        interval_s: Optional[float] = None,
    ) -> None:
        self.total = None if total is None else int(total)
        self.desc = desc
        self.unit = unit
        self.n = 0
        self._stream = stream or sys.stderr
        if interval_s is None:
            interval_s = float(os.environ.get("GSR_PROGRESS_INTERVAL", "10"))
        self._interval = interval_s
        self._start = time.monotonic()
        self._last_line = self._start
        self._bar: Optional[tqdm] = None
        self._closed = False
        isatty = getattr(self._stream, "isatty", None)
        if isatty is not None and isatty():
            self._bar = tqdm(
                total=self.total,
                desc=desc,
                unit=unit,
                file=self._stream,
                dynamic_ncols=True,
                bar_format=_BAR_FORMAT if self.total is not None else _BAR_FORMAT_NO_TOTAL,
            )

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last_line >= self._interval:
            self._last_line = now
            self._print_line()

    def write(self, line: str) -> None:
        """Print ``line`` on stdout without garbling the bar."""
        if self._bar is not None:
            tqdm.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def line(self) -> str:
        """The plain progress line: ``desc: 12/100 img, 3.1 img/s, ETA 00:28``."""
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rate = self.n / elapsed
        count = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
        text = f"{self.desc}: {count} {self.unit}, {rate:.2f} {self.unit}/s"
        if self.total is not None and self.n < self.total:
            eta = _clock((self.total - self.n) / rate) if rate > 0 else "?"
            text += f", ETA {eta}"
        else:
            text += f", {_clock(elapsed)} elapsed"
        return text

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        else:
            self._print_line()

    def _print_line(self) -> None:
        print(self.line(), file=self._stream, flush=True)
