#!/usr/bin/env bash
# The responder end to end on a real redis-server (its own, in a temp dir):
# ingest -> mentions; claims and lease expiry; every FEARS refusal; the state
# machine; idempotent retries; the embedded default; and, with the mock
# platform, the outbox posting each reply exactly once across a kill -9.
set -uo pipefail
earshot=$1
. "$(dirname "$0")/lib.sh"

redis-server --port 0 --unixsocket "$tmp/r.sock" --dir "$tmp" --save "" --appendonly no \
    --daemonize no --logfile "$tmp/redis.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$tmp/r.sock" ] && break; sleep 0.05; done
export EARSHOT_REDIS_URL="unix://$tmp/r.sock"
es() { "$earshot" "$@"; }
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print(d$1)"; }

cat > "$tmp/posts.jsonl" <<'JSONL'
{"id":"t1","platform":"twitter","author":{"id":"100","handle":"ann","name":"Ann","followers":5000},"text":"@acmehelp lost my luggage and nobody answers","created_at":"2026-11-20T10:00:00Z","lang":"en"}
{"id":"t2","platform":"twitter","author":{"id":"200","handle":"bob","name":"Bob","followers":10},"text":"my package never arrived, worst service","created_at":"2026-11-20T10:05:00Z","lang":"en"}
{"id":"t3","platform":"twitter","author":{"id":"300","handle":"cy","name":"Cy","followers":10},"text":"the courier lost my order again, terrible","created_at":"2026-11-20T10:06:00Z","lang":"en"}
{"id":"w1","platform":"weibo","author":{"id":"400","name":"小王","followers":10},"text":"外卖送了两个小时，饭全凉了，太差了","created_at":"2026-11-20T18:00:00+08:00","lang":"zh"}
JSONL
es ingest --no-progress "$tmp/posts.jsonl" > /dev/null 2> "$tmp/ingest.err"
check "ingest records four mentions" grep -q "4 mentions recorded" "$tmp/ingest.err"
es ingest --no-progress "$tmp/posts.jsonl" > /dev/null 2> "$tmp/ingest2.err"
check "ingesting again records none (dedup)" grep -q "0 mentions recorded, 4 already known" "$tmp/ingest2.err"
# the charts count the recorded complaints by the posts' minutes, once (not again on the
# second ingest): t2 and t3 are in different minutes, w1 is 10:00Z like t1
check "ingest counts complaints per minute for the charts" test \
    "$(redis-cli -s "$tmp/r.sock" HGET es:stats:202611201000 complaints)/$(redis-cli -s "$tmp/r.sock" HGET es:stats:202611201005 complaints)" = "2/1"
es mentions list --json > "$tmp/list.json"
check "four open mentions listed" test "$(field "['mentions'].__len__()" < "$tmp/list.json")" = 4
check "the 5,000-follower author comes first" test "$(field "['mentions'][0]['author_handle']" < "$tmp/list.json")" = ann
m1=$(field "['mentions'][0]['id']" < "$tmp/list.json")
m2=$(python3 -c "import json; d=json.load(open('$tmp/list.json')); print([m['id'] for m in d['mentions'] if m['post_id']=='t2'][0])")
m3=$(python3 -c "import json; d=json.load(open('$tmp/list.json')); print([m['id'] for m in d['mentions'] if m['post_id']=='t3'][0])")

# Claims.
es claim "$m1" --agent alice --json > "$tmp/c1.json"
check "alice claims" test "$(field "['state']" < "$tmp/c1.json")" = claimed
es claim "$m1" --agent bob --json > "$tmp/c2.json"; rc=$?
check "bob is refused with claimed_by_other and who holds it" test "$rc:$(field "['reason']" < "$tmp/c2.json"):$(field "['holder']" < "$tmp/c2.json")" = "1:claimed_by_other:alice"
es reply "$m1" --agent bob --text "We are on it, Ann." --json > "$tmp/r0.json"; rc=$?
check "bob cannot reply to alice's claim" test "$rc:$(field "['reason']" < "$tmp/r0.json")" = "1:claimed_by_other"

# FEARS refusals on the text.
es reply "$m1" --agent alice --text "Please call us at +1 (800) 555-0199 and we will help." --json > "$tmp/r1.json"; rc=$?
check "a phone number is refused (fears_channel_deflection)" test "$rc:$(field "['reason']" < "$tmp/r1.json")" = "1:fears_channel_deflection"
es reply "$m1" --agent alice --text "Sorry Ann, please fill out the form at https://acme.example/contact-form" --json > "$tmp/r2.json"
check "a form link is refused" test "$(field "['reason']" < "$tmp/r2.json")" = fears_channel_deflection
es dm "$m1" --agent alice --text "Hi Ann, sending you the details here." --json > "$tmp/r3.json"
check "a DM before the public answer is refused (fears_dm_not_open)" test "$(field "['reason']" < "$tmp/r3.json")" = fears_dm_not_open

# The two public replies.
es reply "$m1" --agent alice --text "Ann, that is not good enough from us. I have flagged your bag with the baggage desk at your arrival airport right now." --idem k1 --json > "$tmp/r4.json"
check "first public reply accepted: replied_1" test "$(field "['ok']" < "$tmp/r4.json"):$(field "['state']" < "$tmp/r4.json")" = "True:replied_1"
ob1=$(field "['outbox_id']" < "$tmp/r4.json")
es reply "$m1" --agent alice --text "Ann, that is not good enough from us. I have flagged your bag with the baggage desk at your arrival airport right now." --idem k1 --json > "$tmp/r4b.json"
check "a retry with the same key gets the same decision" test "$(field "['outbox_id']" < "$tmp/r4b.json"):$(field "['duplicate']" < "$tmp/r4b.json")" = "$ob1:True"
es reply "$m1" --agent alice --text "Still tracing it, the desk confirmed the tag number and expects an update by noon." --json > "$tmp/r5.json"
check "second public reply without a DM invitation is refused (fears_dm_required)" test "$(field "['reason']" < "$tmp/r5.json")" = fears_dm_required
es reply "$m1" --agent alice --text "The desk has your bag tag. Could you send us a DM with your booking reference so we can arrange delivery to you?" --json > "$tmp/r6.json"
check "second public reply with a DM invitation: replied_2" test "$(field "['state']" < "$tmp/r6.json"):$(field "['public_replies']" < "$tmp/r6.json")" = "replied_2:2"
es reply "$m1" --agent alice --text "One more public update: the bag is on the next flight and will reach you tonight." --json > "$tmp/r7.json"; rc=$?
check "a third public reply is refused (fears_reply_limit)" test "$rc:$(field "['reason']" < "$tmp/r7.json")" = "1:fears_reply_limit"
es dm "$m1" --agent alice --text "Thanks Ann, got your reference. A courier brings the bag between 6 and 8 pm." --json > "$tmp/r8.json"
check "DMs are allowed once the DM is open" test "$(field "['ok']" < "$tmp/r8.json")" = True

# Canned: the same reply (another customer's name) to another conversation.
es claim "$m2" --agent alice > /dev/null
es reply "$m2" --agent alice --text "Bob, that is not good enough from us. I have flagged your bag with the baggage desk at your arrival airport right now." --json > "$tmp/r9.json"
check "a near-identical reply to another customer is refused (fears_canned)" test "$(field "['reason']" < "$tmp/r9.json")" = fears_canned
es reply "$m2" --agent alice --text "We apologize for any inconvenience. Bob, the parcel shows a failed delivery scan yesterday; I have asked the depot to retry today." --json > "$tmp/r10.json" 2> "$tmp/r10.err"
check "a stock phrase is a warning, not a refusal" test "$(field "['ok']" < "$tmp/r10.json"):$(field "['warnings'][0]['warning']" < "$tmp/r10.json")" = "True:fears_stock_phrase"

# State machine.
es ignore "$m2" --agent alice --json > "$tmp/i1.json"
check "ignore after a reply is refused (bad_state)" test "$(field "['reason']" < "$tmp/i1.json")" = bad_state
es resolve "$m1" --agent alice --json > "$tmp/s1.json"
check "resolve: resolved" test "$(field "['state']" < "$tmp/s1.json")" = resolved
es claim "$m3" --agent bob --lease 1 > /dev/null
sleep 1.3
es claim "$m3" --agent alice --json > "$tmp/c3.json"
check "an expired lease can be taken" test "$(field "['holder']" < "$tmp/c3.json")" = alice
es ignore "$m3" --agent alice --why spam --json > "$tmp/i2.json"
check "ignore from claimed: ignored" test "$(field "['state']" < "$tmp/i2.json")" = ignored
es mentions show "$m1" --json > "$tmp/show.json"
check "detail has the conversation and the customer's history" python3 - "$tmp/show.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
c = m["conversation"]
assert c["public_replies"] == 2 and c["dm_open"] == 1 and c["state"] == "resolved", c
kinds = [e["t"] for e in m["customer"]["history"]]
assert kinds.count("public") == 2 and "dm" in kinds and "resolved" in kinds and "mention" in kinds, kinds
PY
es mentions list --json > "$tmp/list2.json"
check "the unanswered mention is first" test "$(field "['mentions'][0]['state']" < "$tmp/list2.json")" = new
check "resolved and ignored mentions leave the queue; answered ones stay, after the unanswered" test "$(field "['mentions'].__len__()" < "$tmp/list2.json")" = 2

# The outbox, through the mock platform (when built).
if [ -n "${ES_MOCK_PLATFORM:-}" ] && [ -x "${ES_MOCK_PLATFORM}" ]; then
    "$ES_MOCK_PLATFORM" --port 0 --rate 0 > "$tmp/mock.out" 2> "$tmp/mock.err" &
    pids+=($!)
    for _ in $(seq 100); do grep -q listening "$tmp/mock.out" 2>/dev/null && break; sleep 0.05; done
    port=$(python3 -c "import json; print(json.loads(open('$tmp/mock.out').readline())['port'])")
    base="http://127.0.0.1:$port"
    # the first two requests fail with 503: retried with backoff
    curl -s -X POST "$base/_mock/faults" -d '{"path_prefix":"/2/","kind":"5xx","count":2}' > /dev/null
    es outbox run --twitter-url "$base" --weibo-url "$base" --wechat-url "$base" --reclaim-ms 300 \
        --duration-s 4 > /dev/null 2> "$tmp/outbox1.err" &
    w=$!
    sleep 0.6
    kill -9 "$w" 2>/dev/null   # a crash in the middle
    wait "$w" 2>/dev/null
    es outbox run --twitter-url "$base" --weibo-url "$base" --wechat-url "$base" --reclaim-ms 300 \
        --duration-s 5 > /dev/null 2> "$tmp/outbox2.err"
    curl -s "$base/_mock/posted" > "$tmp/posted.json"
    check "every accepted reply and DM posted exactly once across a kill -9" python3 - "$tmp/posted.json" <<'PY'
import json, sys, collections
d = json.load(open(sys.argv[1]))
keys = collections.Counter(p["key"] for p in d["posted"])
assert len(keys) == 4, d   # two public replies and a DM for Ann, one reply for Bob
assert all(n == 1 for n in keys.values()), keys
eps = collections.Counter(p["endpoint"] for p in d["posted"])
assert sum(v for k, v in eps.items() if "dm" in k) == 1, eps
PY
    es mentions show "$m1" --json > "$tmp/show2.json"
    check "the platform's ids are recorded on the conversation" python3 - "$tmp/show2.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["conversation"]
assert c.get("posted") == 3 and c.get("last_public_id") and c.get("last_dm_id"), c
PY
fi

# The embedded default: no URL, a data directory.
unset EARSHOT_REDIS_URL
es ingest --no-progress --data-dir "$tmp/emb" "$tmp/posts.jsonl" > /dev/null 2> "$tmp/emb.err"
check "embedded redis-server started, used and stopped" grep -q "4 mentions recorded" "$tmp/emb.err"
check "no redis-server left running on the embedded socket" bash -c "! pgrep -f '[r]edis-server.*$tmp/emb/redis.sock' > /dev/null"
check "its state survives (AOF): the next run sees the mentions" test "$(es mentions list --data-dir "$tmp/emb" --json | field "['mentions'].__len__()")" = 4

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
