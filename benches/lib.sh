# Shared by the benchmark scripts (source it): wrk runs, medians and ratios.

# wrk against one URL → "req/s MB/s p50_ms p99_ms"; fails on any non-2xx/3xx answer.
# WRK_CPUS (a taskset list, e.g. 1) pins wrk and gives it one thread per listed CPU; unset, it has 2 threads
# and no affinity.
wrk_run() { # url connections duration_s
  local run=(wrk -t 2)
  if [[ -n "${WRK_CPUS:-}" ]]; then run=(taskset -c "$WRK_CPUS" wrk -t "$(taskset -c "$WRK_CPUS" nproc)"); fi
  "${run[@]}" -c "$2" -d "${3}s" --latency "$1" | python3 -c '
import re, sys
t = sys.stdin.read()
def unit(v, u):
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
tr = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", t)
mb = float(tr.group(1)) * {"B": 1e-6, "KB": 1.024e-3, "MB": 1.048576, "GB": 1073.741824}[tr.group(2)]
p = {q: unit(v, u) for q, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)", t)}
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if errors: sys.exit("non-2xx responses: " + errors.group(1))
print("%.0f %.1f %.2f %.2f" % (rps, mb, p["50"], p["99"]))'
}

# The median of each column over several "req/s MB/s p50 p99" lines on stdin.
median() { python3 -c '
import statistics, sys
rows = [list(map(float, line.split())) for line in sys.stdin if line.strip()]
print(" ".join("%g" % statistics.median(col) for col in zip(*rows)))'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }
