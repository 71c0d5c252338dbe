/*
 * Redis access of the alert module. The worker threads own synchronous
 * hiredis connections opened from the Redis URL ("unix:///path" or
 * "redis://host[:port]", as struct es_store takes them). The subscription
 * functions run on the caller's struct es_store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/internal.h"
#include "earshot/store.h"

void es__alert_adb_url(const struct es_alert_opts *o, char *out, size_t n)
{
    const char *url =
        o && o->redis_url && *o->redis_url ? o->redis_url : getenv("EARSHOT_REDIS_URL");
    if (url && *url) {
        snprintf(out, n, "%s", url);
        return;
    }
    char dir[900];
    if (o && o->data_dir)
        snprintf(dir, sizeof dir, "%s", o->data_dir);
    else
        es_store_default_dir(dir, sizeof dir);
    snprintf(out, n, "unix://%s/redis.sock", dir);
}

static int parse_url(struct es__alert_adb *db, const char *url, struct es_diag *d)
{
    if (strncmp(url, "unix://", 7) == 0) {
        snprintf(db->sock, sizeof db->sock, "%s", url + 7);
        return db->sock[0] ? 0 : es_diag_set(d, url, 0, 0, "unix URL without a path");
    }
    if (strncmp(url, "redis://", 8) != 0)
        return es_diag_set(d, url, 0, 0, "Redis URL must start with redis:// or unix://");
    const char *h = url + 8, *at = strchr(h, '@');
    if (at)
        h = at + 1;
    size_t hl = strcspn(h, ":/");
    if (hl == 0 || hl >= sizeof db->host)
        return es_diag_set(d, url, 0, 0, "Redis URL without a host");
    memcpy(db->host, h, hl);
    db->host[hl] = '\0';
    db->port = 6379;
    if (h[hl] == ':') {
        char *end;
        long p = strtol(h + hl + 1, &end, 10);
        if (p <= 0 || p > 65535 || (*end && *end != '/'))
            return es_diag_set(d, url, 0, 0, "bad port in Redis URL");
        db->port = (int)p;
    }
    return 0;
}

static int connect_now(struct es__alert_adb *db, struct es_diag *d)
{
    struct timeval tv = {db->timeout_ms / 1000, (db->timeout_ms % 1000) * 1000};
    if (db->c)
        redisFree(db->c);
    db->c = db->sock[0] ? redisConnectUnixWithTimeout(db->sock, tv)
                        : redisConnectWithTimeout(db->host, db->port, tv);
    if (!db->c)
        return ES_ENOMEM;
    if (db->c->err) {
        es_diag_set(d, db->sock[0] ? db->sock : db->host, 0, 0, "cannot connect to Redis: %s",
                    db->c->errstr);
        redisFree(db->c);
        db->c = NULL;
        return ES_EIO;
    }
    redisSetTimeout(db->c, tv);
    return 0;
}

int es__alert_adb_open(struct es__alert_adb *db, const char *url, int timeout_ms, struct es_diag *d)
{
    memset(db, 0, sizeof *db);
    db->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    int rc = parse_url(db, url, d);
    if (rc)
        return rc;
    return connect_now(db, d);
}

void es__alert_adb_close(struct es__alert_adb *db)
{
    if (db && db->c) {
        redisFree(db->c);
        db->c = NULL;
    }
}

redisReply *es__alert_adb_cmd(struct es__alert_adb *db, int argc, const char **argv,
                              const size_t *lens)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!db->c && connect_now(db, NULL) != 0)
            continue;
        redisReply *r = redisCommandArgv(db->c, argc, argv, lens);
        if (r)
            return r;
        redisFree(db->c);
        db->c = NULL;
    }
    return NULL;
}

int es__alert_adb_pipe(struct es__alert_adb *db, int n, const int *argc, const char ***argv,
                       const size_t **lens, redisReply **rep)
{
    for (int i = 0; i < n; i++)
        rep[i] = NULL;
    if (!db->c && connect_now(db, NULL) != 0)
        return ES_EIO;
    for (int i = 0; i < n; i++)
        if (redisAppendCommandArgv(db->c, argc[i], argv[i], lens ? lens[i] : NULL) != REDIS_OK)
            goto fail;
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(db->c, &r) != REDIS_OK)
            goto fail;
        rep[i] = r;
    }
    return 0;
fail:
    for (int i = 0; i < n; i++) {
        if (rep[i])
            freeReplyObject(rep[i]);
        rep[i] = NULL;
    }
    redisFree(db->c);
    db->c = NULL;
    return ES_EIO;
}
