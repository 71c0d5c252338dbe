#!/usr/bin/env bash
# earshot serve end to end: the mock platform publishes posts on every
# shape; serve (embedded redis-server) polls them, and every published post
# reaches Redis (seen), complaints become mentions with SLA deadlines from
# the post's own time, geo-fenced complaints carry their fence, cursors are
# saved, SIGHUP reloads and SIGTERM drains and exits 0 leaving nothing running.
set -uo pipefail
earshot=$1
. "$(dirname "$0")/lib.sh"
if [ -z "${ES_MOCK_PLATFORM:-}" ]; then echo "0 passed, 0 failed (no mock platform)"; exit 0; fi

"$ES_MOCK_PLATFORM" --port 0 --rate 400 --max-posts 1200 --seed 11 > "$tmp/mock.out" 2> "$tmp/mock.err" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$tmp/mock.out" 2>/dev/null && break; sleep 0.05; done
port=$(python3 -c "import json; print(json.loads(open('$tmp/mock.out').readline())['port'])")
sed "s#http://127.0.0.1:8080#http://127.0.0.1:$port#g; s#\"workers\": 2,#\"workers\": 2, \"data_dir\": \"$tmp/data\", \"alerts\": {\"allow\": \"127.0.0.1\"},#; s#\"interval_s\": [25]#\"interval_s\": 0.5#g" \
    "$(dirname "$0")/../../examples/serve.json" > "$tmp/serve.json"
"$earshot" serve --config "$tmp/serve.json" --check > "$tmp/check.out" 2>&1
check "the example config validates" grep -q ": ok" "$tmp/check.out"
printf '{"sources": [{"id": "x", "platform": "twitter-v3", "base_url": "http://127.0.0.1:1"}]}' > "$tmp/bad.json"
"$earshot" serve --config "$tmp/bad.json" --check > "$tmp/bad.out" 2>&1
check "a bad config names the key path" grep -q "sources\[0\].platform" "$tmp/bad.out"
printf '{"alerts": {"allow": "127.0.0.1/99"}, "sources": []}' > "$tmp/bad2.json"
"$earshot" serve --config "$tmp/bad2.json" --check > "$tmp/bad2.out" 2>&1
check "a bad alert allow-list names alerts.allow" grep -q "alerts.allow" "$tmp/bad2.out"

export EARSHOT_TWITTER_TOKEN=test-token EARSHOT_WECHAT_TOKEN=test-token
"$earshot" serve --config "$tmp/serve.json" 2> "$tmp/serve.log" &
serve=$!
pids+=($serve)
sock="$tmp/data/redis.sock"
# wait until the mock has published everything and serve has caught up
for _ in $(seq 120); do
    sleep 0.5
    n=$(curl -s "http://127.0.0.1:$port/_mock/stats" | python3 -c "import json,sys; print(json.load(sys.stdin).get('posts_generated', 0))" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 1200 ] && break
done
curl -s "http://127.0.0.1:$port/_mock/published?since_seq=0&limit=100000" > "$tmp/published.json"
# WeChat customer-service records carry no message id (the adapter derives a stable
# one), so WeChat is compared by count, the others id by id.
# Seen marks: one hash per platform and UTC day of the post (docs/redis.md).
python3 - "$tmp/published.json" "$tmp/wechat.count" > "$tmp/keys.txt" <<'PY'
import json, sys, time
d = json.load(open(sys.argv[1]))
rows = d if isinstance(d, list) else d.get("published", [])
wechat = 0
for r in rows:
    if r["platform"] == "wechat":
        wechat += 1
    else:
        day = time.strftime("%Y%m%d", time.gmtime(r["published_ms"] // 1000))
        print("HEXISTS es:seen:%s:%s %s" % (r["platform"], day, r["id"]))
open(sys.argv[2], "w").write(str(wechat))
PY
total=$(wc -l < "$tmp/keys.txt")
# serve catches up within a few polls; give a loaded machine up to 30 s
wx_pub=$(cat "$tmp/wechat.count")
for _ in $(seq 60); do
    seen=$(redis-cli -s "$sock" < "$tmp/keys.txt" | grep -c '^1$')
    wx_seen=$(redis-cli -s "$sock" --scan --pattern 'es:seen:wechat:*' |
        sed 's/^/HLEN /' | redis-cli -s "$sock" | awk '{n += $1} END {print n + 0}')
    [ "$seen" = "$total" ] && [ "$wx_seen" = "$wx_pub" ] && break
    sleep 0.5
done
echo "published $total (Twitter and Weibo), seen $seen"
check "every published Twitter and Weibo post reached Redis (no post lost)" test "$total" -gt 0 -a "$seen" = "$total"
echo "published $wx_pub WeChat records, seen $wx_seen"
check "every published WeChat record reached Redis" test "$wx_seen" = "$wx_pub"
"$earshot" mentions list --redis "unix://$sock" --json --limit 1000 > "$tmp/mentions.json"
check "complaints became mentions with SLA deadlines from the post's time" python3 - "$tmp/mentions.json" <<'PY'
import json, sys, datetime
ms = json.load(open(sys.argv[1]))["mentions"]
assert len(ms) > 10, len(ms)
for m in ms:
    t = datetime.datetime.fromisoformat(m["created_at"].replace("Z", "+00:00")).timestamp() * 1000
    lim = m["sla_deadline_ms"] - t
    assert lim in (10 * 60000, 15 * 60000, 60 * 60000), (m["id"], lim)
PY
check "the cursors are saved" test -n "$(redis-cli -s "$sock" GET es:cursor:tw-complaints)"
# the in-process alert worker reads every mention event (consumer group "alerts", no lag)
for _ in $(seq 40); do
    lag=$(redis-cli -s "$sock" XINFO GROUPS es:events | awk 'p {print; exit} /^lag$/ {p=1}')
    [ "$lag" = 0 ] && break
    sleep 0.25
done
check "the alert worker in serve has read every event" test "$lag" = 0
kill -HUP "$serve"
sleep 1.5
check "SIGHUP reloads" grep -q "reloaded" "$tmp/serve.log"
kill -TERM "$serve"
for _ in $(seq 100); do kill -0 "$serve" 2>/dev/null || break; sleep 0.1; done
wait "$serve"; rc=$?
check "SIGTERM drains and exits 0" test "$rc" = 0
check "no redis-server left running" bash -c "! pgrep -f '[r]edis-server.*$tmp/data' > /dev/null"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
