#!/usr/bin/env bash
# The web console in headless Chromium, end to end: earshot serve (embedded
# redis-server, HTTP API and console on a free port) polls the mock platform,
# which replays tests/browser/posts.jsonl (real-looking complaints, one with
# <script> and <img onerror> in its text); tests/browser/console.test.mjs signs
# in, watches the mentions arrive live, claims, replies twice, is refused a
# third time, and checks the hostile post stays inert text. The screenshot is
# left in the current directory (ctest runs in the build dir): console.png.
set -uo pipefail
earshot=$1
here=$(cd "$(dirname "$0")" && pwd)
browser_dir=$(cd "$here/../browser" && pwd)
. "$here/lib.sh"

# Missing tools skip the test (ctest shows it as skipped, exit 77), except in CI, where
# scripts/setup installed them and their absence is a failure.
skip() {
    if [ -n "${CI:-}" ]; then echo "FAIL: $1"; exit 1; fi
    echo "SKIP: $1"; exit 77
}
[ -n "${ES_MOCK_PLATFORM:-}" ] && [ -x "$ES_MOCK_PLATFORM" ] || skip "no mock platform (ES_MOCK_PLATFORM)"
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || skip "no Chromium at $chromium (scripts/setup installs it)"
command -v node > /dev/null || skip "no node (scripts/setup installs it)"
if [ ! -d "$browser_dir/node_modules/playwright-core" ]; then
    echo "tests/browser/node_modules is missing: npm ci (scripts/setup does this once)"
    (cd "$browser_dir" && timeout 300 npm ci --no-audit --no-fund > "$tmp/npm.log" 2>&1) \
        || { cat "$tmp/npm.log"; echo "FAIL npm ci in tests/browser"; exit 1; }
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
mport=$(free_port)
hport=$(free_port)
base="http://127.0.0.1:$hport"
mkdir -p "$tmp/data"
cat > "$tmp/serve.json" <<EOF
{
  "data_dir": "$tmp/data",
  "workers": 2,
  "log_level": "info",
  "http": {"listen": "127.0.0.1:$hport"},
  "crawl": {"backoff_max_ms": 500, "connect_timeout_ms": 1000},
  "sources": [
    {"id": "tw", "platform": "twitter-v2", "base_url": "http://127.0.0.1:$mport", "query": "-zzzz",
     "interval_s": 0.3, "jitter_s": 0},
    {"id": "wb", "platform": "weibo", "base_url": "http://127.0.0.1:$mport", "interval_s": 0.3,
     "jitter_s": 0}
  ],
  "fences": [
    {"id": "xidan", "brand": "starbucks", "name": "西单大悦城店", "team": "bj-stores", "circle": {"lat": 39.9087, "lon": 116.3747, "radius_m": 800}},
    {"id": "jfk", "brand": "delta", "name": "JFK airport", "team": "nyc-airports",
     "polygon": [[-73.83, 40.62], [-73.74, 40.62], [-73.74, 40.67], [-73.83, 40.67]]}
  ]
}
EOF

"$earshot" serve --config "$tmp/serve.json" 2> "$tmp/serve.log" &
serve=$!
pids+=($serve)
up=0
for _ in $(seq 200); do
    curl -sf "$base/healthz" > /dev/null 2>&1 && { up=1; break; }
    kill -0 "$serve" 2> /dev/null || break
    sleep 0.1
done
check "earshot serve answers on $base" test "$up" = 1
if [ "$up" != 1 ]; then tail -20 "$tmp/serve.log"; echo "$passed passed, $failed failed"; exit 1; fi

token=$("$earshot" token create --role agent --name alice --data-dir "$tmp/data" 2> "$tmp/token.err")
check "an agent token is created" test -n "$token"

# The browser signs in first and writes the ready file; only then does the
# platform start publishing, so the mentions can only arrive over the live stream.
ready="$tmp/ready"
shot="$PWD/console.png"
(cd "$browser_dir" && ES_CONSOLE_URL=$base ES_TOKEN=$token ES_READY_FILE=$ready ES_EXPECT=6 \
    ES_SCREENSHOT=$shot CHROMIUM=$chromium \
    timeout 200 node console.test.mjs) > "$tmp/browser.out" 2>&1 &
node_pid=$!
pids+=($node_pid)
for _ in $(seq 600); do
    [ -e "$ready" ] && break
    kill -0 "$node_pid" 2> /dev/null || break
    sleep 0.1
done
if [ -e "$ready" ]; then
    "$ES_MOCK_PLATFORM" --port "$mport" --rate 20 --seed 3 --replay "$browser_dir/posts.jsonl" \
        > "$tmp/mock.out" 2> "$tmp/mock.err" &
    pids+=($!)
fi
wait "$node_pid"
rc=$?
cat "$tmp/browser.out"
check "the console test in Chromium passes" test "$rc" = 0
if [ "$rc" != 0 ]; then
    echo "--- serve log (tail)"; tail -30 "$tmp/serve.log"
    echo "--- mock log (tail)"; tail -5 "$tmp/mock.err" 2> /dev/null
fi

kill -TERM "$serve"
for _ in $(seq 100); do kill -0 "$serve" 2> /dev/null || break; sleep 0.1; done
wait "$serve"
rc=$?
check "serve stops on SIGTERM with status 0" test "$rc" = 0
check "no redis-server left running" bash -c "! pgrep -f '[r]edis-server.*$tmp/data' > /dev/null"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
