#!/usr/bin/env bash
# The email channel and TLS, against the SMTP sinks of tests/alert/receiver.py and a
# certificate made here: STARTTLS is used when the server offers it (the sink records that
# the message came over TLS), a server that does not offer it still gets the message in
# plain text, the certificate is always verified (the system's CAs by default, only the
# channel's "tls_ca" when set), and with "tls_ca" TLS is required: no plain-text fallback.
set -u
earshot=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
receiver="$here/../alert/receiver.py"
command -v openssl >/dev/null || { echo "openssl missing"; exit 1; }

# the sink's self-signed certificate (for 127.0.0.1), and an unrelated one
for c in sink other; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
        -addext "subjectAltName=IP:127.0.0.1" -keyout "$tmp/$c.key" -out "$tmp/$c.pem" \
        >"$tmp/openssl.$c" 2>&1 || { cat "$tmp/openssl.$c"; exit 1; }
done

start_redis
unset EARSHOT_ALERT_ALLOW

# sink T offers STARTTLS, sink P does not
python3 "$receiver" --port-file "$tmp/tport" --smtp-port-file "$tmp/tsport" --log "$tmp/t.jsonl" \
    --starttls --cert "$tmp/sink.pem" --key "$tmp/sink.key" >"$tmp/t.out" 2>&1 &
pids+=($!)
python3 "$receiver" --port-file "$tmp/pport" --smtp-port-file "$tmp/psport" --log "$tmp/p.jsonl" \
    >"$tmp/p.out" 2>&1 &
pids+=($!)
wait_for 10 test -s "$tmp/tsport" && wait_for 10 test -s "$tmp/psport" ||
    { echo "receivers did not start"; exit 1; }
tsport=$(cat "$tmp/tsport") psport=$(cat "$tmp/psport")

# sub NAME PORT [CA_FILE]: an email subscription whose recipient is NAME@earshot.test
sub() {
    python3 - "$1" "$2" "${3:-}" >"$tmp/$1.json" <<'EOF'
import json, sys
name, port, ca = sys.argv[1], sys.argv[2], sys.argv[3]
ch = {"type": "email", "url": "smtp://127.0.0.1:%s" % port, "from": "alerts@earshot.test",
      "to": ["%s@earshot.test" % name]}
if ca:
    ch["tls_ca"] = open(ca).read()
print(json.dumps({"id": name, "brands": ["tlsbrand"], "events": ["mention"], "lang": "en",
                  "channels": [ch]}))
EOF
    "$earshot" alerts add --allow 127.0.0.1 "$tmp/$1.json" >"$tmp/add.$1" 2>&1
}
sub tls "$tsport" "$tmp/sink.pem"     # STARTTLS, verified against the channel's CA
sub plain "$psport"                   # no STARTTLS offered: plain text
sub sysca "$tsport"                   # STARTTLS, self-signed: the system's CAs refuse it
sub wrongca "$tsport" "$tmp/other.pem" # STARTTLS, another CA: refused
sub required "$psport" "$tmp/sink.pem" # tls_ca set, no STARTTLS offered: nothing in plain text
for s in tls plain sysca wrongca required; do
    check "subscription_${s}_stored" grep -qx $s "$tmp/add.$s"
done

# tls_ca must be PEM certificates, named by key path
python3 -c "
import json; print(json.dumps({'id': 'bad', 'channels': [{'type': 'email',
  'url': 'smtp://127.0.0.1:$psport', 'from': 'a@b.test', 'to': ['c@d.test'],
  'tls_ca': '$tmp/sink.pem'}]}))" | "$earshot" alerts add --allow 127.0.0.1 - 2>"$tmp/bad.err"
check "tls_ca_path_refused_not_read" grep -q 'channels\[0\].tls_ca: must be PEM' "$tmp/bad.err"
python3 -c "
import json; pem = open('$tmp/sink.pem').read()
print(json.dumps({'id': 'bad', 'channels': [{'type': 'email', 'url': 'smtp://127.0.0.1:$psport',
  'from': 'a@b.test', 'to': ['c@d.test'], 'tls_ca': pem[:200] + 'x' + pem[201:]}]}))" |
    "$earshot" alerts add --allow 127.0.0.1 - 2>"$tmp/bad2.err"
check "tls_ca_corrupt_pem_refused" grep -q 'channels\[0\].tls_ca' "$tmp/bad2.err"

"$earshot" alerts run --allow 127.0.0.1 --spike-check-s 3600 --max-attempts 2 --retry-ms 100 \
    --consumer t1 >"$tmp/worker.out" 2>"$tmp/worker.err" &
worker=$!
pids+=($worker)
wait_for 10 bash -c "redis-cli -s '$tmp/redis.sock' XINFO GROUPS es:events 2>/dev/null | grep -q alerts"
ms=$(($(date +%s%N) / 1000000))
redis-cli -s "$tmp/redis.sock" >/dev/null <<EOF
HSET es:{s4}:m:m4-1 id m4-1 platform weibo brand tlsbrand category service severity 3 complaint 0 text "over TLS" author_id t1
XADD es:events * type new mid m4-1 platform weibo brand tlsbrand category service severity 3 fence "" post_ms $ms ms $ms
EOF

# got LOG RCPT: the messages for RCPT in a sink's log, as "tls=<bool>" lines
got() { python3 - "$1" "$2" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("status") == 250 and "<%s>" % sys.argv[2] in r.get("rcpt", []):
        print("tls=%s ok=%s version=%s" % (r["tls"], r["ok"], r.get("tls_version")))
EOF
}
dead_n() { "$earshot" alerts dead | grep -c '"channel":"email"'; }
wait_for 20 bash -c "[ \$($(declare -f dead_n); earshot='$earshot' dead_n) -ge 3 ]"
wait_for 10 bash -c "$(declare -f got); got '$tmp/t.jsonl' tls@earshot.test | grep -q tls= &&
    got '$tmp/p.jsonl' plain@earshot.test | grep -q tls="

check "starttls_used_when_offered" test "$(got "$tmp/t.jsonl" tls@earshot.test)" = \
    "tls=True ok=True version=TLSv1.3"
check "plain_text_when_not_offered" test "$(got "$tmp/p.jsonl" plain@earshot.test)" = \
    "tls=False ok=True version=None"
check "self_signed_refused_by_system_cas" test -z "$(got "$tmp/t.jsonl" sysca@earshot.test)"
check "other_ca_refused" test -z "$(got "$tmp/t.jsonl" wrongca@earshot.test)"
check "tls_ca_requires_tls" test -z "$(got "$tmp/p.jsonl" required@earshot.test)"
"$earshot" alerts dead >"$tmp/dead.jsonl"
check "sink_saw_refused_handshakes" test "$(grep -c '"event": "tls_failed"' "$tmp/t.jsonl")" -ge 2
check "dead_letter_says_certificate" bash -c "grep '\"sub\":\"sysca\"' '$tmp/dead.jsonl' | grep -qi 'certificate'"
check "dead_letter_wrong_ca_says_certificate" bash -c "grep '\"sub\":\"wrongca\"' '$tmp/dead.jsonl' | grep -qi 'certificate'"
check "dead_letter_says_tls_required" bash -c "grep '\"sub\":\"required\"' '$tmp/dead.jsonl' | grep -qi 'SSL\|TLS'"
check "no_dead_letter_for_delivered" bash -c "! grep -q '\"sub\":\"tls\"\|\"sub\":\"plain\"' '$tmp/dead.jsonl'"

# the synchronous test message takes the same path
"$earshot" alerts test tls --allow 127.0.0.1 >"$tmp/test.out" 2>&1
check "alerts_test_over_starttls" grep -q 'channels\[0\] email: 250' "$tmp/test.out"
check "alerts_test_recorded_tls" test "$(got "$tmp/t.jsonl" tls@earshot.test | grep -c 'tls=True ok=True')" = 2
"$earshot" alerts test required --allow 127.0.0.1 >"$tmp/test2.out" 2>&1
check "alerts_test_refuses_plain_when_tls_ca" test $? = 1

kill -TERM "$worker"
wait "$worker" 2>/dev/null
check "worker_stops_cleanly" test $? = 0
if [ "$failed" != 0 ]; then
    echo "--- worker stderr (tail)"; tail -20 "$tmp/worker.err"
    echo "--- dead letters"; cat "$tmp/dead.jsonl"
    echo "--- sinks"; tail -n 5 "$tmp/t.jsonl" "$tmp/p.jsonl"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
