#!/usr/bin/env bash
# The whole test suite: installs what is missing, then formatting, lints, and every test (unit, property,
# integration with real ffmpeg/ffprobe/GStreamer/xmllint clients, and hls.js/dash.js in Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/marquee/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

scripts/install-deps.sh --test
[[ -x "$HOME/.cargo/bin/cargo" ]] && export PATH="$HOME/.cargo/bin:$PATH"
# The Node that scripts/install-node.sh installed where the machine's is older than 20 (Debian 12's is 18).
[[ -x "$HOME/.cache/marquee-tools/node/bin/node" ]] && export PATH="$HOME/.cache/marquee-tools/node/bin:$PATH"

echo "== the web app: type check and build (embedded in the binary the tests below build)"
scripts/build-web-app.sh
echo "== no import circles between the files of a crate"
python3 scripts/import-cycles.py
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== browser harness: unit tests, and proof that it fails on broken media"
node --test browser-tests/lib/
bash browser-tests/selftest.sh
echo "== cargo test"
cargo test --workspace --locked
echo "== the web app in Chromium (playwright-core + axe-core, against a marquee up of its own)"
MARQUEE_BIN="$CARGO_TARGET_DIR/debug/marquee" node --test web-app/frontend/e2e/
