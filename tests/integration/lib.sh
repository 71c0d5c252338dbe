# Shared by the shell integration tests: a temp dir and the PIDs of what a test
# started, both cleaned up on exit, and check NAME CMD... counting results.
# A test ends with: echo "$passed passed, $failed failed"; [ "$failed" = 0 ]
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
passed=0 failed=0
check() {
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
