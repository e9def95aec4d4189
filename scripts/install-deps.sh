#!/usr/bin/env bash
# Installs what Marquee needs on Debian 12 that is not there yet, and nothing else.
#   scripts/install-deps.sh          build + run: Rust, GStreamer 1.22 (dev + plugins), ffmpeg, Node.js 20.19 or
#                                    newer (the web app's build; scripts/build-web-app.sh)
#   scripts/install-deps.sh --test   also the test clients: xmllint, Chromium, python3 (samples/set-rotation.py),
#                                    PostgreSQL (the control API tests start throwaway servers of their own),
#                                    the npm players, schemathesis (PyPI, in a virtualenv)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

packages=(
  pkg-config build-essential curl ca-certificates
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  gstreamer1.0-libav gstreamer1.0-tools ffmpeg
)
# Debian's nodejs is 18; its npm fetches a newer Node below (scripts/install-node.sh) for the web app's build.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
if (( want_test )); then
  packages+=(libxml2-utils chromium python3 python3-venv postgresql postgresql-contrib)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "Installing missing Debian packages: ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust: Debian 12's rustc is too old for gstreamer-rs (needs 1.92); use rustup's toolchain.
if ! command -v cargo >/dev/null 2>&1; then
  if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "Installing the Rust toolchain with rustup (Debian's rustc is too old)…"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
rustc_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if (( rustc_minor < 92 )); then
  echo "error: Rust 1.92 or newer is needed (have $(rustc --version)); run: rustup update stable" >&2
  exit 1
fi
# Node 20.19 or newer for the web app's build and the browser tests (a no-op where `node` already is).
scripts/install-node.sh
[[ -x "$HOME/.cache/marquee-tools/node/bin/node" ]] && export PATH="$HOME/.cache/marquee-tools/node/bin:$PATH"
if (( want_test )); then
  for c in rustfmt clippy-driver; do
    command -v "$c" >/dev/null 2>&1 || rustup component add rustfmt clippy
  done
  # The browser tests' players and driver, pinned in browser-tests/package-lock.json.
  if [[ -f browser-tests/package-lock.json && ( ! -d browser-tests/node_modules || browser-tests/package-lock.json -nt browser-tests/node_modules/.package-lock.json ) ]]; then
    echo "Installing the browser-test players (npm ci)…"
    npm ci --prefix browser-tests --no-audit --no-fund --loglevel=error
  fi
  # The storage tests' S3 server (Garage), built once into ~/.cache/marquee-tools; a no-op when it is there.
  scripts/install-garage.sh
  # schemathesis, for the control API's OpenAPI test (control-api/tests/schemathesis.rs), pinned, in a
  # virtualenv of its own outside the clone. 4.x reads OpenAPI 3.1 natively (3.x needed an experimental flag).
  schemathesis_version=4.32.5
  st_venv="$HOME/.cache/marquee-tools/schemathesis"
  if [[ "$("$st_venv/bin/st" --version 2>/dev/null)" != *" $schemathesis_version" ]]; then
    echo "Installing schemathesis $schemathesis_version into $st_venv…"
    rm -rf "$st_venv"
    python3 -m venv "$st_venv"
    "$st_venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
  fi
fi
