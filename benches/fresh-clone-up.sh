#!/usr/bin/env bash
# Minutes from the README's first command (scripts/up.sh) in a fresh clone to the sample title playing in
# Chromium, and where the time goes: install-deps, the web app's npm ci + build, cargo's release build, then
# `marquee up` until the sample is transcoded and its first frame is on screen.
#   benches/fresh-clone-up.sh [--cold]   --cold: an empty CARGO_TARGET_DIR (what a new machine builds);
#                                        otherwise the usual ~/.cache/marquee/target
# Apt packages, Rust, Node and npm's cache are whatever this machine has (a new machine also downloads those).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/marquee-fresh.XXXXXX)"
trap 'kill "${up_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
if [[ "${1:-}" == "--cold" ]]; then
  export CARGO_TARGET_DIR="$work/target"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/marquee/target}"
fi
export PATH="$HOME/.cache/marquee-tools/node/bin:$HOME/.cargo/bin:$PATH"
stamp() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(stamp)" 'BEGIN { printf "%.1f", b - a }'; }

git clone -q "$repo" "$work/clone"
cd "$work/clone"
t0=$(stamp)
scripts/install-deps.sh > "$work/install.log" 2>&1
echo "install-deps:             $(since "$t0") s"
t1=$(stamp)
scripts/build-web-app.sh > "$work/web.log" 2>&1
echo "web app (npm ci + build): $(since "$t1") s"
t2=$(stamp)
cargo build --release --locked -p marquee > "$work/cargo.log" 2>&1
echo "cargo build --release:    $(since "$t2") s"
t3=$(stamp)
# What scripts/up.sh execs, on free ports and a new data directory.
"$CARGO_TARGET_DIR/release/marquee" up --data-dir "$work/data" --listen 127.0.0.1:0 --media-listen 127.0.0.1:0 \
  > "$work/up.log" 2>&1 &
up_pid=$!
MARQUEE_UP_LOG="$work/up.log" node --input-type=module -e "
  import { readFileSync } from 'node:fs';
  const { launchBrowser, waitFor, api } = await import('$work/clone/web-app/frontend/e2e/harness.mjs');
  const log = () => readFileSync(process.env.MARQUEE_UP_LOG, 'utf8');
  const url = (await waitFor('marquee up', () => /Marquee is up on (http:\S+)/.exec(log()), { timeoutMs: 120000 }))[1];
  const title = await waitFor('the sample title', async () => {
    const t = (await api(url, 'GET', '/v1/titles')).items.find((x) => x.title === 'Marquee Sample');
    return t && (await api(url, 'GET', '/v1/titles/' + t.id)).artwork?.poster_url && t;
  }, { timeoutMs: 900000, everyMs: 500 });
  const browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(url + '/watch/' + title.id);
  await page.waitForFunction(() => { const v = document.querySelector('video'); return v && v.currentTime > 1; }, undefined, { timeout: 120000 });
  await browser.close();
"
echo "marquee up → sample plays: $(since "$t3") s"
echo "total:                     $(since "$t0") s"
