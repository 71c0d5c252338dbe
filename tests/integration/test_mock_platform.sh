#!/usr/bin/env bash
# es-mock-platform end to end: every feed endpoint's shape, cursors that
# neither skip nor repeat (checked against /_mock/published), reply and DM
# recording, idempotency keys, each fault kind, HTTP limits, many
# keep-alive clients, --replay, --duration-s, loopback-only binding, and a
# clean SIGTERM exit (0 within 2 s, no sanitizer report: CI builds it with
# ASan).
#
# usage: bash test_mock_platform.sh EARSHOT_BIN SHARED_DATA_DIR
#        (ES_MOCK_PLATFORM = path of es-mock-platform)
set -uo pipefail
mock=${ES_MOCK_PLATFORM:-}
if [ -z "$mock" ] || [ ! -x "$mock" ]; then
    echo "ES_MOCK_PLATFORM is not set to the es-mock-platform binary" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
passed=0
failed=0
check() { # name, then a command that must succeed
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# start_mock NAME ARGS...: starts the mock, sets $port and $pid (and NAME.out / NAME.err in $tmp)
start_mock() {
    local name=$1; shift
    "$mock" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" &
    pid=$!
    pids+=("$pid")
    port=
    for _ in $(seq 1 100); do
        port=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("event") == "listening": print(d["port"]); break' "$tmp/$name.out" 2>/dev/null)
        [ -n "$port" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# stop_mock PID NAME: SIGTERM, must exit 0 within 2 s without a sanitizer report
stop_mock() {
    local p=$1 name=$2 t0 rc
    t0=$(date +%s%N)
    kill -TERM "$p"
    for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$p" 2>/dev/null; then echo "  $name: still running 2 s after SIGTERM"; return 1; fi
    wait "$p"; rc=$?
    if [ "$rc" != 0 ]; then echo "  $name: exit $rc"; cat "$tmp/$name.err"; return 1; fi
    if grep -qE 'Sanitizer|runtime error|handle left open' "$tmp/$name.err"; then
        cat "$tmp/$name.err"; return 1
    fi
    grep -q '"event":"stopped"' "$tmp/$name.out"
}

cat > "$tmp/h.py" <<'PY'
import http.client, json, socket, time, urllib.parse, math, sys
PORT = int(sys.argv[1])
def req(method, path, body=None, headers=None, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    h = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body, ensure_ascii=False).encode()
        h.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hd = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hd, data
def get(path, **kw):
    return req("GET", path, **kw)
def jget(path, **kw):
    s, h, b = get(path, **kw)
    assert s == 200, (path, s, b[:300])
    return json.loads(b)
def q(s):
    return urllib.parse.quote(s, safe="")
def km(lat1, lon1, lat2, lon2):
    r = math.pi / 180
    a = math.sin((lat2 - lat1) * r / 2) ** 2 + math.cos(lat1 * r) * math.cos(lat2 * r) * math.sin((lon2 - lon1) * r / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))
def published(platform=None):
    out, since = [], 0
    while True:
        page = jget("/_mock/published?since_seq=%d&limit=100000" % since)
        if not page: break
        out += page
        since = page[-1]["seq"]
    return [p for p in out if platform is None or p["platform"] == platform]
PY
py() { # py NAME <<'PY' ... : a python check against the running mock
    local name=$1
    check "$name" env PYTHONPATH="$tmp" python3 - "$port" < /dev/stdin
}

# ---------------------------------------------------------------- refusals
"$mock" --host 0.0.0.0 --port 0 > "$tmp/refuse.out" 2> "$tmp/refuse.err"; rc=$?
check "non-loopback --host is refused (exit 2)" test "$rc" = 2
check "the refusal says why" grep -q "non-loopback" "$tmp/refuse.err"
"$mock" --bogus > /dev/null 2>&1; rc=$?
check "unknown option exits 2" test "$rc" = 2

# ---------------------------------------------------------------- main instance
if ! start_mock main --port 0 --rate 200 --prefill 600 --seed 7; then
    echo "mock did not start"; cat "$tmp/main.err"; echo "$passed passed, $((failed + 1)) failed"; exit 1
fi
main_pid=$pid
echo "mock on port $port (pid $main_pid)"

py "healthz answers ok" <<'PY'
from h import *
s, h, b = get("/healthz")
assert s == 200 and b == b"ok", (s, b)
PY

py "twitter v2 search shape" <<'PY'
from h import *
d = jget("/2/tweets/search/recent?query=" + q("-qqqzzz") + "&max_results=100")
assert 10 <= len(d["data"]) <= 100
users = {u["id"]: u for u in d["includes"]["users"]}
for u in users.values():
    assert {"id", "name", "username", "verified"} <= set(u), u
    assert isinstance(u["public_metrics"]["followers_count"], int)
ids = [int(t["id"]) for t in d["data"]]
assert ids == sorted(ids, reverse=True), "newest first"
m = d["meta"]
assert m["newest_id"] == d["data"][0]["id"] and m["oldest_id"] == d["data"][-1]["id"]
assert m["result_count"] == len(d["data"])
for t in d["data"]:
    for k in ("id", "text", "author_id", "created_at", "lang", "conversation_id"):
        assert isinstance(t[k], str) and t[k], (k, t)
    assert t["author_id"] in users
    assert t["created_at"].endswith("Z") and len(t["created_at"]) == 24 and t["created_at"][19] == ".", t["created_at"]
    for mt in t.get("entities", {}).get("mentions", []):
        assert t["text"][mt["start"]:mt["end"]] == "@" + mt["username"], (t["text"], mt)
    for ht in t.get("entities", {}).get("hashtags", []):
        assert t["text"][ht["start"]:ht["end"]] == "#" + ht["tag"], (t["text"], ht)
replies = [t for t in d["data"] if t.get("referenced_tweets")]
assert replies, "some replies"
for t in replies:
    ref = t["referenced_tweets"][0]
    assert ref["type"] == "replied_to" and int(ref["id"]) < int(t["id"])
    assert t["conversation_id"] == ref["id"]
langs = {t["lang"] for t in d["data"]}
assert {"zh", "en"} <= langs, langs
PY

py "twitter v2 has:geo and point_radius" <<'PY'
from h import *
d = jget("/2/tweets/search/recent?query=has:geo&max_results=100")
assert d["data"], "geo posts exist"
places = {p["id"]: p for p in d["includes"]["places"]}
for t in d["data"]:
    g = t["geo"]
    assert g["coordinates"]["type"] == "Point" and len(g["coordinates"]["coordinates"]) == 2
    assert g["place_id"] in places
for p in places.values():
    assert p["full_name"] and p["country_code"] in ("CN", "US")
d = jget("/2/tweets/search/recent?query=" + q("point_radius:[-73.7781 40.6413 10km]") + "&max_results=100")
assert d["data"], "posts near JFK"
for t in d["data"]:
    lon, lat = t["geo"]["coordinates"]["coordinates"]
    assert km(lat, lon, 40.6413, -73.7781) <= 10, (lat, lon)
d = jget("/2/tweets/search/recent?query=" + q("point_radius:[116.3747 39.9087 5km]"))
for t in d.get("data", []):
    lon, lat = t["geo"]["coordinates"]["coordinates"]
    assert km(lat, lon, 39.9087, 116.3747) <= 5
PY

py "twitter v2 keyword query, users/:id/tweets, bad parameters" <<'PY'
from h import *
d = jget("/2/tweets/search/recent?query=" + q("delta OR 星巴克") + "&max_results=50")
for t in d.get("data", []):
    assert "delta" in t["text"].lower() or "星巴克" in t["text"], t["text"]
d = jget("/2/tweets/search/recent?query=" + q("-qqq") + "&max_results=10")
uid = d["data"][0]["author_id"]
u = jget("/2/users/%s/tweets?max_results=100" % uid)
assert u["data"] and all(t["author_id"] == uid for t in u["data"])
s, h, b = get("/2/tweets/search/recent?query=x&max_results=5")
assert s == 400 and json.loads(b)["errors"], (s, b)
s, h, b = get("/2/tweets/search/recent")
assert s == 400
PY

py "twitter v2 ETag / If-None-Match / Last-Modified" <<'PY'
from h import *
s, h, b = get("/2/tweets/search/recent?query=has:geo")
assert s == 200 and h.get("etag") and h.get("last-modified"), h
future = "1900000000000000000"
path = "/2/tweets/search/recent?query=qqq&since_id=" + future
s1, h1, b1 = get(path)
assert s1 == 200 and json.loads(b1)["meta"]["result_count"] == 0
s2, h2, b2 = get(path, headers={"If-None-Match": h1["etag"]})
assert s2 == 304 and b2 == b"", (s2, b2)
s3, h3, _ = get("/2/tweets/search/recent?query=has:geo", headers={"If-None-Match": '"nope"'})
assert s3 == 200
PY

py "twitter v1.1 search shape, geocode, next_results" <<'PY'
from h import *
d = jget("/1.1/search/tweets.json?q=" + q("-qqq") + "&count=50&tweet_mode=extended")
st = d["statuses"]
assert len(st) == 50
for s in st:
    assert s["id_str"] and isinstance(s["full_text"], str)
    u = s["user"]
    assert u["id_str"] and u["screen_name"] and isinstance(u["followers_count"], int) and "verified" in u
    assert s["created_at"].endswith(" +0000 " + s["created_at"][-4:]) and len(s["created_at"]) == 30
    assert "in_reply_to_status_id_str" in s and "user_mentions" in s["entities"]
    if s["coordinates"]:
        lon, lat = s["coordinates"]["coordinates"]
        assert s["geo"]["coordinates"] == [lat, lon]
        assert s["place"]["full_name"] and s["place"]["country_code"]
md = d["search_metadata"]
assert md["max_id_str"] == st[0]["id_str"] and md["count"] == 50 and "next_results" in md
nxt = jget("/1.1/search/tweets.json" + md["next_results"] + "&tweet_mode=extended")
assert int(nxt["statuses"][0]["id_str"]) < int(st[-1]["id_str"])
d = jget("/1.1/search/tweets.json?q=&geocode=40.6413,-73.7781,5km&count=100")
assert d["statuses"]
for s in d["statuses"]:
    lon, lat = s["coordinates"]["coordinates"]
    assert km(lat, lon, 40.6413, -73.7781) <= 5
replies = [s for s in jget("/1.1/search/tweets.json?q=" + q("is:reply") + "&count=20")["statuses"]]
assert replies and all(s["in_reply_to_status_id_str"] for s in replies)
PY

py "weibo m.weibo.cn getIndex shape" <<'PY'
from h import *
import re
d = jget("/api/container/getIndex?containerid=" + q("100103type=1&q=-qqq") + "&count=50")
assert d["ok"] == 1
cards = d["data"]["cards"]
assert cards and "since_id" in d["data"]["cardlistInfo"]
absolute = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \+0800 \d{4}$")
relative = re.compile(r"^(刚刚|\d+分钟前|\d+小时前|昨天 \d\d:\d\d|\d\d-\d\d)$")
for c in cards:
    assert c["card_type"] == 9
    m = c["mblog"]
    assert m["id"] == m["idstr"] == m["mid"]
    assert absolute.match(m["created_at"]) or relative.match(m["created_at"]), m["created_at"]
    u = m["user"]
    assert isinstance(u["id"], int) and u["screen_name"] and isinstance(u["followers_count"], int)
    assert isinstance(u["verified"], bool)
    if m["geo"]:
        lat, lon = m["geo"]["coordinates"]  # Weibo puts latitude first
        places = [(39.9087, 116.3747), (31.2323, 121.4692), (40.0799, 116.6031),
                  (40.6413, -73.7781), (40.7580, -73.9855), (41.9742, -87.9073)]
        assert min(km(lat, lon, a, b) for a, b in places) < 3, (lat, lon)
texts = " ".join(c["mblog"]["text"] for c in cards)
assert "<" in texts, "HTML in Weibo text"
d = jget("/api/container/getIndex?containerid=" + q("100103type=1&q=美团"))
for c in d["data"]["cards"]:
    assert "美团" in c["mblog"]["text"]
PY

py "weibo.com ajax mymblog shape and stable pages" <<'PY'
from h import *
d = jget("/api/container/getIndex?containerid=" + q("100103type=1&q=-qqq") + "&count=100")
from collections import Counter
uid = Counter(c["mblog"]["user"]["id"] for c in d["data"]["cards"]).most_common(1)[0][0]
p1 = jget("/ajax/statuses/mymblog?uid=%d&page=1" % uid)
assert p1["ok"] == 1 and p1["data"]["list"]
for s in p1["data"]["list"]:
    assert s["user"]["id"] == uid and isinstance(s["text_raw"], str) and s["idstr"]
    assert "<" not in s["text_raw"] or True
time.sleep(0.3)
p2 = jget("/ajax/statuses/mymblog?uid=%d&page=2" % uid)
ids1 = [s["idstr"] for s in p1["data"]["list"]]
ids2 = [s["idstr"] for s in p2["data"]["list"]]
assert not set(ids1) & set(ids2)
if len(ids1) == 20 and ids2:
    assert int(ids2[0]) < int(ids1[-1])
PY

py "wechat msgrecord and push shapes" <<'PY'
from h import *
import xml.etree.ElementTree as ET
s, h, b = req("POST", "/cgi-bin/customservice/msgrecord/getmsglist?access_token=T",
              {"starttime": 0, "endtime": 4102444800, "msgid": 1, "number": 100})
d = json.loads(b)
assert d["recordlist"] and d["number"] == len(d["recordlist"]) and isinstance(d["msgid"], int)
for r in d["recordlist"]:
    assert r["opercode"] == 2003 and r["openid"] and r["text"] and isinstance(r["time"], int) and "worker" in r
s, h, b = req("POST", "/cgi-bin/customservice/msgrecord/getmsglist",
              {"starttime": 0, "endtime": 1, "msgid": 1, "number": 1})
assert json.loads(b)["errcode"] == 41001
s, h, b = get("/_mock/wechat/push?since=0&limit=1000")
arr = json.loads(b)
assert arr and h.get("x-mock-next-since")
kinds = set()
for x in arr:
    e = ET.fromstring(x)
    kinds.add(e.findtext("MsgType"))
    assert e.findtext("FromUserName") and e.findtext("CreateTime").isdigit() and e.findtext("MsgId")
    if e.findtext("MsgType") == "location":
        float(e.findtext("Location_X")); float(e.findtext("Location_Y")); assert e.findtext("Label")
    else:
        assert e.findtext("Content")
assert kinds == {"text", "location"}, kinds
assert int(h["x-mock-next-since"]) == int(ET.fromstring(arr[-1]).findtext("MsgId"))
PY

py "twitter since_id/next_token polling: no gaps, no duplicates" <<'PY'
from h import *
seen, since, deadline = [], None, time.time() + 2.5
while True:
    newest, tok = None, None
    while True:
        path = "/2/tweets/search/recent?query=" + q("-qqq") + "&max_results=100"
        if since: path += "&since_id=" + since
        if tok: path += "&next_token=" + tok
        d = jget(path)
        if newest is None:
            newest = d["meta"].get("newest_id")
        seen += [t["id"] for t in d.get("data", [])]
        tok = d["meta"].get("next_token")
        if not tok: break
    if newest: since = newest
    if time.time() > deadline: break
    time.sleep(0.2)
assert len(seen) == len(set(seen)), "duplicates"
pub = [p["id"] for p in published("twitter") if int(p["id"]) <= int(since)]
assert sorted(seen, key=int) == pub, (len(seen), len(pub))
print("  twitter: %d posts polled" % len(seen))
PY

py "weibo since_id crawling: no gaps, no duplicates" <<'PY'
from h import *
# the m.weibo.cn way: read page 1, follow cardlistInfo.since_id (older pages)
# until a known id shows up; repeat
known, order, deadline = set(), [], time.time() + 2.0
cid = q("100103type=1&q=-qqq")
while True:
    cursor, stop = None, False
    while not stop:
        d = jget("/api/container/getIndex?containerid=%s&count=50%s" % (cid, "&since_id=%s" % cursor if cursor else ""))
        for c in d["data"]["cards"]:
            i = c["mblog"]["id"]
            if i in known: stop = True; break
            known.add(i); order.append(i)
        cursor = d["data"]["cardlistInfo"].get("since_id")
        if not cursor: break
    if time.time() > deadline: break
    time.sleep(0.2)
top = max(int(i) for i in known)
pub = [p["id"] for p in published("weibo") if int(p["id"]) <= top]
assert sorted(known, key=int) == pub, (len(known), len(pub))
PY

py "wechat msgid cursor and push since: no gaps, no duplicates" <<'PY'
from h import *
got, msgid, deadline = [], 1, time.time() + 1.5
while time.time() < deadline:
    s, h, b = req("POST", "/cgi-bin/customservice/msgrecord/getmsglist?access_token=T",
                  {"starttime": 0, "endtime": 4102444800, "msgid": msgid, "number": 37})
    d = json.loads(b)
    got += [(r["openid"], r["time"], r["text"]) for r in d["recordlist"]]
    msgid = d["msgid"]
    if not d["recordlist"]: time.sleep(0.1)
pushed, since = [], 0
while True:
    s, h, b = get("/_mock/wechat/push?since=%d&limit=53" % since)
    arr = json.loads(b)
    if not arr: break
    pushed += [x.split("<MsgId>")[1].split("<")[0] for x in arr]
    since = int(h["x-mock-next-since"])
assert len(pushed) == len(set(pushed))
pub = [p["id"] for p in published("wechat")]
assert pushed == pub[:len(pushed)] and len(pushed) >= len(got), (len(pushed), len(pub))
assert len(got) == len([p for p in pub if int(p) - 7000000000000000 < msgid])
PY

py "published bookkeeping" <<'PY'
from h import *
a = jget("/_mock/published?since_seq=0&limit=5")
assert [p["seq"] for p in a] == [1, 2, 3, 4, 5]
for p in a:
    assert p["platform"] in ("twitter", "weibo", "wechat") and p["id"] and p["published_ms"] > 1.6e12
b = jget("/_mock/published?since_seq=3&limit=2")
assert [p["seq"] for p in b] == [4, 5]
PY

# ---------------------------------------------------------------- replies and DMs
py "replies and DMs are recorded" <<'PY'
from h import *
req("POST", "/_mock/reset")
d = jget("/2/tweets/search/recent?query=" + q("-qqq") + "&max_results=10")
tw = d["data"][0]
s, h, b = req("POST", "/2/tweets", {"text": "Sorry about the wait, we're on it", "reply": {"in_reply_to_tweet_id": tw["id"]}})
r = json.loads(b)
assert s == 201 and r["data"]["id"] and r["data"]["text"] == "Sorry about the wait, we're on it", (s, b)
s, h, b = req("POST", "/2/dm_conversations/with/%s/messages" % tw["author_id"], {"text": "Could you DM us your order number?"})
r2 = json.loads(b)
assert s == 201 and r2["data"]["dm_conversation_id"] and r2["data"]["dm_event_id"], b
wb = jget("/api/container/getIndex?containerid=" + q("100103type=1&q=-qqq"))["data"]["cards"][0]["mblog"]
form = {"Content-Type": "application/x-www-form-urlencoded"}
s, h, b = req("POST", "/2/comments/create.json", "id=%s&comment=%s" % (wb["id"], q("非常抱歉，我们马上处理")), headers=form)
c = json.loads(b)
assert s == 200 and c["idstr"] and c["text"] == "非常抱歉，我们马上处理" and c["status"]["idstr"] == wb["id"] and c["created_at"], b
s, h, b = req("POST", "/2/comments/reply.json", "cid=%s&id=%s&comment=%s" % (c["idstr"], wb["id"], q("已私信您")), headers=form)
assert s == 200 and json.loads(b)["reply_comment"]["idstr"] == c["idstr"], b
s, h, b = req("POST", "/2/direct_messages/new.json", "uid=%s&text=%s" % (wb["user"]["id"], q("您好，请提供订单号")), headers=form)
assert s == 200 and json.loads(b)["idstr"], b
s, h, b = req("POST", "/cgi-bin/message/custom/send?access_token=T", {"touser": "oMk000100abc", "msgtype": "text", "text": {"content": "您好"}})
assert json.loads(b) == {"errcode": 0, "errmsg": "ok"}, b
s, h, b = req("POST", "/cgi-bin/message/custom/send", {"touser": "x", "msgtype": "text", "text": {"content": "x"}})
assert json.loads(b)["errcode"] == 41001
s, h, b = req("POST", "/2/tweets", {"nope": 1})
assert s == 400
s, h, b = req("POST", "/2/tweets", {"text": "长" * 141})
assert s == 403, s
s, h, b = req("POST", "/2/comments/create.json", "id=1", headers=form)
assert s == 400 and json.loads(b)["error_code"] == 10016
p = jget("/_mock/posted")
eps = [x["endpoint"] for x in p["posted"]]
assert eps == ["twitter.v2.tweets", "twitter.v2.dm", "weibo.comments.create", "weibo.comments.reply",
               "weibo.direct_messages.new", "wechat.custom.send"], eps
x = p["posted"]
assert x[0]["in_reply_to"] == tw["id"] and x[0]["to"] == tw["author_id"] and x[0]["platform_id"] == r["data"]["id"]
assert x[1]["to"] == tw["author_id"] and x[1]["in_reply_to"] is None
assert x[2]["in_reply_to"] == wb["id"] and x[2]["to"] == str(wb["user"]["id"]) and x[2]["text"] == "非常抱歉，我们马上处理"
assert x[4]["to"] == str(wb["user"]["id"]) and x[5]["to"] == "oMk000100abc"
for y in x:
    assert set(y) >= {"seq", "endpoint", "key", "in_reply_to", "to", "text", "platform_id", "received_ms"}
    assert y["key"] is None
assert [y["seq"] for y in x] == sorted(y["seq"] for y in x)
PY

py "idempotency keys: same response, one record" <<'PY'
from h import *
req("POST", "/_mock/reset")
k = {"Idempotency-Key": "reply-42"}
s1, h1, b1 = req("POST", "/2/tweets", {"text": "first try", "reply": {"in_reply_to_tweet_id": "1800000000000000001"}}, headers=k)
s2, h2, b2 = req("POST", "/2/tweets", {"text": "first try", "reply": {"in_reply_to_tweet_id": "1800000000000000001"}}, headers=k)
assert s1 == s2 == 201 and b1 == b2, (b1, b2)
form = {"Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": "wb-1"}
_, _, c1 = req("POST", "/2/comments/create.json", "id=4900000000000002&comment=hi", headers=form)
_, _, c2 = req("POST", "/2/comments/create.json", "id=4900000000000002&comment=hi", headers=form)
assert c1 == c2
req("POST", "/2/tweets", {"text": "no key"})
req("POST", "/2/tweets", {"text": "no key"})
p = jget("/_mock/posted")
assert len(p["posted"]) == 4 and p["duplicates_dropped"] == 2, p
assert [y["key"] for y in p["posted"]] == ["reply-42", "wb-1", None, None]
req("POST", "/_mock/reset")
p = jget("/_mock/posted")
assert p["posted"] == [] and p["duplicates_dropped"] == 0
PY

# ---------------------------------------------------------------- faults
py "faults: 5xx, 429, wrong_content_type, invalid_json, count" <<'PY'
from h import *
S = "/2/tweets/search/recent?query=" + q("-qqq")
def fault(**kw):
    s, h, b = req("POST", "/_mock/faults", dict(path_prefix="/2/tweets/search", **kw))
    assert s == 200 and json.loads(b)["queued"] == 1, b
fault(kind="5xx", count=2)
assert get(S)[0] == 503 and get(S)[0] == 503 and get(S)[0] == 200
fault(kind="429", retry_after_s=7)
s, h, b = get(S)
assert s == 429 and h["retry-after"] == "7" and "x-rate-limit-reset" in h, (s, h)
assert get(S)[0] == 200
fault(kind="wrong_content_type")
s, h, b = get(S)
assert h["content-type"].startswith("text/html") and b.lstrip().startswith(b"<!DOCTYPE html>")
fault(kind="invalid_json")
s, h, b = get(S)
try:
    json.loads(b); ok = False
except ValueError:
    ok = True
assert ok and s == 200
assert get("/_mock/stats")[0] == 200 and get("/healthz")[0] == 200
# a write refused by 5xx is not recorded
req("POST", "/_mock/reset")
req("POST", "/_mock/faults", {"path_prefix": "/2/tweets", "kind": "5xx"})
s, h, b = req("POST", "/2/tweets", {"text": "refused"})
assert s == 503 and jget("/_mock/posted")["posted"] == []
s, h, b = req("POST", "/_mock/faults", {"kind": "bogus"})
assert s == 400
PY

py "faults: invalid_utf8 and huge go into a post text" <<'PY'
from h import *
S = "/2/tweets/search/recent?query=" + q("-qqq")
req("POST", "/_mock/faults", {"path_prefix": "/2/tweets/search", "kind": "invalid_utf8"})
s, h, b = get(S)
assert s == 200 and b"\xc3\x28" in b
try:
    b.decode("utf-8"); ok = False
except UnicodeDecodeError:
    ok = True
assert ok
req("POST", "/_mock/faults", {"path_prefix": "/2/tweets/search", "kind": "huge"})
s, h, b = get(S)
d = json.loads(b)
assert len(b) > 1 << 20 and max(len(t["text"]) for t in d["data"]) > 300000, len(b)
# an empty page cannot carry it: the fault waits for a page with posts
req("POST", "/_mock/faults", {"path_prefix": "/2/tweets/search", "kind": "huge"})
s, h, b = get(S + "&since_id=1900000000000000000")
assert s == 200 and len(b) < 1000
assert jget("/_mock/faults")["faults"][0]["kind"] == "huge"
s, h, b = get(S)
assert len(b) > 1 << 20 and jget("/_mock/faults")["faults"] == []
PY

py "faults: stall, slow, truncated, reset" <<'PY'
from h import *
S = "/2/tweets/search/recent?query=" + q("-qqq") + "&max_results=10"
def raw(path, timeout):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    return s
# stall: nothing for as long as the client waits
req("POST", "/_mock/faults", {"path_prefix": "/2/tweets/search", "kind": "stall"})
s = raw(S, 1.0)
try:
    data = s.recv(1); stalled = False
except socket.timeout:
    stalled = True
s.close()
assert stalled
# slow: a few bytes every 100 ms, but all of it in the end
req("POST", "/_mock/faults", {"path_prefix": "/2/tweets/search", "kind": "slow", "chunk_bytes": 2000})
t0 = time.time()
s, h, b = get(S, timeout=30)
dt = time.time() - t0
assert s == 200 and dt >= 0.2 and json.loads(b)["data"], (s, dt)
# truncated: half the body, then the connection closes
req("POST", "/_mock/faults", {"path_prefix": "/2/tweets/search", "kind": "truncated"})
c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
c.request("GET", S)
r = c.getresponse()
try:
    r.read(); truncated = False
except http.client.IncompleteRead as e:
    truncated = len(e.partial) > 0
assert truncated
# reset: RST instead of an answer
req("POST", "/_mock/faults", {"path_prefix": "/2/tweets/search", "kind": "reset"})
s = raw(S, 5)
try:
    data = s.recv(100); reset = data == b""
except ConnectionResetError:
    reset = True
assert reset
st = jget("/_mock/stats")
f = st["faults"]
for k in ("5xx", "429", "stall", "slow", "truncated", "invalid_json", "invalid_utf8", "huge", "wrong_content_type", "reset"):
    assert f[k] >= 1, (k, f)
assert st["faults_injected"] == sum(f.values())
assert get("/healthz")[0] == 200
PY

# ---------------------------------------------------------------- HTTP handling
py "HTTP: keep-alive, 404, 405, 413, 431, chunked body" <<'PY'
from h import *
c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
for _ in range(20):
    c.request("GET", "/healthz"); r = c.getresponse(); assert r.read() == b"ok"
c.close()
s, h, b = get("/nope")
assert s == 404 and json.loads(b)["error"] == "not_found"
s, h, b = req("DELETE", "/2/tweets")
assert s == 405
s, h, b = req("POST", "/2/tweets", b"x" * (1024 * 1024 + 10))
assert s == 413, s
s, h, b = get("/healthz", headers={"X-Big": "a" * 20000})
assert s == 431, s
sk = socket.create_connection(("127.0.0.1", PORT), timeout=5)
body = json.dumps({"text": "chunked hello"}).encode()
sk.sendall(b"POST /2/tweets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
           + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
resp = b""
while b"\r\n\r\n" not in resp or not resp.rstrip().endswith(b"}}"):
    resp += sk.recv(4096)
sk.close()
assert resp.startswith(b"HTTP/1.1 201"), resp[:100]
# pipelined requests come back in order
sk = socket.create_connection(("127.0.0.1", PORT), timeout=5)
sk.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
resp = b""
while resp.count(b"HTTP/1.1") < 2 or not resp.endswith(b"}"):
    resp += sk.recv(4096)
sk.close()
assert resp.index(b"200 OK") < resp.index(b"404 Not Found")
PY

py "1000 concurrent keep-alive clients" <<'PY'
from h import *
socks = [socket.create_connection(("127.0.0.1", PORT), timeout=10) for _ in range(1000)]
for rnd in range(2):
    for s in socks:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    for s in socks:
        buf = b""
        while not buf.endswith(b"ok"):
            chunk = s.recv(4096)
            assert chunk, "closed"
            buf += chunk
        assert buf.startswith(b"HTTP/1.1 200")
st = jget("/_mock/stats")
assert st["connections"]["open"] >= 1000, st["connections"]
for s in socks: s.close()
PY

check "SIGTERM: exit 0 within 2 s, no sanitizer report" stop_mock "$main_pid" main

# ---------------------------------------------------------------- determinism
start_mock det1 --rate 0 --prefill 300 --seed 99 && p1=$port && d1=$pid
start_mock det2 --rate 0 --prefill 300 --seed 99 && p2=$port && d2=$pid
start_mock det3 --rate 0 --prefill 300 --seed 100 && p3=$port && d3=$pid
det_check() {
    python3 - "$p1" "$p2" "$p3" <<'PY'
import json, sys, urllib.request
def page(port):
    u = "http://127.0.0.1:%s/2/tweets/search/recent?query=-qqq&max_results=100" % port
    d = json.load(urllib.request.urlopen(u))
    return [(t["id"], t["text"], t["author_id"]) for t in d["data"]]
a, b, c = page(sys.argv[1]), page(sys.argv[2]), page(sys.argv[3])
assert a == b, "same seed, same posts"
assert a != c, "another seed, other posts"
PY
}
check "the same seed gives the same posts" det_check
check "det1 stops cleanly" stop_mock "$d1" det1
check "det2 stops cleanly" stop_mock "$d2" det2
check "det3 stops cleanly" stop_mock "$d3" det3

# ---------------------------------------------------------------- --fault-rate, --platforms
rate_check() {
    python3 - "$port" <<'PY'
import json, sys, urllib.request, urllib.error
base = "http://127.0.0.1:%s" % sys.argv[1]
codes = []
for _ in range(20):
    try:
        urllib.request.urlopen(base + "/2/tweets/search/recent?query=-q").read(); codes.append(200)
    except urllib.error.HTTPError as e:
        codes.append(e.code)
assert codes.count(503) >= 5 and codes.count(200) >= 2, codes
assert urllib.request.urlopen(base + "/healthz").read() == b"ok"
st = json.load(urllib.request.urlopen(base + "/_mock/stats"))
assert st["faults"]["5xx"] == codes.count(503) and st["faults_injected"] == codes.count(503), st
pub = json.load(urllib.request.urlopen(base + "/_mock/published?limit=100"))
assert len(pub) == 50 and {p["platform"] for p in pub} == {"twitter"}
PY
}
if start_mock frate --rate 0 --prefill 50 --platforms twitter --fault-rate 0.5 --fault-kinds 5xx; then
    check "--fault-rate injects seeded random faults; --platforms limits platforms" rate_check
    check "fault-rate instance stops cleanly" stop_mock "$pid" frate
else
    check "--fault-rate starts" false
fi

# ---------------------------------------------------------------- replay
cat > "$tmp/replay.jsonl" <<'JSONL'
{"id":"r1","text":"西单店排队排到门外，太离谱","author":{"id":"u1","name":"张三","screen_name":"zhangsan","followers":120,"verified":false},"created_at":"2024-05-01T10:00:00Z","lang":"zh","geo":{"lat":39.9087,"lon":116.3747},"platform":"weibo"}
{"id":"r2","text":"@united lost my bag at JFK","author":{"id":"u2","name":"Ann","username":"ann"},"lang":"en","platform":"twitter","geo":{"coordinates":[-73.7781,40.6413]}}
not json
{"id":"r3","text":"客服电话打不通","platform":"wechat"}
JSONL
replay_check() {
    python3 - "$port" <<'PY'
import json, sys, time, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
for _ in range(50):
    pub = json.load(urllib.request.urlopen(base + "/_mock/published"))
    if len(pub) == 3: break
    time.sleep(0.05)
assert [p["platform"] for p in pub] == ["weibo", "twitter", "wechat"], pub
d = json.load(urllib.request.urlopen(base + "/2/tweets/search/recent?query=united"))
t = d["data"][0]
assert t["text"] == "@united lost my bag at JFK" and t["geo"]["coordinates"]["coordinates"] == [-73.7781, 40.6413]
assert d["includes"]["users"][0]["username"] == "ann"
w = json.load(urllib.request.urlopen(base + "/api/container/getIndex?containerid=x"))
m = w["data"]["cards"][0]["mblog"]
assert "西单店" in m["text"] and m["user"]["screen_name"] == "zhangsan" and m["geo"]["coordinates"] == [39.9087, 116.3747]
PY
}
if start_mock replay --replay "$tmp/replay.jsonl" --rate 100; then
    check "--replay publishes the file's posts in the platforms' shapes" replay_check
    check "--replay reports the bad line" grep -q 'replay.jsonl:3' "$tmp/replay.err"
    check "replay instance stops cleanly" stop_mock "$pid" replay
else
    check "--replay starts" false
fi

# ---------------------------------------------------------------- --duration-s
t0=$(date +%s%N)
"$mock" --port 0 --rate 50000 --duration-s 1 > "$tmp/dur.out" 2> "$tmp/dur.err"; rc=$?
t1=$(date +%s%N)
check "--duration-s stops by itself with exit 0" test "$rc" = 0
check "--duration-s 1 takes about a second" test $(( (t1 - t0) / 1000000 )) -lt 5000
check "--duration-s: no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$tmp/dur.err'"
check "50,000 posts/s generation keeps up" python3 - "$tmp/dur.out" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert ev[-1]["event"] == "stopped" and ev[-1]["reason"] == "duration"
assert ev[-1]["posts_generated"] >= 40000, ev[-1]
PY

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
