/* The audit log (who did what to which mention, from where, with what result), the token
 * administration and the alert subscription endpoints. Worker-thread functions. */
#include <stdio.h>
#include <string.h>

#include "earshot/log.h"
#include "http/api_int.h"
#ifdef ES_HAVE_ALERT
#include "earshot/alert.h"
#endif

void es__api_audit_record(struct es__api_call *c)
{
    if (!c->store)
        return;
    const char *result = c->status >= 500 ? "error" : c->status >= 400 ? "refused" : "ok";
    json_t *e = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "ms",
                          (json_int_t)c->now_ms, "actor", c->who.name, "role",
                          es_api_role_name(c->who.role), "token_id", c->who.id, "action",
                          es__api_routes[c->route].name, "mid", c->mid, "result", result,
                          "reason", c->reason, "status", c->status, "peer", c->peer);
    int rc = e ? es_store_audit_add(c->store, e) : ES_ENOMEM;
    if (rc)
        es_log(ES_LOG_ERROR, "api", "audit entry lost (%s): %s %s by %s",
               es_strerror(rc), es__api_routes[c->route].name, c->mid, c->who.name);
    json_decref(e);
}

void es__api_audit(struct es__api_call *c)
{
    size_t limit;
    const char *mid, *actor;
    if (es__api_parse_audit_q(c, &limit, &mid, &actor))
        return;
    json_t *arr = NULL;
    int rc = es_store_audit_list(c->store, mid, actor, limit, &arr);
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    c->status = 200;
    c->out = json_pack("{s:o}", "entries", arr);
}

void es__api_tokens_get(struct es__api_call *c)
{
    json_t *arr = NULL;
    int rc = es_api_token_list(c->store, &arr);
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    c->status = 200;
    c->out = json_pack("{s:o}", "tokens", arr);
}

void es__api_tokens_post(struct es__api_call *c)
{
    struct es__api_token_body b;
    if (es__api_parse_token(c, &b))
        return;
    char token[128], id[32];
    int rc = es_api_token_create(c->store, b.role, b.name, token, sizeof token, id, sizeof id);
    if (rc == ES_EINVAL) {
        es__api_error(c, 400, "bad_field",
                      "body field \"name\": 1 to 64 of the characters A-Z a-z 0-9 . _ @ -");
    } else if (rc) {
        es__api_store_failed(c, rc);
    } else {
        c->status = 201;
        c->out = json_pack("{s:s, s:s, s:s, s:I, s:s}", "id", id, "name", b.name, "role", b.role,
                           "created_ms", (json_int_t)c->now_ms, "token", token);
        /* the audit entry names the new token's id, never its secret */
        snprintf(c->mid, sizeof c->mid, "%s", id);
    }
    memset(token, 0, sizeof token);
    json_decref(b.root);
}

void es__api_token_del(struct es__api_call *c)
{
    int rc = es_api_token_revoke(c->store, c->mid);
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    c->status = 200;
    c->out = json_pack("{s:b, s:s}", "ok", 1, "id", c->mid);
}

#ifdef ES_HAVE_ALERT
void es__api_alert_subs_get(struct es__api_call *c)
{
    json_t *arr = NULL;
    int rc = es_alert_sub_list(c->store, &arr);
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    c->status = 200;
    c->out = json_pack("{s:o}", "subscriptions", arr);
}

void es__api_alert_subs_post(struct es__api_call *c)
{
    json_t *b = es__api_body_object(c, NULL);
    if (!b)
        return;
    char id[64];
    struct es_diag d;
    memset(&d, 0, sizeof d);
    int rc = es_alert_sub_put(c->store, b, id, sizeof id, &d);
    json_decref(b);
    if (rc == ES_EPARSE) {
        es__api_error(c, 400, "bad_subscription", "%s", d.msg);
        return;
    }
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    c->status = 201;
    c->out = json_pack("{s:s}", "id", id);
    snprintf(c->mid, sizeof c->mid, "%s", id);
}

void es__api_alert_sub_del(struct es__api_call *c)
{
    int rc = es_alert_sub_del(c->store, c->mid);
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    c->status = 200;
    c->out = json_pack("{s:b, s:s}", "ok", 1, "id", c->mid);
}

void es__api_alert_dead(struct es__api_call *c)
{
    bool bad = false;
    size_t limit = (size_t)es__api_q_int(c, ES__Q_LIMIT, 100, 1, 1000, &bad);
    if (bad)
        return;
    json_t *arr = NULL;
    int rc = es_alert_dead_list(c->store, limit, &arr);
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    c->status = 200;
    c->out = json_pack("{s:o}", "dead", arr);
}
#else
static void no_alerts(struct es__api_call *c)
{
    es__api_error(c, 501, "not_built", "This build has no alert module.");
}
void es__api_alert_subs_get(struct es__api_call *c) { no_alerts(c); }
void es__api_alert_subs_post(struct es__api_call *c) { no_alerts(c); }
void es__api_alert_sub_del(struct es__api_call *c) { no_alerts(c); }
void es__api_alert_dead(struct es__api_call *c) { no_alerts(c); }
#endif
