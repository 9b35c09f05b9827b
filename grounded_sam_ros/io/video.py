# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Video files in and out with PyAV (FFmpeg): decode any format FFmpeg reads, write H.264 MP4."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional, Tuple

import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts")


def iter_video(path: str | Path) -> Iterator[Tuple[int, float, np.ndarray]]:
    """Decode the first video stream of ``path``: ``(index, stamp_s, image)`` per frame.

    ``index`` counts decoded frames from 0, ``stamp_s`` is the frame's presentation time in seconds (``index / fps``
    when the container has no timestamps), ``image`` is ``HxWx3 uint8 RGB``. Raises ``ValueError`` when the file
    cannot be opened or has no video stream; decoding errors part-way raise ``ValueError`` at that frame.
    """
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise ValueError(f"cannot open video {path}: {exc}") from exc
    with container:
        if not container.streams.video:
            raise ValueError(f"{path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate) if stream.average_rate else 0.0
        index = 0
        try:
            for frame in container.decode(stream):
                stamp = frame.time
                if stamp is None:
                    stamp = index / fps if fps else float(index)
                yield index, float(stamp), frame.to_ndarray(format="rgb24")
                index += 1
        except av.FFmpegError as exc:
            raise ValueError(f"{path}: cannot decode frame {index}: {exc}") from exc


def count_video_frames(path: str | Path) -> Optional[int]:
    """The frame count the container declares (None when it does not say or cannot be opened)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            frames = int(container.streams.video[0].frames or 0)
    except (av.FFmpegError, OSError):
        return None
    return frames or None


class VideoWriter:
    """Write ``HxWx3 uint8 RGB`` frames to an H.264 MP4 at ``fps`` frames per second.

    ``crf`` is x264's quality (0 = best, 18 default, 51 worst) with yuv420p pixels (plays everywhere; odd sizes are
    padded by one edge row/column). ``lossless=True`` writes RGB H.264 at crf 0 instead: bit-exact, larger, and not
    every player reads it. Frames must all have the size of the first. Use as a context manager or call ``close()``.
    """

    def __init__(self, path: str | Path, fps: float, *, crf: int = 18, lossless: bool = False) -> None:
        import av

        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be in 0..51, got {crf}")
        self.path = Path(path)
        self._lossless = lossless
        self._container = av.open(str(self.path), mode="w")
        from fractions import Fraction

        rate = Fraction(fps).limit_denominator(1001)
        if lossless:
            self._stream = self._container.add_stream("libx264rgb", rate=rate)
            self._stream.pix_fmt = "rgb24"
            self._stream.options = {"crf": "0", "preset": "medium"}
        else:
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(int(crf)), "preset": "medium"}
        self._size: Optional[Tuple[int, int]] = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        """Append one ``HxWx3 uint8 RGB`` frame."""
        import av

        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"frames must be HxWx3 uint8 RGB, got {image.dtype} {image.shape}")
        if not self._lossless and (image.shape[0] % 2 or image.shape[1] % 2):
            # yuv420p needs even sizes: repeat the last row/column
            image = np.pad(image, ((0, image.shape[0] % 2), (0, image.shape[1] % 2), (0, 0)), mode="edge")
        if self._size is None:
            self._size = image.shape[:2]
            self._stream.height, self._stream.width = self._size
        elif image.shape[:2] != self._size:
            raise ValueError(
                f"frame {self.frames} is {image.shape[1]}x{image.shape[0]}, the video is "
                f"{self._size[1]}x{self._size[0]}"
            )
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self._container is None:
            return
        if self._size is not None:
            for packet in self._stream.encode():  # flush
                self._container.mux(packet)
        self._container.close()
        self._container = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
