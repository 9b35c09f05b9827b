#!/usr/bin/env bash
# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
#
# Puts `grounded-sam` on the PATH of a virtual environment: writes VENV/bin/grounded-sam, a shell shim that runs the
# CLI of the checkout holding that .venv (VENV/../) with VENV's Python, so source edits need no reinstall and nothing
# is pip-installed. Paths are taken from where the shim is invoked, never written into it, so one .venv shared by
# several checkouts through symlinks runs each checkout's own sources. Idempotent: rewrites only when the content
# differs. Usage: tools/install_cli.sh VENV   (tools/bootstrap.sh calls it with .venv)
set -euo pipefail

VENV="${1:?usage: install_cli.sh VENV}"
[[ -d "$VENV/bin" ]] || { echo "[setup] error: $VENV/bin does not exist (make the venv first)" >&2; exit 1; }
SHIM="$VENV/bin/grounded-sam"

read -r -d '' CONTENT <<'SH' || true
#!/bin/sh
# grounded-sam: the command line of the checkout that holds this .venv (written by tools/install_cli.sh).
# It runs that checkout's sources with this venv's Python; delete it to use a `pip install`ed grounded-sam instead.
here=$(dirname "$0")
root=$(cd "$here/../.." && pwd)
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "$here/python" -c \
  'import sys; from grounded_sam_ros.cli import main; sys.exit(main())' "$@"
SH

if [[ -f "$SHIM" && "$(cat "$SHIM")" == "$CONTENT" && -x "$SHIM" ]]; then
  echo "[setup] $SHIM is up to date"
else
  printf '%s\n' "$CONTENT" > "$SHIM.tmp"
  chmod 755 "$SHIM.tmp"
  mv -f "$SHIM.tmp" "$SHIM"
  echo "[setup] wrote $SHIM (grounded-sam for this checkout)"
fi
