/*
 * Subscriptions: validation (errors name the key path) and storage.
 *
 *   es:alert:sub:<id>   the normalised subscription, JSON (secrets included)
 *   es:alert:subs       set of ids
 *   es:alert:subs:ver   counter bumped on every change; the worker reloads on a new value
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "alert/internal.h"
#include "earshot/alloc.h"
#include "earshot/store.h"

#define MAX_LIST 100
#define MAX_CHANNELS 10
#define MAX_STR 256
#define MAX_CA (64 << 10)

static int perr(struct es_diag *d, const char *path, const char *fmt, const char *a)
{
    char m[640];
    snprintf(m, sizeof m, fmt, a ? a : "");
    return es_diag_set(d, NULL, 0, 0, "%s: %s", path, m);
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return false;
    return true;
}

static bool no_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* set / push: json_object_set_new / json_array_append_new that say when an allocation failed
 * (both take v's reference, even then) */
static int set(json_t *o, const char *k, json_t *v)
{
    return json_object_set_new(o, k, v) == 0 ? 0 : ES_ENOMEM;
}

static int push(json_t *a, json_t *v)
{
    return json_array_append_new(a, v) == 0 ? 0 : ES_ENOMEM;
}

/* a list of short strings; absent = empty */
static int str_list(json_t *in, const char *key, json_t *out, struct es_diag *d)
{
    json_t *v = json_object_get(in, key), *arr = json_array();
    char path[64];
    if (!arr)
        return ES_ENOMEM;
    if (v && !json_is_array(v)) {
        json_decref(arr);
        snprintf(path, sizeof path, "%s", key);
        return perr(d, path, "must be an array of strings%s", NULL);
    }
    if (json_array_size(v) > MAX_LIST) {
        json_decref(arr);
        return perr(d, key, "more than 100 items%s", NULL);
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        const char *s = json_string_value(e);
        snprintf(path, sizeof path, "%s[%zu]", key, i);
        if (!s || !*s || strlen(s) > MAX_STR || !no_ctl(s)) {
            json_decref(arr);
            return perr(d, path, "must be a non-empty string of at most 256 bytes%s", NULL);
        }
        if (push(arr, json_string(s)) != 0) {
            json_decref(arr);
            return ES_ENOMEM;
        }
    }
    return set(out, key, arr);
}

static bool email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strlen(s) > 254 || strchr(at + 1, '@'))
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == '<' || *s == '>' || *s == ',' || *s == '"' ||
            *s == 0x7f)
            return false;
    return true;
}

static int channel(json_t *c, size_t idx, const struct es_net_allow *allow, bool resolve,
                   json_t *out, struct es_diag *d)
{
    char path[64];
    snprintf(path, sizeof path, "channels[%zu]", idx);
    if (!json_is_object(c))
        return perr(d, path, "must be an object%s", NULL);
    const char *k;
    json_t *v;
    json_object_foreach(c, k, v) {
        if (strcmp(k, "type") && strcmp(k, "url") && strcmp(k, "secret") && strcmp(k, "to") &&
            strcmp(k, "from") && strcmp(k, "tls_ca")) {
            char p2[128];
            snprintf(p2, sizeof p2, "%s.%.40s", path, k);
            return perr(d, p2, "unknown key (type, url, secret, to, from, tls_ca)%s", NULL);
        }
    }
    const char *type = json_string_value(json_object_get(c, "type"));
    int t = es__alert_ch_parse(type);
    char p2[128];
    snprintf(p2, sizeof p2, "%s.type", path);
    if (t < 0)
        return perr(d, p2, "must be one of webhook, slack, dingtalk, wecom, feishu, email%s",
                    NULL);
    const char *url = json_string_value(json_object_get(c, "url"));
    snprintf(p2, sizeof p2, "%s.url", path);
    if (!url || strlen(url) > 2048 || !no_ctl(url))
        return perr(d, p2, "must be a URL string of at most 2048 bytes%s", NULL);
    struct es_diag nd = {0};
    if (es_net_check_url(url, t == ES__ALERT_CH_EMAIL, allow, resolve, &nd) != 0)
        return perr(d, p2, "%s", nd.msg);
    json_t *o = json_object(), *arr = NULL;
    int rc = o ? 0 : ES_ENOMEM;
    rc = rc ? rc : set(o, "type", json_string(type));
    rc = rc ? rc : set(o, "url", json_string(url));
    if (rc)
        goto fail;
    json_t *sec = json_object_get(c, "secret");
    if (sec) {
        const char *s = json_string_value(sec);
        snprintf(p2, sizeof p2, "%s.secret", path);
        if (!s || strlen(s) > 512 || !no_ctl(s)) {
            rc = perr(d, p2, "must be a string of at most 512 bytes%s", NULL);
            goto fail;
        }
        if (*s && (rc = set(o, "secret", json_string(s))) != 0)
            goto fail;
    }
    json_t *ca = json_object_get(c, "tls_ca");
    if (ca) {
        /* the CA certificate(s) in PEM, not a path: a subscription must not make the worker
         * read files, and every instance gets the same trust from Redis */
        const char *s = json_string_value(ca);
        size_t n = s ? strlen(s) : 0;
        snprintf(p2, sizeof p2, "%s.tls_ca", path);
        if (!s || n > MAX_CA || es__alert_pem_certs(s, n) == 0) {
            rc = perr(d, p2, "must be PEM certificates (-----BEGIN CERTIFICATE-----), at most "
                             "64 KiB%s", NULL);
            goto fail;
        }
        if ((rc = set(o, "tls_ca", json_string(s))) != 0)
            goto fail;
    }
    if (t == ES__ALERT_CH_EMAIL) {
        const char *from = json_string_value(json_object_get(c, "from"));
        snprintf(p2, sizeof p2, "%s.from", path);
        if (!from || !email_ok(from)) {
            rc = perr(d, p2, "must be an email address%s", NULL);
            goto fail;
        }
        if ((rc = set(o, "from", json_string(from))) != 0)
            goto fail;
        json_t *to = json_object_get(c, "to");
        snprintf(p2, sizeof p2, "%s.to", path);
        if (!json_is_array(to) || json_array_size(to) == 0 || json_array_size(to) > 20) {
            rc = perr(d, p2, "must be an array of 1 to 20 email addresses%s", NULL);
            goto fail;
        }
        if (!(arr = json_array())) {
            rc = ES_ENOMEM;
            goto fail;
        }
        size_t i;
        json_t *e;
        json_array_foreach(to, i, e) {
            const char *s = json_string_value(e);
            if (!s || !email_ok(s)) {
                snprintf(p2, sizeof p2, "%s.to[%zu]", path, i);
                rc = perr(d, p2, "must be an email address%s", NULL);
                goto fail;
            }
            if ((rc = push(arr, json_string(s))) != 0)
                goto fail;
        }
        rc = set(o, "to", arr);
        arr = NULL;
        if (rc)
            goto fail;
    } else if (json_object_get(c, "to") || json_object_get(c, "from")) {
        rc = perr(d, path, "to and from are for email channels only%s", NULL);
        goto fail;
    }
    return push(out, o);
fail:
    json_decref(arr);
    json_decref(o);
    return rc;
}

int es_alert_sub_validate(json_t *sub, const char *allow_s, bool resolve, json_t **out,
                          struct es_diag *d)
{
    struct es_net_allow allow;
    if (es_net_allow_parse(allow_s, &allow, d) != 0)
        return ES_EPARSE;
    if (!json_is_object(sub))
        return perr(d, "$", "a subscription is a JSON object%s", NULL);
    static const char *known[] = {"id", "name", "brands", "categories", "fences", "keywords",
                                  "min_severity", "events", "mode", "interval_s", "lang",
                                  "channels", "created_ms"};
    const char *k;
    json_t *v;
    json_object_foreach(sub, k, v) {
        size_t i = 0;
        while (i < sizeof known / sizeof *known && strcmp(k, known[i]) != 0)
            i++;
        if (i == sizeof known / sizeof *known) {
            char p[64];
            snprintf(p, sizeof p, "%.40s", k);
            return perr(d, p, "unknown key%s", NULL);
        }
    }
    json_t *o = json_object(), *eva = NULL, *cha = NULL;
    int rc = o ? 0 : ES_ENOMEM;
    if (rc)
        goto fail;
    json_t *id = json_object_get(sub, "id");
    if (id) {
        if (!json_string_value(id) || !id_ok(json_string_value(id))) {
            rc = perr(d, "id", "1 to 64 characters of A-Z a-z 0-9 - _%s", NULL);
            goto fail;
        }
        if ((rc = set(o, "id", json_incref(id))) != 0)
            goto fail;
    }
    json_t *name = json_object_get(sub, "name");
    if (name && (!json_is_string(name) || strlen(json_string_value(name)) > 200)) {
        rc = perr(d, "name", "must be a string of at most 200 bytes%s", NULL);
        goto fail;
    }
    if ((rc = set(o, "name", json_string(name ? json_string_value(name) : ""))) != 0)
        goto fail;
    static const char *lists[] = {"brands", "categories", "fences", "keywords"};
    for (size_t i = 0; i < 4; i++) {
        rc = str_list(sub, lists[i], o, d);
        if (rc)
            goto fail;
    }
    json_t *ms = json_object_get(sub, "min_severity");
    if (ms && (!json_is_integer(ms) || json_integer_value(ms) < 1 || json_integer_value(ms) > 4)) {
        rc = perr(d, "min_severity", "must be an integer from 1 to 4%s", NULL);
        goto fail;
    }
    if ((rc = set(o, "min_severity", json_integer(ms ? json_integer_value(ms) : 1))) != 0)
        goto fail;
    json_t *ev = json_object_get(sub, "events");
    if (ev && (!json_is_array(ev) || json_array_size(ev) == 0)) {
        rc = perr(d, "events", "must be a non-empty array of mention, spike, churn%s", NULL);
        goto fail;
    }
    if (!(eva = json_array())) {
        rc = ES_ENOMEM;
        goto fail;
    }
    static const char *all_events[] = {"mention", "spike", "churn"};
    for (size_t i = 0; !ev && i < 3; i++)
        if ((rc = push(eva, json_string(all_events[i]))) != 0)
            goto fail;
    size_t i;
    json_array_foreach(ev, i, v) {
        const char *s = json_string_value(v);
        if (!s || (strcmp(s, "mention") && strcmp(s, "spike") && strcmp(s, "churn"))) {
            char p[32];
            snprintf(p, sizeof p, "events[%zu]", i);
            rc = perr(d, p, "must be mention, spike or churn%s", NULL);
            goto fail;
        }
        if ((rc = push(eva, json_string(s))) != 0)
            goto fail;
    }
    rc = set(o, "events", eva);
    eva = NULL;
    if (rc)
        goto fail;
    const char *mode = json_string_value(json_object_get(sub, "mode"));
    if (json_object_get(sub, "mode") &&
        (!mode || (strcmp(mode, "immediate") && strcmp(mode, "digest")))) {
        rc = perr(d, "mode", "must be immediate or digest%s", NULL);
        goto fail;
    }
    if ((rc = set(o, "mode", json_string(mode ? mode : "immediate"))) != 0)
        goto fail;
    json_t *iv = json_object_get(sub, "interval_s");
    if (iv && (!json_is_integer(iv) || json_integer_value(iv) < 10 ||
               json_integer_value(iv) > 7 * 86400)) {
        rc = perr(d, "interval_s", "must be an integer from 10 to 604800%s", NULL);
        goto fail;
    }
    if (iv && (rc = set(o, "interval_s", json_integer(json_integer_value(iv)))) != 0)
        goto fail;
    const char *lang = json_string_value(json_object_get(sub, "lang"));
    if (json_object_get(sub, "lang") && (!lang || (strcmp(lang, "zh") && strcmp(lang, "en")))) {
        rc = perr(d, "lang", "must be zh or en%s", NULL);
        goto fail;
    }
    if ((rc = set(o, "lang", json_string(lang ? lang : "zh"))) != 0)
        goto fail;
    json_t *chs = json_object_get(sub, "channels");
    if (!json_is_array(chs) || json_array_size(chs) == 0 ||
        json_array_size(chs) > MAX_CHANNELS) {
        rc = perr(d, "channels", "must be an array of 1 to 10 channels%s", NULL);
        goto fail;
    }
    if (!(cha = json_array())) {
        rc = ES_ENOMEM;
        goto fail;
    }
    json_array_foreach(chs, i, v) {
        rc = channel(v, i, &allow, resolve, cha, d);
        if (rc)
            goto fail;
    }
    rc = set(o, "channels", cha);
    cha = NULL;
    if (rc)
        goto fail;
    json_t *cms = json_object_get(sub, "created_ms");
    if (json_is_integer(cms) && (rc = set(o, "created_ms", json_incref(cms))) != 0)
        goto fail;
    *out = o;
    return 0;
fail:
    json_decref(eva);
    json_decref(cha);
    json_decref(o);
    return rc;
}

static int reply_ok(redisReply *r)
{
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject(r);
    return ok ? 0 : ES_EIO;
}

int es_alert_sub_put_allow(struct es_store *s, json_t *sub, const char *allow, char *id, size_t n,
                           struct es_diag *d)
{
    json_t *o = NULL;
    int rc = es_alert_sub_validate(sub, allow, true, &o, d);
    if (rc)
        return rc;
    char gen[32];
    const char *sid = json_string_value(json_object_get(o, "id"));
    if (!sid) {
        unsigned char r[6];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
            json_decref(o);
            return ES_EIO;
        }
        gen[0] = 'a';
        es__alert_hex(r, sizeof r, gen + 1);
        json_object_set_new(o, "id", json_string(gen));
        sid = gen;
    }
    if (!json_object_get(o, "created_ms")) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        json_object_set_new(o, "created_ms",
                            json_integer((json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
    }
    char *js = json_dumps(o, JSON_COMPACT);
    char key[128];
    snprintf(key, sizeof key, ES__ALERT_K_SUB "%s", sid);
    if (id)
        snprintf(id, n, "%s", sid);
    rc = ES_ENOMEM;
    if (js) {
        const char *a1[] = {"SET", key, js};
        const char *a2[] = {"SADD", ES__ALERT_K_SUBS, sid};
        const char *a3[] = {"INCR", ES__ALERT_K_SUBS_VER};
        rc = reply_ok(es_store_command(s, 3, a1, NULL));
        rc = rc ? rc : reply_ok(es_store_command(s, 3, a2, NULL));
        rc = rc ? rc : reply_ok(es_store_command(s, 2, a3, NULL));
        if (rc)
            es_diag_set(d, "redis", 0, 0, "cannot store the subscription");
    }
    free(js);
    json_decref(o);
    return rc;
}

int es_alert_sub_put(struct es_store *s, json_t *sub, char *id, size_t n, struct es_diag *d)
{
    return es_alert_sub_put_allow(s, sub, getenv("EARSHOT_ALERT_ALLOW"), id, n, d);
}

int es_alert_sub_get(struct es_store *s, const char *id, json_t **out)
{
    char key[128];
    if (!id || !id_ok(id))
        return ES_ENOTFOUND;
    snprintf(key, sizeof key, ES__ALERT_K_SUB "%s", id);
    const char *argv[] = {"GET", key};
    redisReply *r = es_store_command(s, 2, argv, NULL);
    if (!r)
        return ES_EIO;
    int rc = ES_ENOTFOUND;
    if (r->type == REDIS_REPLY_STRING) {
        *out = json_loadb(r->str, r->len, 0, NULL);
        rc = *out ? 0 : ES_EIO;
    }
    freeReplyObject(r);
    return rc;
}

static void mask(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (!s)
        return;
    char m[64];
    if (strcmp(k, "url") == 0) {
        const char *q = strchr(s, '?');
        if (!q)
            return;
        snprintf(m, sizeof m, "%.*s?…", (int)(q - s > 40 ? 40 : q - s), s);
        if (q - s > 40) {
            /* keep the whole path up to the query when it is long */
            char *b = es_malloc((size_t)(q - s) + 8);
            if (b) {
                snprintf(b, (size_t)(q - s) + 8, "%.*s?…", (int)(q - s), s);
                json_object_set_new(o, k, json_string(b));
                es_free(b);
            }
            return;
        }
    } else {
        snprintf(m, sizeof m, "%.4s…", s);
    }
    json_object_set_new(o, k, json_string(m));
}

int es_alert_sub_list(struct es_store *s, json_t **out)
{
    const char *argv[] = {"SMEMBERS", ES__ALERT_K_SUBS};
    redisReply *r = es_store_command(s, 2, argv, NULL);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return ES_EIO;
    }
    json_t *arr = json_array();
    int rc = arr ? 0 : ES_ENOMEM;
    for (size_t i = 0; !rc && i < r->elements; i++) {
        json_t *sub = NULL;
        if (es_alert_sub_get(s, r->element[i]->str, &sub) != 0)
            continue;
        size_t j;
        json_t *c;
        json_array_foreach(json_object_get(sub, "channels"), j, c) {
            mask(c, "secret");
            mask(c, "url");
        }
        json_array_append_new(arr, sub);
    }
    freeReplyObject(r);
    if (rc)
        return rc;
    *out = arr;
    return 0;
}

int es_alert_sub_del(struct es_store *s, const char *id)
{
    char key[128];
    if (!id || !id_ok(id))
        return ES_ENOTFOUND;
    snprintf(key, sizeof key, ES__ALERT_K_SUB "%s", id);
    const char *a1[] = {"DEL", key};
    redisReply *r = es_store_command(s, 2, a1, NULL);
    if (!r)
        return ES_EIO;
    int gone = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    const char *a2[] = {"SREM", ES__ALERT_K_SUBS, id};
    const char *a3[] = {"INCR", ES__ALERT_K_SUBS_VER};
    int rc = reply_ok(es_store_command(s, 3, a2, NULL));
    rc = rc ? rc : reply_ok(es_store_command(s, 2, a3, NULL));
    if (rc)
        return rc;
    return gone ? 0 : ES_ENOTFOUND;
}

int es_alert_dead_list(struct es_store *s, size_t limit, json_t **out)
{
    char stop[32];
    snprintf(stop, sizeof stop, "%zu", (limit ? limit : 100) - 1);
    const char *argv[] = {"LRANGE", ES__ALERT_K_DEAD, "0", stop};
    redisReply *r = es_store_command(s, 4, argv, NULL);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return ES_EIO;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < r->elements; i++) {
        json_t *e = json_loadb(r->element[i]->str, r->element[i]->len, 0, NULL);
        if (e)
            json_array_append_new(arr, e);
    }
    freeReplyObject(r);
    if (!arr)
        return ES_ENOMEM;
    *out = arr;
    return 0;
}
