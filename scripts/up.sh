#!/usr/bin/env bash
# From a fresh clone to the whole platform running on this machine: installs what is missing (Debian 12),
# builds the web app and marquee (release), and runs `marquee up` (control API with its satellites, a worker,
# origin and edge, on SQLite and a local directory under ~/.local/share/marquee). Arguments go to `marquee up`
# (try --help). Open the address it prints; on first start it prints the admin's password and publishes a
# sample title.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/marquee/target}"

scripts/install-deps.sh
[[ -x "$HOME/.cargo/bin/cargo" ]] && export PATH="$HOME/.cargo/bin:$PATH"
scripts/build-web-app.sh
echo "== building marquee (release)"
cargo build --release --locked -p marquee
exec "$CARGO_TARGET_DIR/release/marquee" up "$@"
