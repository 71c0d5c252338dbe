/*
 * The Lua scripts. Every multi-step state change is one of these, run with
 * EVALSHA, so it is atomic whatever the number of agents and instances.
 * Every key a script touches is passed in KEYS and shares the customer
 * shard's hash tag (docs/redis.md).
 *
 * Results: {status, reason, state, holder, lease_until, public_replies,
 * outbox_id, duplicate} with status "ok" or "refused" (reason set).
 */
#include "store/internal.h"

/* Shared prologue: result builder and claim check. */
#define LUA_COMMON                                                                                 \
    "local function res(st, reason, c)\n"                                                          \
    "  local h = {'', '0', '', '0'}\n"                                                             \
    "  if c then\n"                                                                                \
    "    local v = redis.call('HMGET', c, 'state', 'public_replies', 'holder', 'lease_until')\n"   \
    "    h = {v[1] or '', v[2] or '0', v[3] or '', v[4] or '0'}\n"                                 \
    "  end\n"                                                                                      \
    "  return {st, reason, h[1], h[3], h[4], h[2], '', '0'}\n"                                     \
    "end\n"                                                                                        \
    "local function holder_check(c, agent, now)\n"                                                 \
    "  local v = redis.call('HMGET', c, 'holder', 'lease_until')\n"                                \
    "  local holder, untl = v[1] or '', tonumber(v[2] or '0')\n"                                   \
    "  if holder ~= '' and untl > now and holder ~= agent then return 'claimed_by_other' end\n"    \
    "  if holder ~= agent or untl <= now then return 'not_claimed' end\n"                          \
    "  return nil\n"                                                                               \
    "end\n"                                                                                        \
    "local function hist(k, ev)\n"                                                                 \
    "  redis.call('LPUSH', k, cjson.encode(ev))\n"                                                 \
    "  redis.call('LTRIM', k, 0, 199)\n"                                                           \
    "end\n"

/*
 * mention_add
 * KEYS: 1 post, 2 m, 3 c, 4 q, 5 cust, 6 neg, 7 hist, 8 queues (set of the shard's queue keys),
 *       9 the shard's KPI hash of the day (es:{sK}:kpi:<yyyymmdd>),
 *       10 the shard's queue of every brand (es:{sK}:qall)
 * ARGV: 1 mid, 2 now_ms, 3 post_ttl_s, 4 queue score, 5 complaint (0/1), 6 conv id,
 *       7 platform, 8 root, 9 author, 10 brand, 11 number of mention fields,
 *       12 negative window ms, 13... the mention's fields as name, value pairs
 * Returns {created (0/1), mid, negatives in window}.
 */
static const char mention_add[] =
    "local existing = redis.call('GET', KEYS[1])\n"
    "if existing then return {0, existing, 0} end\n"
    "local now = tonumber(ARGV[2])\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])\n"
    "local st = redis.call('HGET', KEYS[3], 'state')\n"
    "local new_conv = false\n"
    "if not st then\n"
    "  redis.call('HSET', KEYS[3], 'id', ARGV[6], 'platform', ARGV[7], 'root', ARGV[8],\n"
    "    'author', ARGV[9], 'brand', ARGV[10], 'state', 'new', 'public_replies', 0,\n"
    "    'dm_open', 0, 'holder', '', 'lease_until', 0, 'first_ms', now)\n"
    "  st = 'new'\n"
    "  new_conv = true\n"
    "elseif st == 'resolved' then\n"
    "  st = 'new'\n"
    "  redis.call('HSET', KEYS[3], 'state', st)\n"
    "end\n"
    "redis.call('HINCRBY', KEYS[3], 'mentions', 1)\n"
    "redis.call('HSET', KEYS[3], 'last_mid', ARGV[1], 'last_ms', now)\n"
    "if #ARGV ~= 12 + 2 * tonumber(ARGV[11]) then return redis.error_reply('ERR mention fields') end\n"
    "redis.call('HSET', KEYS[2], 'id', ARGV[1], 'conv', ARGV[6], 'state', st,\n"
    "  'created_ms', now, 'updated_ms', now, unpack(ARGV, 13))\n"
    "if st ~= 'ignored' then\n"
    "  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])\n"
    "  redis.call('ZADD', KEYS[10], ARGV[4], ARGV[1])\n"
    "  redis.call('SADD', KEYS[8], KEYS[4])\n"
    "end\n"
    "redis.call('HINCRBY', KEYS[5], 'mentions', 1)\n"
    "local negs = 0\n"
    "if ARGV[5] == '1' then\n"
    "  redis.call('HINCRBY', KEYS[5], 'complaints', 1)\n"
    "  if new_conv then\n"
    "    redis.call('ZADD', KEYS[6], now, ARGV[1])\n"
    "    local kk = KEYS[9]\n"
    "    redis.call('HINCRBY', kk, 'complaints', 1)\n"
    "    redis.call('EXPIRE', kk, 8640000)\n"
    "  end\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - tonumber(ARGV[12]))\n"
    "  redis.call('PEXPIRE', KEYS[6], ARGV[12])\n"
    "  negs = redis.call('ZCARD', KEYS[6])\n"
    "  redis.call('HSET', KEYS[5], 'negatives_30d', negs)\n"
    "  if negs >= 2 then redis.call('HSET', KEYS[2], 'churn_risk', 1) end\n"
    "end\n"
    "redis.call('HSET', KEYS[5], 'last_ms', now)\n"
    "redis.call('LPUSH', KEYS[7], cjson.encode({t = 'mention', mid = ARGV[1], ms = now,\n"
    "  complaint = ARGV[5] == '1', conv = ARGV[6]}))\n"
    "redis.call('LTRIM', KEYS[7], 0, 199)\n"
    "return {1, ARGV[1], negs}\n";

/*
 * claim: take or renew the lease.
 * KEYS: 1 m, 2 c, 3 q   ARGV: 1 agent, 2 now_ms, 3 lease_ms
 */
static const char claim[] = LUA_COMMON
    "local now = tonumber(ARGV[2])\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then return res('refused', 'not_found') end\n"
    "local st = redis.call('HGET', KEYS[2], 'state')\n"
    "if st == 'resolved' or st == 'ignored' then return res('refused', 'bad_state', KEYS[2]) end\n"
    "local v = redis.call('HMGET', KEYS[2], 'holder', 'lease_until')\n"
    "local holder, untl = v[1] or '', tonumber(v[2] or '0')\n"
    "if holder ~= '' and untl > now and holder ~= ARGV[1] then\n"
    "  return res('refused', 'claimed_by_other', KEYS[2])\n"
    "end\n"
    "local nu = now + tonumber(ARGV[3])\n"
    "if st == 'new' then st = 'claimed' end\n"
    "redis.call('HSET', KEYS[2], 'holder', ARGV[1], 'lease_until', nu, 'state', st)\n"
    "redis.call('HSET', KEYS[1], 'state', st, 'holder', ARGV[1], 'lease_until', nu,\n"
    "  'updated_ms', now)\n"
    "return res('ok', '', KEYS[2])\n";

/* release: give the lease back. KEYS: 1 m, 2 c, 3 q   ARGV: 1 agent, 2 now_ms */
static const char release[] = LUA_COMMON
    "local now = tonumber(ARGV[2])\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then return res('refused', 'not_found') end\n"
    "local bad = holder_check(KEYS[2], ARGV[1], now)\n"
    "if bad then return res('refused', bad, KEYS[2]) end\n"
    "local st = redis.call('HGET', KEYS[2], 'state')\n"
    "if st == 'claimed' then st = 'new' end\n"
    "redis.call('HSET', KEYS[2], 'holder', '', 'lease_until', 0, 'state', st)\n"
    "redis.call('HSET', KEYS[1], 'state', st, 'holder', '', 'lease_until', 0, 'updated_ms', now)\n"
    "return res('ok', '', KEYS[2])\n";

/*
 * reply: the FEARS decision and the outbox entry, atomically.
 * KEYS: 1 m, 2 c, 3 q, 4 cust, 5 hist, 6 outbox, 7 idem, 8 kpi (the day's; optional),
 *       9 qall (the shard's queue of every brand)
 * ARGV: 1 agent, 2 now_ms, 3 kind (public|dm), 4 text, 5 dm_invite (0/1), 6 mid,
 *       7 idem key, 8 outbox maxlen, 9 idem ttl s, 10 first-response bucket ('' unknown),
 *       11 first-response s, 12 SLA met (1/0, '' unknown), 13 kpi ttl s
 */
static const char reply[] = LUA_COMMON
    "local prev = redis.call('GET', KEYS[7])\n"
    "if prev then\n"
    "  local r = cjson.decode(prev)\n"
    "  r[8] = '1'\n"
    "  return r\n"
    "end\n"
    "local now = tonumber(ARGV[2])\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then return res('refused', 'not_found') end\n"
    "local c = redis.call('HMGET', KEYS[2], 'state', 'public_replies', 'dm_open', 'platform',\n"
    "  'root', 'author', 'brand', 'id')\n"
    "local st, pr, dm = c[1], tonumber(c[2] or '0'), c[3] == '1'\n"
    "if st == 'resolved' or st == 'ignored' then return res('refused', 'bad_state', KEYS[2]) end\n"
    "local bad = holder_check(KEYS[2], ARGV[1], now)\n"
    "if bad then return res('refused', bad, KEYS[2]) end\n"
    "local kind = ARGV[3]\n"
    "if kind == 'public' then\n"
    "  if pr >= 2 then return res('refused', 'fears_reply_limit', KEYS[2]) end\n"
    "  if pr == 1 and ARGV[5] ~= '1' then return res('refused', 'fears_dm_required', KEYS[2]) end\n"
    "  pr = pr + 1\n"
    "  if pr == 1 then st = 'replied_1' else st = 'replied_2' end\n"
    "  redis.call('HSET', KEYS[2], 'public_replies', pr, 'state', st)\n"
    "  if pr == 2 then redis.call('HSET', KEYS[2], 'dm_open', 1, 'dm_opened_ms', now) end\n"
    "else\n"
    "  if not dm then return res('refused', 'fears_dm_not_open', KEYS[2]) end\n"
    "end\n"
    "local m = redis.call('HMGET', KEYS[1], 'post_id', 'author_handle')\n"
    "local id = redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[8], '*',\n"
    "  'kind', kind, 'mid', ARGV[6], 'conv', c[8] or '', 'platform', c[4] or '',\n"
    "  'in_reply_to', m[1] or '', 'root', c[5] or '', 'to', c[6] or '',\n"
    "  'to_handle', m[2] or '', 'brand', c[7] or '', 'text', ARGV[4], 'agent', ARGV[1],\n"
    "  'idem', ARGV[7], 'ms', now)\n"
    "redis.call('HSET', KEYS[1], 'state', st, 'updated_ms', now)\n"
    "redis.call('HSET', KEYS[2], 'last_reply_ms', now)\n"
    "if not redis.call('HGET', KEYS[2], 'first_reply_ms') then\n"
    "  redis.call('HSET', KEYS[2], 'first_reply_ms', now)\n"
    "end\n"
    "local sc = redis.call('ZSCORE', KEYS[3], ARGV[6])\n"
    "if sc then\n"
    "  -- answered: keep it in the queue, behind every unanswered one (deadline part only)\n"
    "  redis.call('ZADD', KEYS[3], tonumber(sc) % 1e10, ARGV[6])\n"
    "  redis.call('ZADD', KEYS[9], tonumber(sc) % 1e10, ARGV[6])\n"
    "end\n"
    "redis.call('HINCRBY', KEYS[4], 'replies', 1)\n"
    "if KEYS[8] then\n"
    "  local kk = KEYS[8]\n"
    "  if kind == 'dm' then\n"
    "    redis.call('HINCRBY', kk, 'dms', 1)\n"
    "  else\n"
    "    redis.call('HINCRBY', kk, 'public_replies', 1)\n"
    "    if pr == 2 then redis.call('HINCRBY', kk, 'dm_switch', 1) end\n"
    "    if pr == 1 then\n"
    "      redis.call('HINCRBY', kk, 'answered', 1)\n"
    "      if ARGV[10] ~= '' then\n"
    "        redis.call('HINCRBY', kk, 'frt_b' .. ARGV[10], 1)\n"
    "        redis.call('HINCRBY', kk, 'frt_n', 1)\n"
    "        redis.call('HINCRBY', kk, 'frt_sum_s', ARGV[11])\n"
    "      end\n"
    "      if ARGV[12] == '1' then redis.call('HINCRBY', kk, 'sla_met', 1)\n"
    "      elseif ARGV[12] == '0' then redis.call('HINCRBY', kk, 'sla_missed', 1) end\n"
    "    end\n"
    "  end\n"
    "  redis.call('EXPIRE', kk, ARGV[13])\n"
    "end\n"
    "hist(KEYS[5], {t = kind, mid = ARGV[6], ms = now, agent = ARGV[1], text = ARGV[4]})\n"
    "local out = res('ok', '', KEYS[2])\n"
    "out[7] = id\n"
    "redis.call('SET', KEYS[7], cjson.encode(out), 'EX', ARGV[9])\n"
    "return out\n";

/* resolve: KEYS: 1 m, 2 c, 3 q, 4 cust, 5 hist, 6 kpi, 7 qall
 * ARGV: 1 agent, 2 now_ms, 3 mid, 4 kpi ttl s */
static const char resolve[] = LUA_COMMON
    "local now = tonumber(ARGV[2])\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then return res('refused', 'not_found') end\n"
    "local st = redis.call('HGET', KEYS[2], 'state')\n"
    "if st ~= 'replied_1' and st ~= 'replied_2' then\n"
    "  return res('refused', 'bad_state', KEYS[2])\n"
    "end\n"
    "local bad = holder_check(KEYS[2], ARGV[1], now)\n"
    "if bad then return res('refused', bad, KEYS[2]) end\n"
    "redis.call('HSET', KEYS[2], 'state', 'resolved', 'resolved_ms', now, 'holder', '',\n"
    "  'lease_until', 0)\n"
    "redis.call('HSET', KEYS[1], 'state', 'resolved', 'updated_ms', now)\n"
    "redis.call('ZREM', KEYS[3], ARGV[3])\n"
    "redis.call('ZREM', KEYS[7], ARGV[3])\n"
    "redis.call('HINCRBY', KEYS[4], 'resolved', 1)\n"
    "redis.call('HSET', KEYS[4], 'last_outcome', 'resolved')\n"
    "if KEYS[6] then\n"
    "  redis.call('HINCRBY', KEYS[6], 'resolved', 1)\n"
    "  redis.call('EXPIRE', KEYS[6], ARGV[4])\n"
    "end\n"
    "hist(KEYS[5], {t = 'resolved', mid = ARGV[3], ms = now, agent = ARGV[1]})\n"
    "return res('ok', '', KEYS[2])\n";

/* ignore: KEYS: 1 m, 2 c, 3 q, 4 cust, 5 hist, 6 kpi, 7 qall
 * ARGV: 1 agent, 2 now_ms, 3 mid, 4 why, 5 kpi ttl s */
static const char ignore[] = LUA_COMMON
    "local now = tonumber(ARGV[2])\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then return res('refused', 'not_found') end\n"
    "local st = redis.call('HGET', KEYS[2], 'state')\n"
    "if st ~= 'new' and st ~= 'claimed' then return res('refused', 'bad_state', KEYS[2]) end\n"
    "local v = redis.call('HMGET', KEYS[2], 'holder', 'lease_until')\n"
    "if (v[1] or '') ~= '' and tonumber(v[2] or '0') > now and v[1] ~= ARGV[1] then\n"
    "  return res('refused', 'claimed_by_other', KEYS[2])\n"
    "end\n"
    "redis.call('HSET', KEYS[2], 'state', 'ignored', 'holder', '', 'lease_until', 0,\n"
    "  'ignored_why', ARGV[4])\n"
    "redis.call('HSET', KEYS[1], 'state', 'ignored', 'updated_ms', now)\n"
    "redis.call('ZREM', KEYS[3], ARGV[3])\n"
    "redis.call('ZREM', KEYS[7], ARGV[3])\n"
    "redis.call('HINCRBY', KEYS[4], 'ignored', 1)\n"
    "redis.call('HSET', KEYS[4], 'last_outcome', 'ignored')\n"
    "if KEYS[6] then\n"
    "  redis.call('HINCRBY', KEYS[6], 'ignored', 1)\n"
    "  redis.call('EXPIRE', KEYS[6], ARGV[5])\n"
    "end\n"
    "hist(KEYS[5], {t = 'ignored', mid = ARGV[3], ms = now, agent = ARGV[1], why = ARGV[4]})\n"
    "return res('ok', '', KEYS[2])\n";

/*
 * outbox_done: record the platform's id of a posted reply and acknowledge.
 * KEYS: 1 c, 2 outbox   ARGV: 1 entry id, 2 platform id, 3 kind, 4 now_ms
 */
static const char outbox_done[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  redis.call('HSET', KEYS[1], 'posted_' .. ARGV[1], ARGV[2])\n"
    "  if ARGV[3] == 'public' then\n"
    "    redis.call('HSET', KEYS[1], 'last_public_id', ARGV[2])\n"
    "  else\n"
    "    redis.call('HSET', KEYS[1], 'last_dm_id', ARGV[2])\n"
    "  end\n"
    "  redis.call('HINCRBY', KEYS[1], 'posted', 1)\n"
    "end\n"
    "return redis.call('XACK', KEYS[2], 'workers', ARGV[1])\n";

const char *es__script_source(enum es__script sc)
{
    switch (sc) {
    case ES__S_MENTION_ADD: return mention_add;
    case ES__S_CLAIM: return claim;
    case ES__S_RELEASE: return release;
    case ES__S_REPLY: return reply;
    case ES__S_RESOLVE: return resolve;
    case ES__S_IGNORE: return ignore;
    case ES__S_OUTBOX_DONE: return outbox_done;
    case ES__S_COUNT: break;
    }
    return "return nil";
}
