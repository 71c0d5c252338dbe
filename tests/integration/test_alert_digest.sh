#!/usr/bin/env bash
# Digest subscriptions end to end against a real redis-server and tests/alert/receiver.py:
# a digest subscription (interval 10 s, the shortest allowed) gets at most one message per
# interval, each with the count and the 5 most severe of the mentions that matched in that
# interval, and no mention is lost across the boundary between two intervals (mentions keep
# arriving while the first interval is flushed); an immediate subscription on the same
# brand still gets one message per mention.
set -u
earshot=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
receiver="$here/../alert/receiver.py"

start_redis
unset EARSHOT_ALERT_ALLOW

python3 "$receiver" --port-file "$tmp/port" --log "$tmp/recv.jsonl" --secret s3cret --keep-body \
    >"$tmp/recv.out" 2>&1 &
pids+=($!)
wait_for 10 test -s "$tmp/port" || { echo "receiver did not start"; exit 1; }
base="http://127.0.0.1:$(cat "$tmp/port")"
interval=10

cat >"$tmp/dig.json" <<EOF
{"id": "dig", "name": "digest", "brands": ["digbrand"], "min_severity": 2, "events": ["mention"],
 "mode": "digest", "interval_s": $interval, "lang": "en",
 "channels": [{"type": "webhook", "url": "$base/webhook/dig", "secret": "s3cret"}]}
EOF
cat >"$tmp/imm.json" <<EOF
{"id": "imm", "brands": ["digbrand"], "min_severity": 2, "events": ["mention"], "lang": "en",
 "channels": [{"type": "webhook", "url": "$base/webhook/imm", "secret": "s3cret"}]}
EOF
for s in dig imm; do
    "$earshot" alerts add --allow 127.0.0.1 "$tmp/$s.json" >"$tmp/add.$s" 2>&1
    check "subscription_${s}_stored" grep -qx $s "$tmp/add.$s"
done

"$earshot" alerts run --allow 127.0.0.1 --spike-check-s 3600 --consumer d1 \
    >"$tmp/worker.out" 2>"$tmp/worker.err" &
worker=$!
pids+=($worker)
wait_for 10 bash -c "redis-cli -s '$tmp/redis.sock' XINFO GROUPS es:events 2>/dev/null | grep -q alerts"

n=0
mention() { # mention MID BRAND SEVERITY: the store's hash and the pipeline's event
    local ms; ms=$(($(date +%s%N) / 1000000))
    n=$((n + 1))
    printf 'HSET es:{s3}:m:%s id %s platform weibo brand %s category service severity %s complaint 0 text "%s text %s" author_id d%s url https://weibo.com/d/%s created_at 2026-11-22T10:00:00Z\n' \
        "$1" "$1" "$2" "$3" "$2" "$1" "$n" "$1"
    printf 'XADD es:events * type new mid %s platform weibo brand %s category service severity %s fence "" post_ms %s ms %s\n' \
        "$1" "$2" "$3" "$ms" "$ms"
}
t0=$SECONDS
# interval 1: a burst; the two of severity 4 and the three of severity 3 are its top 5
{
    mention m3-a1 digbrand 4; mention m3-a2 digbrand 2; mention m3-a3 digbrand 3
    mention m3-a4 digbrand 4; mention m3-a5 digbrand 2; mention m3-a6 digbrand 3
    mention m3-a7 digbrand 3
    mention m3-x1 digbrand 1   # below min_severity: in neither subscription
    mention m3-x2 otherbrand 4 # another brand
} | rc >/dev/null
expected=7
# then one mention of severity 2 every 0.4 s for 13 s, across the first flush (10 s after the
# burst), so mentions arrive while the first interval is moved aside and sent
for i in $(seq 1 32); do
    sleep 0.4
    mention "m3-s$i" digbrand 2 | rc >/dev/null
    expected=$((expected + 1))
done
# the end of interval 2: its two most severe
{ mention m3-b1 digbrand 4; mention m3-b2 digbrand 4; } | rc >/dev/null
expected=$((expected + 2))
echo "  $expected matching mentions sent in $((SECONDS - t0)) s"

digest_sum() { python3 - "$tmp/recv.jsonl" <<'EOF'
import json, sys
s = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] == "/webhook/dig" and r["status"] == 200:
        s += json.loads(r["body"]).get("count", 0)
print(s)
EOF
}
wait_for $((interval * 3 + 10)) bash -c "[ \$($(declare -f digest_sum); tmp='$tmp' digest_sum) -ge $expected ]"
sleep 2 # a third digest, if one were sent for an empty interval, would show up now

python3 - "$tmp/recv.jsonl" "$expected" "$interval" >"$tmp/verdict" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
expected, interval = int(sys.argv[2]), int(sys.argv[3])
dig = [r for r in recs if r["path"] == "/webhook/dig"]
imm = [r for r in recs if r["path"] == "/webhook/imm"]
bodies = [json.loads(r["body"]) for r in dig]
out = {}
def put(name, ok, detail=""):
    out[name] = (bool(ok), detail)
put("every_request_verified", all(r["ok"] and r["status"] == 200 for r in recs),
    [r["errors"] for r in recs if not r["ok"]][:3])
put("digest_subscription_gets_only_digests", all(b["type"] == "digest" for b in bodies),
    [b["type"] for b in bodies])
put("two_intervals_two_digests", len(dig) == 2 and len({r["key"] for r in dig}) == 2,
    "%d digests" % len(dig))
if len(bodies) >= 2:
    d1, d2 = sorted(bodies, key=lambda b: b["event_ms"])[:2]
    r1, r2 = sorted(dig, key=lambda r: json.loads(r["body"])["event_ms"])[:2]
    put("digest_sent_after_its_interval",
        r1["recv_ms"] >= d1["event_ms"] + interval * 1000 and
        r2["recv_ms"] >= d2["event_ms"] + interval * 1000,
        (r1["recv_ms"] - d1["event_ms"], r2["recv_ms"] - d2["event_ms"]))
    put("at_most_one_digest_per_interval",
        d2["event_ms"] >= d1["event_ms"] + interval * 1000 and
        r2["recv_ms"] - r1["recv_ms"] >= interval * 1000 - 1000,
        (d2["event_ms"] - d1["event_ms"], r2["recv_ms"] - r1["recv_ms"]))
    put("digest_carries_interval", d1.get("interval_s") == interval, d1.get("interval_s"))
    put("no_mention_lost_across_intervals", d1["count"] + d2["count"] == expected,
        "%d + %d != %d" % (d1["count"], d2["count"], expected))
    put("first_interval_counts_its_burst", d1["count"] >= 7 and d2["count"] >= 2,
        (d1["count"], d2["count"]))
    t1 = [p["mid"] for p in d1.get("top", [])]
    t2 = [p["mid"] for p in d2.get("top", [])]
    sev1 = [p["severity"] for p in d1.get("top", [])]
    put("first_top_is_the_five_most_severe", sorted(t1[:2]) == ["m3-a1", "m3-a4"] and
        sorted(t1[2:]) == ["m3-a3", "m3-a6", "m3-a7"] and sev1 == [4, 4, 3, 3, 3], (t1, sev1))
    put("second_top_is_its_own_interval", len(t2) == 5 and sorted(t2[:2]) == ["m3-b1", "m3-b2"]
        and all(m.startswith("m3-s") for m in t2[2:]) and not set(t1) & set(t2), t2)
    put("top_posts_carry_text_and_url", all(p.get("text") and p.get("url") and p.get("brand")
        for p in d1["top"] + d2["top"]), d1["top"][:1])
    put("filtered_mentions_not_in_digest", not {"m3-x1", "m3-x2"} & set(t1 + t2))
immb = [json.loads(r["body"]) for r in imm]
mids = [b["mid"] for b in immb]
want = {"m3-a%d" % i for i in range(1, 8)} | {"m3-s%d" % i for i in range(1, 33)} | \
       {"m3-b1", "m3-b2"}
put("immediate_gets_one_message_per_mention", len(mids) == expected and set(mids) == want and
    all(b["type"] == "mention" for b in immb), "%d messages, missing %s, extra %s" %
    (len(mids), sorted(want - set(mids))[:5], sorted(set(mids) - want)[:5]))
for k, (ok, detail) in out.items():
    print("%s %s %s" % ("ok" if ok else "FAIL", k, json.dumps(detail, default=str)))
EOF
while read -r verdict name detail; do
    check "$name" test "$verdict" = ok
    [ "$verdict" = ok ] || echo "     $detail"
done <"$tmp/verdict"
check "verdict_complete" test "$(wc -l <"$tmp/verdict")" = 13

kill -TERM "$worker"
wait "$worker" 2>/dev/null
check "worker_stops_cleanly" test $? = 0
if [ "$failed" != 0 ]; then
    echo "--- worker stderr (tail)"; tail -20 "$tmp/worker.err"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
