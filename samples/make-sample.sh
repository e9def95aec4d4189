#!/usr/bin/env bash
# Generates test media with ffmpeg: a moving test pattern with grain (so the encoder has real work) and a
# tone. No media is kept in git; tests and the demo make what they need with this script.
#
#   samples/make-sample.sh --out FILE [--duration S] [--size WxH] [--fps N] [--rotate DEG]
#                          [--no-audio] [--no-video] [--channels N] [--vfr] [--pix-fmt FMT]
# (odd picture sizes need --pix-fmt yuv444p: 4:2:0 H.264 cannot carry them and ffmpeg would crop)
set -euo pipefail

out="" duration=20 size=1920x1080 fps=30 rotate=0 audio=1 video=1 channels=2 vfr=0 pix_fmt=yuv420p
while (( $# )); do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --fps) fps=$2; shift 2 ;;
    --rotate) rotate=$2; shift 2 ;;
    --channels) channels=$2; shift 2 ;;
    --no-audio) audio=0; shift ;;
    --no-video) video=0; shift ;;
    --vfr) vfr=1; shift ;;
    --pix-fmt) pix_fmt=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n "$out" ]] || { echo "error: --out FILE is required" >&2; exit 2; }
command -v ffmpeg >/dev/null || { echo "error: ffmpeg is missing; run scripts/install-deps.sh" >&2; exit 1; }
if (( rotate )) && ! command -v python3 >/dev/null; then
  echo "error: --rotate needs python3 (samples/set-rotation.py); run scripts/install-deps.sh --test" >&2
  exit 1
fi

args=(-hide_banner -loglevel error -y)
maps=()
if (( video )); then
  w=${size%x*} h=${size#*x}
  # testsrc2 only makes even sizes; crop after converting so 4:4:4 keeps an odd size exactly.
  filter="format=${pix_fmt},crop=${w}:${h},noise=alls=10:allf=t"
  # Variable frame rate: drop every third frame of a 5-frame cycle, keeping the original timestamps.
  (( vfr )) && filter="$filter,select='not(eq(mod(n\,5)\,2))'"
  args+=(-f lavfi -i "testsrc2=size=$(( (w + 1) / 2 * 2 ))x$(( (h + 1) / 2 * 2 )):rate=${fps}:duration=${duration},${filter}")
fi
if (( audio )); then
  args+=(-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=${duration}")
fi
if (( video )); then
  args+=(-c:v libx264 -preset veryfast -crf 20 -pix_fmt "$pix_fmt")
  (( vfr )) && args+=(-fps_mode vfr)
fi
(( audio )) && args+=(-c:a aac -b:a 192k -ac "$channels")
ffmpeg "${args[@]}" -movflags +faststart "$out"
if (( video && rotate )); then
  python3 "$(dirname "$0")/set-rotation.py" "$out" "$rotate"
fi
