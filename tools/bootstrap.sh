#!/usr/bin/env bash
# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
#
# Creates everything `make test` / `make demo` need, and does nothing when it is already there:
#   1. .venv with exactly the versions in requirements.txt (re-run only when requirements.txt changes)
#   2. the ROS wheels' CMake exports pointed at this machine's Python and numpy headers
#   3. `colcon build` of this package into install/ (re-run only when its inputs change)
#   4. .venv/bin/grounded-sam, running this checkout's CLI (rewritten only when its content changes)
# Afterwards: `source .venv/bin/activate && source install/setup.bash`; `grounded-sam --help` works after the first.
#
# Environment: PYTHON (interpreter for the venv, default python3.11 or python3), FORCE=1 to redo every step.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PIP_STAMP="$VENV/.requirements.sha256"
BUILD_STAMP="$ROOT/install/.grounded_sam_ros.inputs.sha256"

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }
T0=$(now)

# pip prints a warning for every package its file:// extra indexes lack; keep only what matters.
quiet_pip() {
  local status
  set +e
  "$VENV/bin/python" -m pip "$@" 2>&1 | grep -v -e 'is ignored: it is neither a file nor a directory'
  status=("${PIPESTATUS[@]}")
  set -e
  return "${status[0]}"
}

# --- 1. Virtual environment ----------------------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
  PY="${PYTHON:-}"
  if [[ -z "$PY" ]]; then
    if command -v python3.11 >/dev/null 2>&1; then PY=python3.11; else PY=python3; fi
  fi
  command -v "$PY" >/dev/null 2>&1 || die "no Python interpreter '$PY': install Python 3.11 or set PYTHON=/path/to/python3.11"
  PYVER="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  [[ "$PYVER" == "3.11" ]] || die "$PY is Python $PYVER, but the ROS 2 Kilted wheels in requirements.txt are built for \
CPython 3.11: install it, or run PYTHON=/path/to/python3.11 make setup"
  log "creating .venv with $PY ($PYVER)"
  "$PY" -m venv "$VENV"
fi

REQ_HASH="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [[ "${FORCE:-0}" == 1 || ! -f "$PIP_STAMP" || "$(cat "$PIP_STAMP")" != "$REQ_HASH" ]]; then
  FIND_LINKS=()
  [[ -d /opt/wheels ]] && FIND_LINKS=(--find-links /opt/wheels)
  # torch first, alone: torch==2.13.0 resolves to the local CPU wheel; any other spec drags in GBs of CUDA
  log "installing torch==2.13.0 (CPU) into .venv"
  quiet_pip install --quiet "${FIND_LINKS[@]}" -c requirements.txt "torch==2.13.0"
  log "installing requirements.txt into .venv"
  quiet_pip install --quiet "${FIND_LINKS[@]}" -r requirements.txt
  if "$VENV/bin/python" -c 'import torch, sys; sys.exit(0 if torch.version.cuda is None else 1)'; then :; else
    die "torch in .venv is a CUDA build; reinstall with: .venv/bin/pip install --force-reinstall torch==2.13.0"
  fi
  echo "$REQ_HASH" > "$PIP_STAMP"
  rm -f "$BUILD_STAMP"  # new ROS wheels: rebuild the interfaces
else
  log ".venv is up to date with requirements.txt"
fi

# --- 2. Point the ROS wheels' CMake exports at this machine's headers ------------------------------------------------
# The wheels were built in a manylinux container; their *Export.cmake files name that container's paths.
"$VENV/bin/python" - "$VENV" <<'PY'
import pathlib
import sys
import sysconfig

import numpy

venv = pathlib.Path(sys.argv[1])
replacements = {
    "/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include": numpy.get_include(),
    "/opt/python/cp311-cp311/include/python3.11": sysconfig.get_paths()["include"],
}
fixed = 0
for path in (venv / "share").rglob("*.cmake"):
    text = path.read_text(errors="surrogateescape")
    if not any(old in text for old in replacements):
        continue
    for old, new in replacements.items():  # numpy's path first: it is longer and not a prefix of the other
        text = text.replace(old, new)
    path.write_text(text, errors="surrogateescape")
    fixed += 1
if fixed:
    print(f"[setup] pointed {fixed} CMake export files at {replacements[next(iter(replacements))]} and "
          f"{sysconfig.get_paths()['include']}")
PY

# --- 3. colcon build into install/ ---------------------------------------------------------------------------------
# Inputs of the build: hash their names and contents; rebuild only when that hash changes.
inputs_hash() {
  {
    printf '%s\n' package.xml CMakeLists.txt
    find msg srv scripts launch config grounded_sam_ros -type f \
      -not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null | LC_ALL=C sort
  } | while IFS= read -r f; do [[ -f "$f" ]] && { printf '%s\0' "$f"; cat "$f"; }; done | sha256sum | cut -d' ' -f1
}
IN_HASH="$(inputs_hash)"
if [[ "${FORCE:-0}" == 1 || ! -f "$BUILD_STAMP" || "$(cat "$BUILD_STAMP")" != "$IN_HASH" \
      || ! -f install/setup.bash ]]; then
  log "colcon build (interfaces + Python package + executables) into install/"
  # shellcheck disable=SC1091
  source "$VENV/bin/activate"
  # rosidl finds its type support generators through the ament index (AMENT_PREFIX_PATH), CMake packages through
  # CMAKE_PREFIX_PATH; colcon warns that .venv has no local_setup file, which is expected (filtered below).
  export AMENT_PREFIX_PATH="$VIRTUAL_ENV" CMAKE_PREFIX_PATH="$VIRTUAL_ENV"
  colcon --log-base log build \
    --base-paths "$ROOT" --build-base build --install-base install \
    --packages-select grounded_sam_ros \
    --event-handlers console_cohesion- console_stderr- summary+ status- \
    --cmake-args -DPython3_EXECUTABLE="$VIRTUAL_ENV/bin/python" -DBUILD_TESTING=OFF \
    2> >(grep -v "AMENT_PREFIX_PATH doesn't contain any 'local_setup" >&2) \
    || die "colcon build failed: see log/latest_build/grounded_sam_ros/stdout_stderr.log"
  echo "$IN_HASH" > "$BUILD_STAMP"
else
  log "install/ is up to date"
fi

# --- 4. `grounded-sam` on the venv's PATH (a shim running this checkout's CLI; no pip install) ------------------------
bash "$ROOT/tools/install_cli.sh" "$VENV"

[[ -x install/grounded_sam_ros/lib/grounded_sam_ros/grounded_sam_node ]] \
  || die "install/grounded_sam_ros/lib/grounded_sam_ros/grounded_sam_node is missing after the build"
log "ready in $(( $(now) - T0 )) s: source .venv/bin/activate && source install/setup.bash"
