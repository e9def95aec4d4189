#!/usr/bin/env bash
# Installs Garage, the S3 server the storage tests run against, into a cached location, once.
#   scripts/install-garage.sh        builds garage 2.5.0 with cargo unless it is already there
# Garage is AGPL-3.0: we only run it as a separate server for tests, never link it.
# The build takes 13 to 21 minutes and about 1.5 GB of memory on 2 cores; the binary links only libc.
set -euo pipefail

version="2.5.0"
root="$HOME/.cache/marquee-tools"
garage="$root/bin/garage"

# `garage --version` prints `garage cargo:2.5.0 [features: …]` (or `garage v2.5.0` for release builds).
if [[ -x "$garage" ]] && "$garage" --version 2>/dev/null | grep -qE "[: v]${version//./\\.}([^0-9]|\$)"; then
  echo "garage $version is already installed at $garage"
  exit 0
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "error: cargo is needed to build garage; run scripts/install-deps.sh first" >&2
    exit 1
  fi
fi

echo "Building garage $version into $root (13 to 21 minutes on 2 cores)…"
mkdir -p "$root"
# A private target dir so this build never contends with the workspace's target dir lock.
CARGO_TARGET_DIR="$root/build" cargo install --locked garage --version "$version" --root "$root"
rm -rf "$root/build"
"$garage" --version
