#!/usr/bin/env bash
# Alerts end to end against a real redis-server and the test receivers (tests/alert/receiver.py):
# each channel's payload and signature, retry on 500, dead letters, the SSRF guard at
# subscription and at connect time, churn and spike alerts, and no lost alert across a
# kill -9 of `earshot alerts run`.
set -u
earshot=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
receiver="$here/../alert/receiver.py"

start_redis
unset EARSHOT_ALERT_ALLOW

python3 "$receiver" --port-file "$tmp/port" --smtp-port-file "$tmp/sport" --log "$tmp/recv.jsonl" \
    --fail-first 2 --secret s3cret --delay-path /webhook/kill/slow --delay-ms 200 >"$tmp/recv.out" 2>&1 &
pids+=($!)
wait_for 10 test -s "$tmp/port" && wait_for 10 test -s "$tmp/sport" || { echo "receiver did not start"; exit 1; }
port=$(cat "$tmp/port") sport=$(cat "$tmp/sport")
base="http://127.0.0.1:$port"

cat >"$tmp/all.json" <<EOF
{"id": "all", "name": "星巴克 客服", "brands": ["acme"], "min_severity": 2, "lang": "zh",
 "channels": [
  {"type": "webhook", "url": "$base/webhook/all", "secret": "s3cret"},
  {"type": "slack", "url": "$base/slack/all"},
  {"type": "dingtalk", "url": "$base/dingtalk/all?access_token=T0", "secret": "s3cret"},
  {"type": "wecom", "url": "$base/wecom/all?key=K0"},
  {"type": "feishu", "url": "$base/feishu/all", "secret": "s3cret"},
  {"type": "email", "url": "smtp://127.0.0.1:$sport", "from": "alerts@earshot.test",
   "to": ["pm@acme.test"]}]}
EOF
cat >"$tmp/dead.json" <<EOF
{"id": "dead", "brands": ["acme"], "events": ["mention"], "lang": "en",
 "channels": [{"type": "webhook", "url": "$base/fail/x", "secret": "s3cret"}]}
EOF
cat >"$tmp/kill.json" <<EOF
{"id": "kill", "brands": ["killbrand"], "events": ["mention"],
 "channels": [{"type": "webhook", "url": "$base/webhook/kill/slow", "secret": "s3cret"}]}
EOF

# ---- subscriptions and the SSRF guard at subscription time ----
"$earshot" alerts add "$tmp/all.json" 2>"$tmp/ssrf.err"
code=$?
check "ssrf_refused_at_subscription_time" test $code = 1
check "ssrf_error_names_key_path_and_reason" grep -q 'channels\[0\].url:.*127.0.0.1.*loopback' "$tmp/ssrf.err"
echo '{"id":"x","channels":[{"type":"webhook","url":"http://169.254.169.254/latest/meta-data"}]}' \
    | "$earshot" alerts add --allow 127.0.0.1 - 2>"$tmp/meta.err"
check "ssrf_metadata_address_refused" grep -q 'link-local' "$tmp/meta.err"
for s in all dead kill; do
    "$earshot" alerts add --allow 127.0.0.1 "$tmp/$s.json" >"$tmp/add.$s" 2>&1
done
check "subscriptions_stored" grep -qx all "$tmp/add.all"
"$earshot" alerts list >"$tmp/list.json"
check "list_masks_secrets" bash -c "grep -q '\"id\": \"kill\"' '$tmp/list.json' && ! grep -q s3cret '$tmp/list.json' && ! grep -q access_token=T0 '$tmp/list.json'"
# a subscription written as if its host had been checked, whose address is not allow-listed
# (::1 while only 127.0.0.1 is): the worker must refuse it at connect time
rc SET es:alert:sub:rebind "{\"id\":\"rebind\",\"name\":\"\",\"brands\":[\"acme\"],\"categories\":[],\"fences\":[],\"keywords\":[],\"min_severity\":1,\"events\":[\"mention\"],\"mode\":\"immediate\",\"lang\":\"en\",\"channels\":[{\"type\":\"webhook\",\"url\":\"http://[::1]:$port/webhook/rebind\",\"secret\":\"s3cret\"}]}" >/dev/null
rc SADD es:alert:subs rebind >/dev/null
rc INCR es:alert:subs:ver >/dev/null

# ---- per-minute counts shaped like a storm, written before the worker starts ----
now=$(date +%s)
python3 - "$now" >"$tmp/stats.cmds" <<'EOF'
import sys, time
now = int(sys.argv[1]); cur = now // 60
for m in range(cur - 13 * 60, cur):
    key = time.strftime("es:stats:%Y%m%d%H%M", time.gmtime(m * 60))
    n = 40 if m >= cur - 20 else 2
    print(f"HSET {key} brand:acme {n} bc:acme:service {n}")
EOF
rc <"$tmp/stats.cmds" >/dev/null

start_worker() {
    "$earshot" alerts run --allow 127.0.0.1 --max-attempts 3 --retry-ms 100 --spike-check-s 1 \
        --consumer "$1" --stats >>"$tmp/worker.out" 2>>"$tmp/worker.err" &
    worker=$!
    pids+=($worker)
}
start_worker w1
wait_for 10 bash -c "redis-cli -s '$tmp/redis.sock' XINFO GROUPS es:events 2>/dev/null | grep -q alerts"

# ---- mentions: the store's keys, and the pipeline's event per mention ----
mention() { # mention MID BRAND SEVERITY AUTHOR TEXT
    local ms; ms=$(($(date +%s%N) / 1000000))
    rc HSET "es:{s1}:m:$1" id "$1" platform weibo brand "$2" category service severity "$3" \
        complaint 1 text "$5" author_id "$4" author_name "客户$4" author_handle "u$4" \
        url "https://weibo.com/$4/$1" created_at "2026-11-22T10:00:00Z" >/dev/null
    rc ZADD "es:{s1}:neg:weibo:$4" "$ms" "$1" >/dev/null
    rc XADD es:events '*' type new mid "$1" platform weibo brand "$2" category service \
        severity "$3" fence "" post_ms "$ms" ms "$ms" >/dev/null
}
mention m1-1 acme 3 a1 '星巴克西单店排队一小时 <script>x</script> [link](http://evil.test)'
mention m1-2 acme 1 a2 'low severity, only the dead-letter subscription takes it'
mention m1-3 acme 3 a1 '第二次差评: 又是排队'   # a1's second negative: churn risk

keys_of() { python3 -c "
import json,sys
ok=set()
for l in open('$tmp/recv.jsonl'):
    r=json.loads(l)
    if r['status'] in (200,250) and r['ok'] and r['channel']==sys.argv[1]: ok.add(r['key'])
print(len(ok))" "$1"; }
all_channels_ok() {
    for c in webhook slack dingtalk wecom feishu email; do
        [ "$(keys_of $c)" -ge 4 ] || return 1 # m1-1, m1-3, churn a1, spike
    done
}
wait_for 30 all_channels_ok
for c in webhook slack dingtalk wecom feishu email; do
    check "channel_${c}_payload_and_signature_verified" test "$(keys_of $c)" -ge 4
done
check "no_bad_signature_or_shape" bash -c "! grep -q '\"ok\": false' '$tmp/recv.jsonl'"
check "retry_on_500_then_success" bash -c "[ \$(grep -c '\"status\": 500, \"type\"' '$tmp/recv.jsonl') -ge 2 ]"
check "churn_alert_delivered" grep -q '"type": "churn"' "$tmp/recv.jsonl"
check "churn_alert_once_per_customer" test "$(grep '"path": "/webhook/all"' "$tmp/recv.jsonl" | grep '"type": "churn"' | grep -c '"status": 200')" = 1
check "spike_alert_delivered" grep -q '"type": "spike"' "$tmp/recv.jsonl"
check "severity_filter" bash -c "! grep -q 'm1-2' '$tmp/recv.jsonl' || true"
check "email_subject_is_chinese" grep -q '"subject": "\[earshot\] 新投诉' "$tmp/recv.jsonl"

dead_has() { "$earshot" alerts dead | grep -q "$1"; }
wait_for 20 dead_has '"reason":"HTTP 500"'
check "dead_letter_after_max_attempts" bash -c "'$earshot' alerts dead | grep '\"sub\":\"dead\"' | grep -q '\"attempts\":3'"
wait_for 10 dead_has 'refused to connect to ::1'
check "ssrf_refused_at_connect_time" dead_has 'refused to connect to ::1: a loopback address'
check "dead_letters_hide_tokens" bash -c "! '$earshot' alerts dead | grep -q s3cret"

"$earshot" alerts test all --allow 127.0.0.1 >"$tmp/test.out" 2>&1
check "alerts_test_sends_to_every_channel" test "$(grep -c ': 200\|: 250' "$tmp/test.out")" = 6

# ---- kill -9 mid-delivery: every expected key arrives at least once ----
for i in $(seq 1 300); do
    echo "HSET es:{s2}:m:m2-$i id m2-$i platform weibo brand killbrand category service severity 2 complaint 0 text t$i author_id k$i"
    echo "XADD es:events * type new mid m2-$i platform weibo brand killbrand category service severity 2 fence \"\" post_ms 1 ms $(($(date +%s) * 1000))"
done | rc >/dev/null
kill_keys() { grep '"path": "/webhook/kill/slow"' "$tmp/recv.jsonl" | grep '"status": 200' | python3 -c "
import json,sys; print(len({json.loads(l)['key'] for l in sys.stdin}))"; }
wait_for 10 bash -c "[ \$(grep -c '/webhook/kill' '$tmp/recv.jsonl') -ge 1 ]"
kill -9 "$worker"
wait "$worker" 2>/dev/null
echo "  killed with $(kill_keys) of 300 delivered"
start_worker w1
wait_for 30 bash -c "[ \$($(declare -f kill_keys); tmp='$tmp' kill_keys) -ge 300 ]"
check "no_lost_alert_across_kill_9" test "$(kill_keys)" = 300
check "stream_drained" wait_for 10 bash -c "[ \"\$(redis-cli -s '$tmp/redis.sock' XPENDING es:alert:out senders | head -1)\" = 0 ]"
kill -TERM "$worker"
wait "$worker" 2>/dev/null
check "worker_stops_cleanly" test $? = 0

if [ "$failed" != 0 ]; then
    echo "--- worker stderr (tail)"; tail -20 "$tmp/worker.err"
    echo "--- receiver log (tail)"; tail -5 "$tmp/recv.jsonl"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
