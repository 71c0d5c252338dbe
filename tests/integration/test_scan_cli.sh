#!/usr/bin/env bash
# earshot scan end to end: payload shapes detected per line, bad lines
# reported with their line number and skipped, output order independent of
# the thread count, --all / --count / --stats, CSV input, exit codes.
set -euo pipefail
earshot=$1
shared=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
passed=0
check() { # name, then a command that must succeed
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}

mkdir -p "$tmp/kw" "$tmp/rules"
cat > "$tmp/kw/t.kw" <<'KW'
list complaint
  太慢
  lost my luggage
  re:never (buy|fly|order) .{0,20}again
brand acme "Acme"
  acme
  阿克米
  @acmehelp
KW
cat > "$tmp/rules/t.rules" <<'RULES'
rule c
  match @complaint
  category service
  severity 2
RULES
run() { "$earshot" scan --no-progress --keywords "$tmp/kw" --rules "$tmp/rules" "$@"; }

# Mixed shapes in one file: generic, Twitter v2 page, Twitter v1.1 status, Weibo mblog, a bad line.
cat > "$tmp/mixed.jsonl" <<'JSONL'
{"id":"g1","text":"阿克米外卖太慢","lang":"zh"}
{"data":[{"id":"1001","text":"@acmehelp lost my luggage","author_id":"7","created_at":"2024-05-01T10:00:00.000Z","lang":"en"},{"id":"1002","text":"fine day","author_id":"7"}],"includes":{"users":[{"id":"7","name":"Ann","username":"ann"}]}}
{"id_str":"2001","id":2001,"full_text":"I will never fly with acme again","created_at":"Wed Oct 10 20:19:24 +0000 2018","user":{"id_str":"9","screen_name":"bo","name":"Bo","followers_count":5}}
{"ok":1,"data":{"cards":[{"card_type":9,"mblog":{"id":"3001","text":"等了两小时<br/>太慢了","created_at":"刚刚","user":{"id":1,"screen_name":"张三","followers_count":10}}}]}}
{"id":"broken", "text":
{"id":"g2","text":"nothing to see"}
JSONL

run "$tmp/mixed.jsonl" > "$tmp/out.jsonl" 2> "$tmp/err.txt" && rc=0 || rc=$?
check "exit 1 when complaints are found" test "$rc" = 1
check "four complaints across four payload shapes" test "$(wc -l < "$tmp/out.jsonl")" = 4
check "bad line reported with file and line number" grep -q "mixed.jsonl:5" "$tmp/err.txt"
check "ids of every shape" python3 - "$tmp/out.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ids = [r["id"] for r in rows]
assert ids == ["g1", "1001", "2001", "3001"], ids
for r in rows:
    assert r["complaint"] is True and r["category"] == "service" and r["severity"] == 2, r
    assert r["rules"] == ["c"], r
    assert isinstance(r["score"], (int, float)) and r["spans"], r
assert rows[0]["brand"] == "acme" and rows[1]["brand"] == "acme" and rows[3]["brand"] is None
assert rows[1]["platform"] == "twitter" and rows[3]["platform"] == "weibo"
span = [s for s in rows[1]["spans"] if "rule" in s][0]
assert span["text"] == "lost my luggage", span
PY

run --all "$tmp/mixed.jsonl" > "$tmp/all.jsonl" 2>/dev/null || true
check "--all prints every post" test "$(wc -l < "$tmp/all.jsonl")" = 6
check "--count prints the number" test "$(run --count "$tmp/mixed.jsonl" 2>/dev/null || true)" = 4
run --stats --count "$tmp/mixed.jsonl" > /dev/null 2> "$tmp/stats.txt" || true
check "--stats counts rules, brands and bad records" python3 - "$tmp/stats.txt" <<'PY'
import json, sys
line = [l for l in open(sys.argv[1], encoding="utf-8") if l.startswith("{")][-1]
s = json.loads(line)
assert s["posts"] == 6 and s["complaints"] == 4 and s["bad_records"] == 1, s
assert s["rules"] == {"c": 4} and s["brands"]["acme"] == 3 and s["categories"] == {"service": 4}, s
PY

# Order does not depend on threads: a bigger file of generated posts.
python3 - "$tmp/many.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for i in range(60000):
        t = ["阿克米太慢了", "good morning", "never order from acme again!", "今天天气不错"][i % 4]
        f.write(json.dumps({"id": "p%d" % i, "text": t + " #%d" % i}, ensure_ascii=False) + "\n")
PY
run -j 1 "$tmp/many.jsonl" > "$tmp/j1.jsonl" || true
run -j 4 "$tmp/many.jsonl" > "$tmp/j4.jsonl" || true
check "same output with 1 and 4 threads" cmp -s "$tmp/j1.jsonl" "$tmp/j4.jsonl"
check "30,000 of 60,000 generated posts flagged" test "$(wc -l < "$tmp/j1.jsonl")" = 30000

# stdin, and a file without a trailing newline
printf '{"id":"s1","text":"太慢"}' | run > "$tmp/stdin.jsonl" || true
check "stdin and a last line without newline" grep -q '"id":"s1"' "$tmp/stdin.jsonl"

# CSV: the real waimai reviews (text column "review").
if [ -f "$shared/waimai_10k/waimai_10k.csv" ]; then
    n=$(run --all --csv-text-column review "$shared/waimai_10k/waimai_10k.csv" 2>/dev/null | wc -l || true)
    check "every waimai CSV record judged" test "$n" = 11987
fi

# Exit codes.
run "$tmp/nonexistent.jsonl" > /dev/null 2>&1 && rc=0 || rc=$?
check "exit 3 on an unreadable file" test "$rc" = 3
"$earshot" scan --bogus > /dev/null 2>&1 && rc=0 || rc=$?
check "exit 2 on a usage error" test "$rc" = 2
printf 'rule x\n  match @nosuch\n' > "$tmp/rules/bad.rules"
run "$tmp/mixed.jsonl" > /dev/null 2>&1 && rc=0 || rc=$?
check "exit 2 when the rules do not load" test "$rc" = 2
"$earshot" rules check --keywords "$tmp/kw" --rules "$tmp/rules" > "$tmp/check.txt" 2>&1 && rc=0 || rc=$?
check "rules check exits 1 and names file:line:col" grep -q "bad.rules:2:9: error: unknown list '@nosuch'" "$tmp/check.txt"
check "rules check exit status 1" test "$rc" = 1
rm "$tmp/rules/bad.rules"

# The shipped keyword lists and rules load without errors.
"$earshot" rules check > "$tmp/shipped.txt" 2>&1 && rc=0 || rc=$?
check "shipped rules load without errors" test "$rc" = 0
run --all "$here/../../examples/posts.jsonl" > /dev/null 2>&1 || true

echo "$passed passed, $fail failed"
[ "$fail" = 0 ]
