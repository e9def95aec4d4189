#!/usr/bin/env bash
# Benchmark (not a test): the same source and the same 3-rung ladder (1080p 5000k / 720p 3000k / 360p 800k,
# x264 veryfast, GOP 2 s, 3 B-frames, capped ABR with a 0.6 s VBV buffer, AAC 128k) made by
# `marquee transcode --preset bench-3rung` and by one ffmpeg process that decodes once and splits with
# filter_complex into three libx264 encodes writing HLS fMP4. Prints wall time, CPU time and peak memory
# for both with ratios, and PSNR of every rung against the source for both (ffmpeg's psnr filter), two ways:
# "down": the source scaled down to the rung with ffmpeg's bicubic (the issue's metric; it favours ffmpeg,
# whose rungs were made with that same scaler), and "up": the rung scaled up to 1920x1080 with bicubic and
# compared with the untouched source (the same treatment for both sides).
#
#   benches/transcode-vs-ffmpeg.sh [--duration S] [--runs N] [--keep DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/marquee/target}"

duration=30 runs=1 keep=""
while (( $# )); do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cargo build --release --locked -p marquee >/dev/null
marquee="$CARGO_TARGET_DIR/release/marquee"
work=${keep:-$(mktemp -d)}
mkdir -p "$work"
[[ -n "$keep" ]] || trap 'rm -rf "$work"' EXIT

src="$work/source.mp4"
[[ -s "$src" ]] || samples/make-sample.sh --out "$src" --duration "$duration" --size 1920x1080 --fps 30

# Wall time, CPU time (user + sys of the process and its children) and peak RSS, from Python's resource
# module (GNU time is not installed on a fresh Debian).
measure() { # measure NAME CMD... → prints "wall cpu rss_mb"
  python3 - "$@" <<'PY'
import os, resource, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.monotonic() - t0
if p.returncode != 0:
    sys.stderr.write(p.stderr.decode(errors="replace"))
    sys.exit(f"{sys.argv[1]} failed")
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.2f} {ru.ru_utime + ru.ru_stime:.2f} {ru.ru_maxrss / 1024:.0f}")
PY
}

run_marquee() {
  rm -rf "$work/marquee"
  measure marquee "$marquee" transcode "$src" --out "$work/marquee" --preset bench-3rung --encoder x264 --progress none
}

run_ffmpeg() {
  rm -rf "$work/ffmpeg"; mkdir -p "$work/ffmpeg"
  local x264=(-preset veryfast -bf 3 -g 60 -keyint_min 60 -sc_threshold 0 -force_key_frames "expr:gte(t,n_forced*2)")
  measure ffmpeg ffmpeg -hide_banner -nostdin -v error -y -i "$src" \
    -filter_complex "[0:v]split=3[a][b][c];[b]scale=1280:720[b2];[c]scale=640:360[c2]" \
    -map "[a]" -map "[b2]" -map "[c2]" -map 0:a \
    -c:v libx264 "${x264[@]}" \
    -b:v:0 5000k -maxrate:v:0 5000k -bufsize:v:0 3000k \
    -b:v:1 3000k -maxrate:v:1 3000k -bufsize:v:1 1800k \
    -b:v:2 800k -maxrate:v:2 800k -bufsize:v:2 480k \
    -c:a aac -b:a 128k -ar 48000 -ac 2 \
    -f hls -hls_time 4 -hls_playlist_type vod -hls_segment_type fmp4 \
    -var_stream_map "v:0,agroup:aud v:1,agroup:aud v:2,agroup:aud a:0,agroup:aud" \
    -master_pl_name master.m3u8 -hls_segment_filename "$work/ffmpeg/%v/seg_%05d.m4s" "$work/ffmpeg/%v/index.m3u8"
}

psnr() { # psnr PLAYLIST W H → average PSNR (all planes), source scaled down to the rung
  ffmpeg -hide_banner -nostdin -i "$1" -i "$src" \
    -lavfi "[1:v]scale=$2:$3:flags=bicubic[ref];[0:v][ref]psnr" -f null - 2>&1 |
    sed -nE 's/.*PSNR .* average:([0-9.]+|inf).*/\1/p' | tail -1
}

psnr_up() { # psnr_up PLAYLIST → average PSNR (all planes), rung scaled up to the source
  ffmpeg -hide_banner -nostdin -i "$1" -i "$src" \
    -lavfi "[0:v]scale=1920:1080:flags=bicubic[up];[up][1:v]psnr" -f null - 2>&1 |
    sed -nE 's/.*PSNR .* average:([0-9.]+|inf).*/\1/p' | tail -1
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -a mw mc mr fw fc fr
for ((i = 0; i < runs; i++)); do
  # Alternate the order so neither side always runs on a warmer machine.
  if (( i % 2 == 0 )); then read -r w c r < <(run_marquee); read -r w2 c2 r2 < <(run_ffmpeg)
  else read -r w2 c2 r2 < <(run_ffmpeg); read -r w c r < <(run_marquee); fi
  mw+=("$w"); mc+=("$c"); mr+=("$r"); fw+=("$w2"); fc+=("$c2"); fr+=("$r2")
done
m_w=$(printf '%s\n' "${mw[@]}" | median); m_c=$(printf '%s\n' "${mc[@]}" | median); m_r=$(printf '%s\n' "${mr[@]}" | median)
f_w=$(printf '%s\n' "${fw[@]}" | median); f_c=$(printf '%s\n' "${fc[@]}" | median); f_r=$(printf '%s\n' "${fr[@]}" | median)

echo
echo "Source: ${duration} s 1920x1080 30 fps (samples/make-sample.sh), ${runs} run(s), median; $(nproc) cores"
printf '%-22s %12s %12s %8s\n' "" "marquee" "ffmpeg" "ratio"
printf '%-22s %12s %12s %8.3f\n' "wall time (s)" "$m_w" "$f_w" "$(awk -v a="$m_w" -v b="$f_w" 'BEGIN{print a/b}')"
printf '%-22s %12s %12s %8.3f\n' "CPU time (s)" "$m_c" "$f_c" "$(awk -v a="$m_c" -v b="$f_c" 'BEGIN{print a/b}')"
printf '%-22s %12s %12s %8.3f\n' "peak RSS (MB)" "$m_r" "$f_r" "$(awk -v a="$m_r" -v b="$f_r" 'BEGIN{print a/b}')"
i=0
for rung in "1080p 1920 1080" "720p 1280 720" "360p 640 360"; do
  read -r name w h <<<"$rung"
  pm=$(psnr "$work/marquee/video_$name/index.m3u8" "$w" "$h")
  pf=$(psnr "$work/ffmpeg/$i/index.m3u8" "$w" "$h")
  printf '%-22s %12.2f %12.2f %8s\n' "PSNR $name down (dB)" "$pm" "$pf" "$(awk -v a="$pm" -v b="$pf" 'BEGIN{printf "%+.2f", a-b}')"
  if [[ $name != 1080p ]]; then
    um=$(psnr_up "$work/marquee/video_$name/index.m3u8"); uf=$(psnr_up "$work/ffmpeg/$i/index.m3u8")
    printf '%-22s %12.2f %12.2f %8s\n' "PSNR $name up (dB)" "$um" "$uf" "$(awk -v a="$um" -v b="$uf" 'BEGIN{printf "%+.2f", a-b}')"
  fi
  i=$((i + 1))
done
