#!/usr/bin/env bash
# Sets up what is missing, builds Marquee, generates a 20 s 1080p sample and transcodes it into a CMAF
# ladder with HLS and DASH manifests under out/demo (local directory storage: the embedded default).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/marquee/target}"

scripts/install-deps.sh
[[ -x "$HOME/.cargo/bin/cargo" ]] && export PATH="$HOME/.cargo/bin:$PATH"

echo "== building marquee (release)"
cargo build --release --locked -p marquee
marquee="$CARGO_TARGET_DIR/release/marquee"

mkdir -p out
if [[ ! -s out/sample.mp4 ]]; then
  echo "== generating out/sample.mp4 (20 s, 1920x1080, 30 fps, H.264 + AAC)"
  samples/make-sample.sh --out out/sample.mp4 --duration 20
fi
echo "== transcoding into out/demo"
"$marquee" transcode out/sample.mp4 --out out/demo --force
echo
echo "Play it:  ffplay out/demo/master.m3u8    or    ffplay \"$PWD/out/demo/manifest.mpd\"  (ffmpeg 5.1 reads local MPDs only by absolute path)"
echo "Inspect:  ffprobe -v error -show_streams out/demo/master.m3u8"
