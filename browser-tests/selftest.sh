#!/usr/bin/env bash
# Self-test of the browser harness: it must PASS a good directory and FAIL
# broken ones.
#
#   (a) good:            an 8 s fixture made now with ffmpeg (2 video renditions
#                        + separate audio, fMP4, master.m3u8 + manifest.mpd)
#                        -> play.mjs must exit 0, both protocols ok and switched
#   (b) broken, each must make play.mjs exit 1 with every protocol failing:
#       b1 init-deleted:   stream0/init.mp4 (one video rendition) removed
#       b2 seg-truncated:  seg_00002.m4s of every video rendition cut in half
#       b3 audio-truncated: seg_00002.m4s of the audio rendition cut in half
#
# Exits non-zero if any outcome is not the expected one.
# Needs: ffmpeg, node >= 20, `npm ci --prefix browser-tests`, chromium.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PLAY_TIMEOUT_S="${PLAY_TIMEOUT_S:-90}"   # per protocol, passed to play.mjs
HARD_LIMIT_S="${HARD_LIMIT_S:-600}"      # per play.mjs run, outer belt and braces

for tool in ffmpeg node; do
  command -v "$tool" >/dev/null || { echo "selftest: $tool not found" >&2; exit 2; }
done
[ -d "$HERE/node_modules/playwright-core" ] || { echo "selftest: run 'npm ci --prefix browser-tests' first" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/marquee-selftest.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# ------------------------------------------------------------------ fixture
# Same layout as the transcoder's: DIR/master.m3u8, DIR/manifest.mpd, one
# folder per rendition with init.mp4 + seg_00001.m4s... The DASH muxer writes
# both manifests over the same CMAF segments (-hls_playlist 1).
make_fixture() {
  local dir="$1"
  mkdir -p "$dir/stream0" "$dir/stream1" "$dir/stream2"
  (cd "$dir" && nice -n 10 ffmpeg -hide_banner -loglevel error -nostdin -y \
    -f lavfi -i testsrc2=size=640x360:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -t 8 \
    -map 0:v -map 0:v -map 1:a \
    -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p \
    -g 60 -keyint_min 60 -sc_threshold 0 -threads 2 \
    -s:v:0 640x360 -b:v:0 800k -maxrate:v:0 900k -bufsize:v:0 1600k \
    -s:v:1 320x180 -b:v:1 250k -maxrate:v:1 300k -bufsize:v:1 500k \
    -c:a aac -b:a 96k -ac 2 \
    -f dash -seg_duration 2 -use_template 1 -use_timeline 1 -dash_segment_type mp4 \
    -adaptation_sets 'id=0,streams=v id=1,streams=a' \
    -init_seg_name 'stream$RepresentationID$/init.mp4' \
    -media_seg_name 'stream$RepresentationID$/seg_$Number%05d$.m4s' \
    -hls_playlist 1 -hls_master_name master.m3u8 \
    manifest.mpd)
}

halve() { truncate -s $(( $(stat -c %s "$1") / 2 )) "$1"; }

# ------------------------------------------------------------------ checks
# check_json EXPECT < json-lines: EXPECT=pass -> every line ok && switched and
# both protocols present; EXPECT=fail -> both protocols present, every line !ok.
check_json() {
  node -e '
    const expect = process.argv[1];
    const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.startsWith("{"));
    const rows = lines.map((l) => JSON.parse(l));
    const protos = rows.map((r) => r.protocol).sort().join(",");
    const bad = [];
    if (protos !== "dash,hls") bad.push(`expected one line each for hls and dash, got [${protos}]`);
    for (const r of rows) {
      if (expect === "pass" && !(r.ok && r.switched)) bad.push(`${r.protocol}: expected ok+switched, got ok=${r.ok} switched=${r.switched} (${r.reason})`);
      if (expect === "fail" && r.ok) bad.push(`${r.protocol}: expected a failure, got ok`);
    }
    if (bad.length) { console.log(bad.join("\n")); process.exit(1); }
  ' "$1"
}

passed=0
failed=0
run_case() { # name expect_rc expect(pass|fail) dir
  local name="$1" want_rc="$2" expect="$3" dir="$4" rc out
  echo "=== case $name: expecting exit $want_rc"
  echo "+ node play.mjs $dir --timeout-s $PLAY_TIMEOUT_S"
  out="$WORK/$name.out"
  timeout -k 10 "$HARD_LIMIT_S" node "$HERE/play.mjs" "$dir" --timeout-s "$PLAY_TIMEOUT_S" >"$out" 2>"$WORK/$name.err"
  rc=$?
  local why=""
  [ "$rc" -eq "$want_rc" ] || why="exit $rc, wanted $want_rc"
  if [ -z "$why" ]; then
    why="$(check_json "$expect" <"$out")" || true
  fi
  if [ -z "$why" ]; then
    # The player's summary in one line; full output only when the outcome is wrong (or SELFTEST_VERBOSE=1).
    echo "--- case $name: OK (exit $rc): $(grep -o '"reason":"[^"]*"' "$out" | tr '\n' ' ')"
    [ -n "${SELFTEST_VERBOSE:-}" ] && sed 's/^/  stdout| /' "$out"
    passed=$((passed + 1))
  else
    sed 's/^/  stderr| /' "$WORK/$name.err" | grep -v 'unexpected operator' | head -40
    sed 's/^/  stdout| /' "$out"
    echo "--- case $name: WRONG OUTCOME: $why"
    failed=$((failed + 1))
  fi
}

echo "selftest: generating fixture with ffmpeg in $WORK/good"
if ! make_fixture "$WORK/good"; then
  echo "selftest: ffmpeg fixture generation failed" >&2
  exit 2
fi
(cd "$WORK/good" && find . -type f | sort | tr '\n' ' '; echo)

cp -r "$WORK/good" "$WORK/init-deleted"
rm "$WORK/init-deleted/stream0/init.mp4"

cp -r "$WORK/good" "$WORK/seg-truncated"
halve "$WORK/seg-truncated/stream0/seg_00002.m4s"
halve "$WORK/seg-truncated/stream1/seg_00002.m4s"

cp -r "$WORK/good" "$WORK/audio-truncated"
halve "$WORK/audio-truncated/stream2/seg_00002.m4s"

run_case good 0 pass "$WORK/good"
run_case init-deleted 1 fail "$WORK/init-deleted"
run_case seg-truncated 1 fail "$WORK/seg-truncated"
run_case audio-truncated 1 fail "$WORK/audio-truncated"

echo "selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
