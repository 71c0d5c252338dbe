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

wait_for() { # wait_for SECONDS CMD...: poll until CMD succeeds (its status after that)
    local end=$((SECONDS + $1)); shift
    while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.2; done
    "$@"
}

# start_redis: a redis-server of the test's own on a unix socket in $tmp (no persistence);
# EARSHOT_REDIS_URL points at it and rc runs redis-cli against it.
start_redis() {
    command -v redis-server >/dev/null || { echo "redis-server missing"; exit 1; }
    redis-server --port 0 --unixsocket "$tmp/redis.sock" --save '' --appendonly no --dir "$tmp" \
        >"$tmp/redis.log" 2>&1 &
    pids+=($!)
    wait_for 10 test -S "$tmp/redis.sock" || { echo "redis did not start"; exit 1; }
    export EARSHOT_REDIS_URL="unix://$tmp/redis.sock"
}
rc() { redis-cli -s "$tmp/redis.sock" "$@"; }
