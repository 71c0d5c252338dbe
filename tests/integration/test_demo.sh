#!/usr/bin/env bash
# earshot demo: one command starts the mock platform, an embedded
# redis-server and serve with the API; the printed token reads mentions from
# /api/mentions within 30 s; SIGINT stops everything with status 0 and leaves
# no redis-server or es-mock-platform behind.
set -uo pipefail
earshot=$1
. "$(dirname "$0")/lib.sh"
if [ -z "${ES_MOCK_PLATFORM:-}" ]; then echo "SKIP: no mock platform"; exit 77; fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
"$earshot" demo --help > "$tmp/help.out"
check "demo --help" grep -q -- "--rate" "$tmp/help.out"
"$earshot" demo --port 0 > /dev/null 2>&1; rc=$?
check "a bad --port is a usage error (2)" test "$rc" = 2

"$earshot" demo --port "$port" --rate 20 --data-dir "$tmp/demo" > "$tmp/demo.out" 2> "$tmp/demo.err" &
demo=$!
pids+=($demo)
token=""
for _ in $(seq 150); do
    token=$(sed -n 's/^  token *//p' "$tmp/demo.out" 2> /dev/null)
    [ -n "$token" ] && break
    kill -0 "$demo" 2> /dev/null || break
    sleep 0.1
done
check "the demo prints a token and the console URL" \
    bash -c "[ -n '$token' ] && grep -q 'http://127.0.0.1:$port/' '$tmp/demo.out'"
mock_pid=$(sed -n 's/^  mock .*pid \([0-9]*\)).*/\1/p' "$tmp/demo.out")
redis_pid=$(sed -n 's/^  redis .*pid \([0-9]*\)).*/\1/p' "$tmp/demo.out")

n=0
for _ in $(seq 60); do
    n=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/mentions?limit=50" |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("mentions", [])))' 2> /dev/null)
    [ "${n:-0}" -gt 0 ] && break
    sleep 0.5
done
echo "mentions after start: ${n:-0}"
check "/api/mentions returns mentions within 30 s" test "${n:-0}" -gt 0
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")
check "the console is served at /" test "$code" = 200
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/mentions")
check "the API refuses a request without a token (401)" test "$code" = 401

kill -INT "$demo"
for _ in $(seq 150); do kill -0 "$demo" 2> /dev/null || break; sleep 0.1; done
wait "$demo"; rc=$?
check "SIGINT stops the demo with status 0" test "$rc" = 0
[ "$rc" = 0 ] || tail -20 "$tmp/demo.err"
check "no redis-server left running" \
    bash -c "[ -n '$redis_pid' ] && ! kill -0 '$redis_pid' 2> /dev/null && ! pgrep -f '[r]edis-server.*$tmp/demo' > /dev/null"
check "no es-mock-platform left running" bash -c "[ -n '$mock_pid' ] && ! kill -0 '$mock_pid' 2> /dev/null"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
