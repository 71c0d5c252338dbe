/* The synchronous connection: open (embedded or URL), commands, EVALSHA with NOSCRIPT reload. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "earshot/alloc.h"
#include "store/internal.h"

void es_store_default_dir(char *out, size_t n)
{
    const char *d = getenv("EARSHOT_DATA_DIR");
    if (d && *d)
        snprintf(out, n, "%s", d);
    else if (getenv("XDG_DATA_HOME") && *getenv("XDG_DATA_HOME"))
        snprintf(out, n, "%s/earshot", getenv("XDG_DATA_HOME"));
    else if (getenv("HOME") && *getenv("HOME"))
        snprintf(out, n, "%s/.local/share/earshot", getenv("HOME"));
    else
        snprintf(out, n, "/tmp/earshot-%ld", (long)getuid());
}

static int connect_now(struct es_store *s, struct es_diag *d)
{
    struct timeval tv = {s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000};
    if (s->c)
        redisFree(s->c);
    s->c = s->sock[0] ? redisConnectUnixWithTimeout(s->sock, tv)
                      : redisConnectWithTimeout(s->host, s->port, tv);
    if (!s->c)
        return ES_ENOMEM;
    if (s->c->err) {
        es_diag_set(d, s->sock[0] ? s->sock : s->host, 0, 0, "cannot connect to Redis: %s",
                    s->c->errstr);
        redisFree(s->c);
        s->c = NULL;
        return ES_EIO;
    }
    redisSetTimeout(s->c, tv);
    return 0;
}

/* parse_url: "unix:///path" or "redis://host[:port][/db]". */
static int parse_url(struct es_store *s, const char *url, struct es_diag *d)
{
    if (strncmp(url, "unix://", 7) == 0) {
        snprintf(s->sock, sizeof s->sock, "%s", url + 7);
        return s->sock[0] ? 0 : es_diag_set(d, url, 0, 0, "unix URL without a path");
    }
    if (strncmp(url, "redis://", 8) != 0)
        return es_diag_set(d, url, 0, 0, "Redis URL must start with redis:// or unix://");
    const char *h = url + 8, *at = strchr(h, '@');
    if (at)
        h = at + 1; /* credentials are not supported here: use a unix socket or ACL-free Redis */
    size_t hl = strcspn(h, ":/");
    if (hl == 0 || hl >= sizeof s->host)
        return es_diag_set(d, url, 0, 0, "Redis URL without a host");
    memcpy(s->host, h, hl);
    s->host[hl] = '\0';
    s->port = 6379;
    if (h[hl] == ':') {
        char *end;
        long p = strtol(h + hl + 1, &end, 10);
        if (p <= 0 || p > 65535 || (*end && *end != '/'))
            return es_diag_set(d, url, 0, 0, "bad port in Redis URL");
        s->port = (int)p;
    }
    return 0;
}

/*
 * Data sets written before the shard-wide queues existed (schema 1) get them
 * built once from the shard's brand queues: one atomic script per shard, so a
 * mention added meanwhile is in both; running it twice gives the same result.
 */
#define SCHEMA "2"

static int migrate(struct es_store *s)
{
    const char *get[] = {"GET", "es:schema"};
    redisReply *r = es__cmd(s, 2, get, NULL);
    if (!r)
        return ES_EIO;
    bool current = r->type == REDIS_REPLY_STRING && atoi(r->str) >= atoi(SCHEMA);
    freeReplyObject(r);
    if (current)
        return 0;
    static const char build_qall[] =
        "local qs = redis.call('SMEMBERS', KEYS[1])\n"
        "redis.call('DEL', KEYS[2])\n"
        "if #qs > 0 then\n"
        "  redis.call('ZUNIONSTORE', KEYS[2], #qs, unpack(qs))\n"
        "end\n"
        "return #qs\n";
    for (int k = 0; k < ES_STORE_SHARDS; k++) {
        char queues[32], qall[32];
        snprintf(queues, sizeof queues, "es:{s%d}:queues", k);
        snprintf(qall, sizeof qall, "es:{s%d}:qall", k);
        const char *argv[] = {"EVAL", build_qall, "2", queues, qall};
        r = es__cmd(s, 5, argv, NULL);
        bool ok = r && r->type == REDIS_REPLY_INTEGER;
        if (r)
            freeReplyObject(r);
        if (!ok)
            return ES_EIO;
    }
    const char *set[] = {"SET", "es:schema", SCHEMA};
    r = es__cmd(s, 3, set, NULL);
    if (!r)
        return ES_EIO;
    freeReplyObject(r);
    return 0;
}

int es_store_open(const struct es_store_opts *o, struct es_store **out, struct es_diag *d)
{
    struct es_store *s = es_calloc(1, sizeof *s);
    if (!s)
        return ES_ENOMEM;
    s->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : 5000;
    const char *url = o ? o->redis_url : NULL;
    if (!url || !*url)
        url = getenv("EARSHOT_REDIS_URL");
    int rc;
    if (url && *url) {
        rc = parse_url(s, url, d);
    } else {
        char dir[900];
        if (o && o->data_dir)
            snprintf(dir, sizeof dir, "%s", o->data_dir);
        else
            es_store_default_dir(dir, sizeof dir);
        snprintf(s->sock, sizeof s->sock, "%s/redis.sock", dir);
        /* A running earshot may already serve this directory: share its server. */
        rc = connect_now(s, NULL);
        if (rc == 0 && es_store_ping(s) != 0)
            rc = ES_EIO;
        if (rc) {
            rc = es_redis_child_start(dir, &s->child, s->sock, sizeof s->sock, d);
        }
    }
    if (!rc && !s->c)
        rc = connect_now(s, d);
    if (!rc)
        rc = es__load_scripts(s);
    if (!rc)
        rc = migrate(s);
    if (rc) {
        if (rc == ES_EIO && d && !d->msg[0])
            es_diag_set(d, "redis", 0, 0, "Redis did not answer");
        es_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void es_store_close(struct es_store *s)
{
    if (!s)
        return;
    if (s->c)
        redisFree(s->c);
    es_redis_child_stop(s->child);
    es_free(s);
}

redisReply *es__cmd(struct es_store *s, int argc, const char **argv, const size_t *lens)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!s->c && connect_now(s, NULL) != 0)
            continue;
        redisReply *r = redisCommandArgv(s->c, argc, argv, lens);
        if (r)
            return r;
        /* I/O error: the connection is unusable; reconnect once. */
        redisFree(s->c);
        s->c = NULL;
    }
    return NULL;
}

int es__pipeline(struct es_store *s, int n, const int *argc, const char *const *const *argv,
                 redisReply **replies)
{
    for (int i = 0; i < n; i++)
        replies[i] = NULL;
    if (!s->c && connect_now(s, NULL) != 0)
        return ES_EIO;
    for (int i = 0; i < n; i++)
        if (redisAppendCommandArgv(s->c, argc[i], (const char **)argv[i], NULL) != REDIS_OK)
            goto fail;
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(s->c, &r) != REDIS_OK)
            goto fail;
        replies[i] = r;
    }
    return 0;
fail:
    for (int i = 0; i < n; i++) {
        if (replies[i])
            freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
    redisFree(s->c);
    s->c = NULL;
    return ES_EIO;
}

struct redisReply *es_store_command(struct es_store *s, int argc, const char **argv,
                                    const size_t *lens)
{
    return es__cmd(s, argc, argv, lens);
}

char *es_store_get_string(struct es_store *s, const char *key)
{
    const char *argv[] = {"GET", key};
    redisReply *r = es__cmd(s, 2, argv, NULL);
    char *out = NULL;
    if (r && r->type == REDIS_REPLY_STRING)
        out = es_strndup(r->str, r->len);
    if (r)
        freeReplyObject(r);
    return out;
}

int es_store_ping(struct es_store *s)
{
    const char *argv[] = {"PING"};
    if (!s->c)
        return ES_EIO;
    redisReply *r = redisCommandArgv(s->c, 1, argv, NULL);
    int ok = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject(r);
    return ok ? 0 : ES_EIO;
}

int es__load_scripts(struct es_store *s)
{
    for (int i = 0; i < ES__S_COUNT; i++) {
        const char *argv[] = {"SCRIPT", "LOAD", es__script_source((enum es__script)i)};
        redisReply *r = es__cmd(s, 3, argv, NULL);
        if (!r)
            return ES_EIO;
        int ok = r->type == REDIS_REPLY_STRING && r->len == 40;
        if (ok)
            memcpy(s->sha[i], r->str, 41);
        freeReplyObject(r);
        if (!ok)
            return ES_EIO;
    }
    return 0;
}

redisReply *es__eval(struct es_store *s, enum es__script sc, int nkeys, const char **keys,
                     int nargs, const char **args, const size_t *arglens)
{
    int argc = 3 + nkeys + nargs;
    const char *argv[128];
    size_t lens[128];
    char nk[16];
    if (argc > 128)
        return NULL;
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[0] = "EVALSHA";
    argv[1] = s->sha[sc];
    argv[2] = nk;
    for (int i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
    for (int i = 0; i < nkeys; i++) {
        argv[3 + i] = keys[i];
        lens[3 + i] = strlen(keys[i]);
    }
    for (int i = 0; i < nargs; i++) {
        argv[3 + nkeys + i] = args[i];
        lens[3 + nkeys + i] = arglens ? arglens[i] : strlen(args[i]);
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        redisReply *r = es__cmd(s, argc, argv, lens);
        if (!r)
            return NULL;
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            /* A restarted or failed-over Redis forgot the scripts: load and retry. */
            freeReplyObject(r);
            if (es__load_scripts(s) != 0)
                return NULL;
            argv[1] = s->sha[sc];
            continue;
        }
        return r;
    }
    return NULL;
}

static void copy_str(char *dst, size_t n, const redisReply *r)
{
    if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS))
        snprintf(dst, n, "%.*s", (int)r->len, r->str);
    else if (r && r->type == REDIS_REPLY_INTEGER)
        snprintf(dst, n, "%lld", r->integer);
    else
        dst[0] = '\0';
}

/*
 * Scripts answer {status, reason, state, holder, lease_until, public_replies,
 * outbox_id, duplicate}; status is "ok" or "refused".
 */
void es__result_from(const redisReply *rep, struct es_store_result *r)
{
    memset(r, 0, sizeof *r);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 8) {
        snprintf(r->reason, sizeof r->reason, "%s", "store_error");
        return;
    }
    char tmp[64];
    copy_str(tmp, sizeof tmp, rep->element[0]);
    r->ok = strcmp(tmp, "ok") == 0;
    copy_str(r->reason, sizeof r->reason, rep->element[1]);
    copy_str(r->state, sizeof r->state, rep->element[2]);
    copy_str(r->holder, sizeof r->holder, rep->element[3]);
    copy_str(tmp, sizeof tmp, rep->element[4]);
    r->lease_until_ms = strtoll(tmp, NULL, 10);
    copy_str(tmp, sizeof tmp, rep->element[5]);
    r->public_replies = atoi(tmp);
    copy_str(r->outbox_id, sizeof r->outbox_id, rep->element[6]);
    copy_str(tmp, sizeof tmp, rep->element[7]);
    r->duplicate = strcmp(tmp, "1") == 0;
}
