#!/usr/bin/env bash
# test.sh runs every check soft-ix has, in this order:
#   1. go vet and go build of the whole module;
#   2. the release build exactly as the Dockerfile does it (static, trimmed),
#      so a broken image build shows up without a Docker engine;
#   3. unit tests of every package except integration/, with the race
#      detector, then the allocation and heap guards (TestNoAllocs...,
#      TestMemoryPerSAPair) without it, since -race distorts what they count,
#      and TestGoBGPClearHard, where -race reports a race inside GoBGP v3;
#   4. integration tests (network namespaces, strongSwan, BIRD; need root),
#      run against the binary from step 2, except TestContainerLab, which
#      .ci/container runs beside its own Docker engine;
#   5. a short fuzz run of every FuzzXxx target in the repository.
# Every step runs even when an earlier one failed; the script ends with a
# summary of go test's package lines, every skipped test with its reason,
# and exits non-zero if anything failed. It needs jq for the summary.
#
# Environment: FUZZTIME (per target; default: FUZZ_BUDGET=180 seconds shared
# out, 3-10 s each), UNIT_TIMEOUT (10m),
# INTEGRATION_TIMEOUT (30m). With CI=true, integration tests fail instead
# of skipping when root or a tool is missing.
set -euo pipefail

cd "$(dirname "$0")"
if ! command -v jq >/dev/null; then
	echo "test.sh: needs jq for go test's JSON (apt-get install jq; .ci/run installs it)" >&2
	exit 2
fi
FUZZTIME_SET=${FUZZTIME:+yes}
FUZZTIME=${FUZZTIME:-10s}
UNIT_TIMEOUT=${UNIT_TIMEOUT:-10m}
INTEGRATION_TIMEOUT=${INTEGRATION_TIMEOUT:-30m}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log="$work/test.log"
failed=()
start=$SECONDS

# step NAME CMD...: runs CMD with output to the terminal and the log,
# records a failure instead of stopping.
step() {
	local name=$1
	shift
	echo "=== step: $name ($(date -u +%H:%M:%S))" | tee -a "$log"
	if ! "$@" 2>&1 | tee -a "$log"; then
		failed+=("$name")
		echo "=== step FAILED: $name" | tee -a "$log"
	fi
}

# go_test_quiet JSON ARGS...: go test -json ARGS, the whole event stream kept
# in JSON. It prints the package lines as they come (ok, FAIL, build
# errors), then the output of every failed test and the "--- SKIP" line and
# reason of every skipped one, so that a skip is visible in CI's log and
# summary. With SHOW_ALL=1 it prints the output of every test (for the
# guards, whose logs carry the measured figures).
go_test_quiet() {
	local json=$1 rc
	shift
	go test -json "$@" | tee "$json" |
		jq -j --unbuffered 'select(.Test == null and .Output) | .Output' | { grep -vE '^(PASS|FAIL)$' || true; }
	rc=${PIPESTATUS[0]}
	jq -j --slurp --arg all "${SHOW_ALL:-}" '
		(map(select(.Test and ($all == "1" or .Action == "fail" or .Action == "skip")) | .Package + " " + .Test)) as $keep
		| .[] | select(.Output and .Test)
		| select((.Package + " " + .Test) as $k | $keep | index($k))
		| .Output' "$json" | grep -vE '^=== (RUN|PAUSE|CONT|NAME)' || true
	return "$rc"
}

# go_test_verbose ARGS...: go test -v ARGS, the output also kept in
# $log.verbose, from which the closing tally counts.
go_test_verbose() {
	go test -v "$@" 2>&1 | tee -a "$log.verbose"
	return "${PIPESTATUS[0]}"
}

step "go vet" go vet ./...
step "go build" go build ./...
step "release build (as Dockerfile)" \
	env CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/soft-ix" ./cmd/soft-ix

mapfile -t unit_pkgs < <(go list ./... | grep -v '/integration$')
race=-race
if [[ "$(go env CGO_ENABLED)" != 1 ]]; then
	echo "warning: cgo unavailable (no C compiler?), unit tests run without -race" | tee -a "$log"
	race=
fi
# The guards behind README numbers (0 allocations per packet, heap per SA
# pair) measure allocations, which the race detector distorts: the race
# pass leaves them out and a pass without -race runs them.
guards='^(TestNoAllocs|TestNoAllocsPerPacket|TestGROHeadsNoAllocs|TestPacketIONoAllocs|TestRxRingNoAllocs|TestReceiveNoAllocs|TestMemoryPerSAPair|TestReceiveMemoryUnderFlood)$'
# TestGoBGPClearHard reopens a GoBGP session while its best paths are
# watched: GoBGP v3 writes the peer's AS and ID in place as the session
# opens while the watcher reads them (osrg/gobgp#2705, fixed only in v4),
# which the race detector reports. It runs in a pass of its own without
# -race; the daemon's hard clear is also run against BIRD in
# TestInteropBGPStrongSwanBIRD.
gobgp_race='^(TestGoBGPClearHard)$'
step "unit tests" go_test_quiet "$work/unit.json" $race -skip "$guards|$gobgp_race" -timeout "$UNIT_TIMEOUT" "${unit_pkgs[@]}"
SHOW_ALL=1 step "allocation and memory guards (no -race)" \
	go_test_quiet "$work/guards.json" -v -run "$guards" -timeout "$UNIT_TIMEOUT" ./esp/... ./ike/
step "GoBGP session reopened (no -race, osrg/gobgp#2705)" \
	go_test_quiet "$work/gobgp.json" -v -run "$gobgp_race" -timeout "$UNIT_TIMEOUT" ./bgp/

if [[ -x "$work/soft-ix" ]]; then
	export SOFTIX_BIN="$work/soft-ix"
fi
if [[ $EUID -ne 0 ]]; then
	echo "note: not root, integration tests will skip (or fail with CI=true)" | tee -a "$log"
fi
# TestContainerLab needs a Docker engine, whose forwarding and bridges the
# namespace tests should not run beside: .ci/container runs it on its own
# after this script.
step "integration tests" go_test_verbose -count=1 -timeout "$INTEGRATION_TIMEOUT" \
	-skip '^TestContainerLab$' ./integration/

# Fuzz targets: every "func FuzzXxx(" in a _test.go file, found afresh each
# run so new targets are picked up. One target per go test invocation, as
# -fuzz requires. Unless FUZZTIME is set, FUZZ_BUDGET seconds (default 180)
# are shared out, 3 to 10 s per target, so the total stays bounded.
# fuzz_one NAME DIR fuzzes one target for FUZZTIME. Go 1.26's fuzz
# coordinator can fail a clean run with a bare "context deadline exceeded"
# when -fuzztime expires while a starved worker is mid-call (golang/go#75804,
# fixed in Go 1.27). A failure counts only when go test wrote a failing input;
# the deadline race alone is reported and run once more.
fuzz_one() {
	local name=$1 dir=$2 out try
	for try in 1 2; do
		out=$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$dir" 2>&1) && { echo "$out"; return 0; }
		if grep -q 'Failing input written to' <<<"$out" || ! grep -q 'context deadline exceeded' <<<"$out"; then
			echo "$out"
			return 1
		fi
		sed -E 's/^--- FAIL: /--- FUZZ DEADLINE RACE: /; s/^(FAIL|exit status)/(\1)/' <<<"$out"
		echo "note: $name hit the fuzz coordinator's deadline race (golang/go#75804), no failing input; try $try"
	done
	echo "note: $name: deadline race twice, no failing input written: not counted as a failure"
}

mapfile -t fuzz_targets < <(grep -rHo --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+' . |
	sed -E 's/:func /:/' | sort -u)
if [[ -z ${FUZZTIME_SET:-} && ${#fuzz_targets[@]} -gt 0 ]]; then
	per=$((${FUZZ_BUDGET:-180} / ${#fuzz_targets[@]}))
	((per > 10)) && per=10
	((per < 3)) && per=3
	FUZZTIME=${per}s
fi
fuzz_passed=0
for target in "${fuzz_targets[@]}"; do
	file=${target%%:*}
	name=${target#*:}
	dir=./$(dirname "${file#./}")
	before=${#failed[@]}
	step "fuzz $name ($dir)" fuzz_one "$name" "$dir"
	if ((${#failed[@]} == before)); then
		fuzz_passed=$((fuzz_passed + 1))
	fi
done
echo "=== ${#fuzz_targets[@]} fuzz targets, $FUZZTIME each" | tee -a "$log"

# tally ACTION: test functions and subtests that ended with ACTION (pass,
# fail, skip): unit tests from go test's JSON events, integration tests from
# their verbose result lines.
tally() {
	local json verbose
	json=$(cat "$work"/*.json 2>/dev/null | jq -s --arg a "$1" 'map(select(.Test and .Action == $a)) | length' 2>/dev/null || echo 0)
	verbose=$(grep -ciE "^\s*--- $1:" "$log.verbose" 2>/dev/null || true)
	echo $((${json:-0} + ${verbose:-0}))
}

echo
echo "===== summary ($((SECONDS - start)) s) ====="
grep -E '^(ok|FAIL)\b|^\s*--- FAIL|^panic:|^=== step FAILED' "$log" || true
skipped=$(tally skip)
echo "skipped tests: $skipped"
grep -hE -B1 '^\s*--- SKIP' "$log" | grep -v '^--$' | sed -E 's/^\s*/  /' || true
result=PASS
if ((${#failed[@]})); then
	echo "FAILED steps: ${failed[*]}"
	result=FAIL
fi
echo "RESULT: $result"
# The closing line in the plain "N passed, N failed" form; each fuzz target
# counts once.
echo "tests: $(($(tally pass) + fuzz_passed)) passed," \
	"$(($(tally fail) + ${#fuzz_targets[@]} - fuzz_passed)) failed, $skipped skipped"
[[ $result == PASS ]]
