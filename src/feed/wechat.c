/*
 * wechat: WeChat official-account messages.
 *
 *   XML push  <xml><ToUserName/><FromUserName/><CreateTime/><MsgType/>...</xml>  (expat)
 *   JSON      the same fields as a JSON object (accounts set to JSON push),
 *             customer-service records {"recordlist"|"msglist":[{openid,opercode,text,time}]},
 *             a message object {"touser","msgtype":"text","text":{"content"}}
 *
 * Posts are what a customer wrote:
 *   text      text = Content
 *   location  text = Label, point = (Location_X lat, Location_Y lon), place_name = Label
 *   link      text = Title "\n" Description
 *   voice     text = Recognition, when WeChat's speech recognition is on
 * image, video, shortvideo, file, events (subscribe, CLICK, LOCATION...),
 * device messages and anything else give zero posts and no error.
 * Customer-service records: WeChat's documentation gives opercode 2002 as
 * "客服发送信息" (the agent sent it) and 2003 as "客服接收消息" (the agent
 * received it, i.e. the customer wrote it); the fixture agrees (2002 is the
 * agent's greeting). So 2001 and 2003 are posts and 2002 is not.
 * Ids: MsgId / msgid when present; else "wx-<from>-<time>-<hash of text>",
 * stable across refetches. author.id is the customer's openid. lang is "zh"
 * when the text has a Chinese character, else "".
 */
#include <expat.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/buf.h"
#include "feed/feed_int.h"

static void put_lang(struct es_post *p)
{
    es__set_lang(p, es__has_cjk(p->text, p->text_len) ? "zh" : "");
}

static const char *synth_id(struct es__feed_ctx *c, const char *from, const char *time,
                            const char *text)
{
    uint32_t h = es__fnv1a(text ? text : "", text ? strlen(text) : 0, 0);
    char *id =
        es__arena_printf(&c->arena, "wx-%.128s-%.24s-%08x", from ? from : "", time ? time : "", h);
    if (!id)
        c->nomem = 1;
    return id;
}

void es__wechat_msg_emit(struct es__feed_ctx *c, const struct es__wx_msg *m, const char *where)
{
    struct es_post p;
    const char *type = m->msg_type ? m->msg_type : "";

    es__post_init(&p, ES_PLATFORM_WECHAT);
    if (strcmp(type, "text") == 0) {
        p.text = m->content;
    } else if (strcmp(type, "location") == 0) {
        char *e1, *e2;
        double lat = m->loc_x ? strtod(m->loc_x, &e1) : 0,
               lon = m->loc_y ? strtod(m->loc_y, &e2) : 0;
        if (!m->loc_x || !m->loc_y || e1 == m->loc_x || e2 == m->loc_y || *e1 || *e2 ||
            es__set_point(&p, lat, lon))
            es__feed_diag(c, ES_DIAG_WARNING, "%s.Location_X/Location_Y: not a point", where);
        p.text = m->label ? m->label : "";
        p.place_name = m->label && *m->label ? m->label : NULL;
    } else if (strcmp(type, "link") == 0) {
        p.text = es__arena_printf(&c->arena, "%s\n%s", m->title ? m->title : "",
                                  m->description ? m->description : "");
        if (!p.text)
            c->nomem = 1;
    } else if (strcmp(type, "voice") == 0 && m->recognition && *m->recognition) {
        p.text = m->recognition;
    } else {
        return; /* not something a customer wrote */
    }
    if (!p.text) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s.Content: missing, record skipped", where);
        es__arena_reset(&c->arena);
        return;
    }
    p.text_len = strlen(p.text);
    p.author.id = m->from && *m->from ? m->from : NULL;
    if (m->create_time) {
        char *e;
        long long t = strtoll(m->create_time, &e, 10);
        if (e == m->create_time || *e || t < 0)
            es__feed_diag(c, ES_DIAG_WARNING, "%s.CreateTime: not a date", where);
        else
            p.created_at = t;
    }
    p.id = m->msg_id && *m->msg_id ? m->msg_id : synth_id(c, m->from, m->create_time, p.text);
    p.thread_root = p.id;
    put_lang(&p);
    es__feed_emit(c, &p, where);
}

/* ---- XML ---- */

enum {
    F_TO,
    F_FROM,
    F_TIME,
    F_TYPE,
    F_CONTENT,
    F_MSGID,
    F_LX,
    F_LY,
    F_LABEL,
    F_TITLE,
    F_DESC,
    F_URL,
    F_RECOG,
    F_N
};
static const char *const xml_fields[F_N] = {
    "ToUserName",  "FromUserName", "CreateTime", "MsgType", "Content",
    "MsgId",       "Location_X",   "Location_Y", "Label",   "Title",
    "Description", "Url",          "Recognition"};

struct xml_state {
    XML_Parser parser;
    int depth;
    int field; /* index into xml_fields of the open depth-2 element, or -1 */
    int root_ok;
    int too_big;
    int has[F_N];
    struct es_buf val[F_N];
};

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct xml_state *s = ud;
    (void)attrs;
    s->depth++;
    if (s->depth == 1) {
        s->root_ok = strcmp(name, "xml") == 0;
        return;
    }
    s->field = -1;
    if (s->depth != 2)
        return;
    for (int i = 0; i < F_N; i++)
        if (strcmp(name, xml_fields[i]) == 0 || (i == F_MSGID && strcmp(name, "MsgID") == 0)) {
            s->field = i;
            s->has[i] = 1;
            es_buf_reset(&s->val[i]);
        }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct xml_state *s = ud;
    (void)name;
    s->depth--;
    s->field = -1;
}

static void XMLCALL on_text(void *ud, const XML_Char *txt, int len)
{
    struct xml_state *s = ud;
    if (s->depth != 2 || s->field < 0 || len <= 0)
        return;
    if (es_buf_append(&s->val[s->field], txt, (size_t)len) != 0)
        s->too_big = 1;
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int pe, const XML_Char *v,
                                   int vlen, const XML_Char *base, const XML_Char *sys,
                                   const XML_Char *pub, const XML_Char *notation)
{
    struct xml_state *s = ud;
    (void)name, (void)pe, (void)v, (void)vlen, (void)base, (void)sys, (void)pub, (void)notation;
    XML_StopParser(s->parser, XML_FALSE); /* no entity definitions: no billion laughs */
}

int es__wechat_xml_parse(struct es__feed_ctx *c, const char *buf, size_t len)
{
    struct xml_state s;
    int rc = 0;
    memset(&s, 0, sizeof s);
    s.field = -1;
    for (int i = 0; i < F_N; i++)
        es_buf_init(&s.val[i], ES_FEED_TEXT_MAX * 2);
    s.parser = XML_ParserCreate("UTF-8");
    if (!s.parser) {
        rc = ES_ENOMEM;
        goto out;
    }
    XML_SetUserData(s.parser, &s);
    XML_SetElementHandler(s.parser, on_start, on_end);
    XML_SetCharacterDataHandler(s.parser, on_text);
    XML_SetEntityDeclHandler(s.parser, on_entity_decl);
    if (len > (size_t)1 << 30 || XML_Parse(s.parser, buf, (int)len, XML_TRUE) != XML_STATUS_OK) {
        enum XML_Error e = XML_GetErrorCode(s.parser);
        if (c->on_diag) {
            struct es_diag d;
            d.file = c->opts->source;
            d.line = c->opts->line > 0
                         ? c->opts->line + (long)XML_GetCurrentLineNumber(s.parser) - 1
                         : (long)XML_GetCurrentLineNumber(s.parser);
            d.col = (long)XML_GetCurrentColumnNumber(s.parser) + 1;
            d.severity = ES_DIAG_ERROR;
            snprintf(d.msg, sizeof d.msg, "not a WeChat XML message: %s",
                     e == XML_ERROR_ABORTED ? "entity declarations are refused"
                                            : XML_ErrorString(e));
            c->on_diag(c->ud, &d);
        }
        rc = ES_EPARSE;
        goto out;
    }
    if (!s.root_ok) {
        es__feed_diag(c, ES_DIAG_ERROR, "not a WeChat XML message: root element is not <xml>");
        rc = ES_EPARSE;
        goto out;
    }
    if (s.too_big)
        es__feed_diag(c, ES_DIAG_WARNING, "xml: a field over %u bytes was cut",
                      ES_FEED_TEXT_MAX * 2);
    struct es__wx_msg m;
    const char **slots[F_N] = {&m.to,          &m.from,  &m.create_time, &m.msg_type, &m.content,
                               &m.msg_id,      &m.loc_x, &m.loc_y,       &m.label,    &m.title,
                               &m.description, &m.url,   &m.recognition};
    for (int i = 0; i < F_N; i++) {
        *slots[i] = NULL;
        if (s.has[i]) {
            /* an element with no text still has an (empty) value */
            if (es_buf_reserve(&s.val[i], 1) != 0 && !s.val[i].data) {
                rc = ES_ENOMEM;
                goto out;
            }
            *slots[i] = s.val[i].data ? s.val[i].data : "";
        }
    }
    es__wechat_msg_emit(c, &m, "xml");
out:
    if (s.parser)
        XML_ParserFree(s.parser);
    for (int i = 0; i < F_N; i++)
        es_buf_cleanup(&s.val[i]);
    return rc;
}

/* ---- JSON ---- */

static void record(struct es__feed_ctx *c, const json_t *r, const char *where)
{
    int64_t op;
    if (!json_is_object(r)) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s: not an object, record skipped", where);
        return;
    }
    if (es__jint(json_object_get(r, "opercode"), &op) != 0) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s.opercode: missing or not a number, record skipped",
                      where);
        return;
    }
    if (op != 2001 && op != 2003)
        return; /* the agent's own messages and session events */
    struct es_post p;
    es__post_init(&p, ES_PLATFORM_WECHAT);
    const json_t *jt = json_object_get(r, "text");
    if (!json_is_string(jt)) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s.text: %s, record skipped", where,
                      jt ? "not a string" : "missing");
        return;
    }
    p.text = json_string_value(jt);
    p.text_len = json_string_length(jt);
    p.author.id = es__jstr(r, "openid");
    int64_t t = 0;
    const json_t *jtime = json_object_get(r, "time");
    if (jtime && es__jint(jtime, &t) == 0 && t >= 0)
        p.created_at = t;
    else if (jtime)
        es__feed_diag(c, ES_DIAG_WARNING, "%s.time: not a date", where);
    p.id = es__jid(c, json_object_get(r, "msgid"), NULL);
    if (!p.id) {
        char ts[24];
        snprintf(ts, sizeof ts, "%lld", (long long)t);
        p.id = synth_id(c, p.author.id, ts, p.text);
    }
    p.thread_root = p.id;
    put_lang(&p);
    es__feed_emit(c, &p, where);
}

static const char *jfield(struct es__feed_ctx *c, const json_t *o, const char *k1, const char *k2)
{
    const json_t *v = json_object_get(o, k1);
    if (!v && k2)
        v = json_object_get(o, k2);
    if (json_is_string(v))
        return json_string_value(v);
    return es__jid(c, v, NULL);
}

void es__wechat_json_parse(struct es__feed_ctx *c, const json_t *root)
{
    if (!json_is_object(root)) {
        es__feed_diag(c, ES_DIAG_ERROR, "wechat: document is not an object");
        return;
    }
    int64_t code;
    if (es__jint(json_object_get(root, "errcode"), &code) == 0 && code != 0) {
        const char *msg = es__jstr(root, "errmsg");
        es__feed_diag(c, ES_DIAG_ERROR, "errcode %lld: %.300s", (long long)code,
                      msg ? msg : "no message");
        return;
    }
    static const char *const lists[] = {"recordlist", "msglist"};
    for (size_t k = 0; k < 2; k++) {
        const json_t *arr = json_object_get(root, lists[k]);
        size_t i;
        const json_t *r;
        if (arr && !json_is_array(arr))
            es__feed_diag(c, ES_DIAG_ERROR, "%s: not an array", lists[k]);
        json_array_foreach (arr, i, r) {
            char where[48];
            snprintf(where, sizeof where, "%s[%zu]", lists[k], i);
            record(c, r, where);
        }
    }
    /* a JSON push message (same fields as the XML one) */
    if (json_object_get(root, "MsgType")) {
        struct es__wx_msg m = {
            .to = jfield(c, root, "ToUserName", NULL),
            .from = jfield(c, root, "FromUserName", NULL),
            .create_time = jfield(c, root, "CreateTime", NULL),
            .msg_type = jfield(c, root, "MsgType", NULL),
            .content = jfield(c, root, "Content", NULL),
            .msg_id = jfield(c, root, "MsgId", "MsgID"),
            .loc_x = jfield(c, root, "Location_X", NULL),
            .loc_y = jfield(c, root, "Location_Y", NULL),
            .label = jfield(c, root, "Label", NULL),
            .title = jfield(c, root, "Title", NULL),
            .description = jfield(c, root, "Description", NULL),
            .url = jfield(c, root, "Url", NULL),
            .recognition = jfield(c, root, "Recognition", NULL),
        };
        char lx[40], ly[40];
        /* numbers in JSON push: print them back for the shared path */
        const json_t *x = json_object_get(root, "Location_X"),
                     *y = json_object_get(root, "Location_Y");
        if (json_is_real(x)) {
            snprintf(lx, sizeof lx, "%.8f", json_real_value(x));
            m.loc_x = lx;
        }
        if (json_is_real(y)) {
            snprintf(ly, sizeof ly, "%.8f", json_real_value(y));
            m.loc_y = ly;
        }
        es__wechat_msg_emit(c, &m, "message");
        return;
    }
    /* a message object: {"touser","msgtype":"text","text":{"content"}} */
    const char *mt = es__jstr(root, "msgtype");
    if (mt) {
        const char *content = es__jstr(json_object_get(root, "text"), "content");
        if (strcmp(mt, "text") != 0)
            return;
        if (!content) {
            es__feed_diag(c, ES_DIAG_ERROR, "text.content: missing, record skipped");
            return;
        }
        struct es__wx_msg m = {
            .from = jfield(c, root, "fromuser", "FromUserName"),
            .to = jfield(c, root, "touser", NULL),
            .create_time = jfield(c, root, "time", "CreateTime"),
            .msg_type = "text",
            .content = content,
            .msg_id = jfield(c, root, "msgid", "MsgId"),
        };
        es__wechat_msg_emit(c, &m, "message");
    }
}
