#!/bin/bash
# rounds.sh: hub.sh ROUNDS times, and the medians that the hub's numbers
# are judged by. Each round measures soft-ix and charon one after the
# other against the same initiators, so a round's ratio is a same-run
# figure; the median of the rounds' ratios evens out the machine's load.
#
#   sudo integration/bench/hub/rounds.sh              # ROUNDS=3 N=1000 IDLE=5
#   ROUNDS=5 N=1000 integration/bench/hub/rounds.sh
#
# Every hub.sh line goes to stderr as it comes; stdout gets, per round,
# "round R setup_cpu_ms SOFTIX CHARON ratio X est_rss_mib M" and then
# "median ..." lines. The environment (N, IDLE, SOFTIX_BIN, ...) passes to
# hub.sh; CHARON=0 is refused, since the ratio needs charon.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
export N=${N:-1000} IDLE=${IDLE:-5}
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || { echo "ROUNDS=$ROUNDS: want 1 to 99" >&2; exit 1; }
[ "${CHARON:-1}" != 0 ] || { echo "rounds.sh compares with charon; CHARON=0 makes no sense here" >&2; exit 1; }
cd "$(dirname "$0")/../../.."
if [ -z "${SOFTIX_BIN:-}" ]; then
	B=$(mktemp -d /tmp/hubrounds.XXXXXX)
	trap 'rm -rf "$B"' EXIT
	go build -o "$B/soft-ix" ./cmd/soft-ix
	export SOFTIX_BIN=$B/soft-ix
fi

# median: of the numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

ratios=() sx=() ch=() rss=() cpu=() show=()
for r in $(seq 1 "$ROUNDS"); do
	out=$(integration/bench/hub/hub.sh | tee /dev/stderr)
	get() { awk -v who="$1" -v what="$2" '$1 == "hub" && $2 == who && $3 == what { print $4 }' <<<"$out"; }
	s=$(get softix setup_cpu_ms) c=$(get charon setup_cpu_ms)
	[ -n "$s" ] && [ -n "$c" ] || { echo "round $r: hub.sh gave no setup_cpu_ms" >&2; exit 1; }
	ratio=$(awk -v s="$s" -v c="$c" 'BEGIN { printf "%.2f", c / s }')
	sx+=("$s") ch+=("$c") ratios+=("$ratio")
	rss+=("$(get softix est_rss_mib)") cpu+=("$(get softix est_cpu_pct)") show+=("$(get softix est_show_s)")
	echo "round $r setup_cpu_ms $s $c ratio $ratio est_rss_mib ${rss[-1]} est_cpu_pct ${cpu[-1]} est_show_s ${show[-1]}"
done
echo "median setup_cpu_ms softix $(printf '%s\n' "${sx[@]}" | median) charon $(printf '%s\n' "${ch[@]}" | median)"
echo "median ratio $(printf '%s\n' "${ratios[@]}" | median) (charon's CPU per setup / soft-ix's; rounds: ${ratios[*]})"
echo "median est_rss_mib $(printf '%s\n' "${rss[@]}" | median) est_cpu_pct $(printf '%s\n' "${cpu[@]}" | median) est_show_s $(printf '%s\n' "${show[@]}" | median)"
