/*
 * One delivery into the request its channel renders well (docs/alerts.md):
 *
 *   webhook   POST the alert JSON; X-Earshot-Timestamp (s) and
 *             X-Earshot-Signature: v1=hex(HMAC-SHA256(secret, ts "." body))
 *   slack     {"text", "blocks": [header, section (mrkdwn)]}
 *   dingtalk  {"msgtype":"markdown","markdown":{"title","text"}}; signed URL:
 *             &timestamp=<ms>&sign=urlenc(base64(HMAC-SHA256(secret, ms "\n" secret)))
 *   wecom     {"msgtype":"markdown","markdown":{"content"}} (at most 4096 bytes)
 *   feishu    {"timestamp","sign","msg_type":"interactive","card":{...lark_md}};
 *             sign = base64(HMAC-SHA256(key = ts "\n" secret, message = ""))
 *   email     RFC 5322 text/plain UTF-8, base64 body, RFC 2047 subject
 *
 * Post text is attacker-controlled: on the markdown channels the characters
 * that make links, emphasis, headings or HTML are replaced by their
 * full-width forms, and Slack gets its documented &amp; &lt; &gt; escapes, so
 * a post cannot inject a link or a mention into a brand manager's chat.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alert/internal.h"
#include "earshot/alloc.h"
#include "earshot/clock.h"

#define BODY_CAP (256u << 10)
#define TEXT_MAX 600 /* bytes of post text shown in a chat message */

enum style { PLAIN, MD, SLACK };

static const char *ch_names[ES__ALERT_CH_N] = {"webhook", "slack",  "dingtalk",
                                               "wecom",   "feishu", "email"};

int es__alert_ch_parse(const char *name)
{
    for (int i = 0; name && i < ES__ALERT_CH_N; i++)
        if (strcmp(name, ch_names[i]) == 0)
            return i;
    return -1;
}

const char *es__alert_ch_name(int ch)
{
    return ch >= 0 && ch < ES__ALERT_CH_N ? ch_names[ch] : "?";
}

static const char *sget(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static long long iget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return 0;
}

/* utf8_cut: the length of s cut to at most max bytes on a character boundary. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t i = max;
    while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
        i--;
    return i;
}

/* put appends user text in the given style, cut to max bytes (0: no cut). */
static int put(struct es_buf *b, const char *s, size_t max, enum style st)
{
    size_t n = strlen(s), cut = max ? utf8_cut(s, n, max) : n;
    for (size_t i = 0; i < cut; i++) {
        char c = s[i];
        const char *r = NULL;
        if (c == '\r' || c == '\n' || c == '\t')
            r = " ";
        else if (st == SLACK)
            r = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : NULL;
        else if (st == MD)
            switch (c) {
            case '[': r = "［"; break;
            case ']': r = "］"; break;
            case '(': r = "（"; break;
            case ')': r = "）"; break;
            case '<': r = "＜"; break;
            case '>': r = "＞"; break;
            case '*': r = "＊"; break;
            case '_': r = "＿"; break;
            case '`': r = "｀"; break;
            case '#': r = "＃"; break;
            case '|': r = "｜"; break;
            case '~': r = "～"; break;
            case '!': r = "！"; break;
            case '@': r = "＠"; break;
            default: break;
            }
        int rc = r ? es_buf_puts(b, r) : es_buf_putc(b, c);
        if (rc)
            return rc;
    }
    if (cut < n)
        return es_buf_puts(b, "…");
    return 0;
}

static int bold(struct es_buf *b, const char *label, enum style st)
{
    if (st == PLAIN)
        return es_buf_printf(b, "%s: ", label);
    return es_buf_printf(b, st == SLACK ? "*%s:* " : "**%s:** ", label);
}

/* one "label: value" line */
static int line(struct es_buf *b, const char *label, const char *v, size_t max, enum style st)
{
    if (!v || !*v)
        return 0;
    int rc = bold(b, label, st);
    if (!rc)
        rc = put(b, v, max, st);
    if (!rc)
        rc = es_buf_puts(b, st == MD ? "  \n" : "\n");
    return rc;
}

static int num_line(struct es_buf *b, const char *label, double v, enum style st)
{
    char t[64];
    snprintf(t, sizeof t, "%.0f", v);
    return line(b, label, t, 0, st);
}

static int post_lines(struct es_buf *b, json_t *a, bool zh, enum style st)
{
    int rc = 0;
    char sev[16];
    snprintf(sev, sizeof sev, "%lld", iget(a, "severity"));
    rc = rc ? rc : line(b, zh ? "品牌" : "Brand", sget(a, "brand"), 128, st);
    rc = rc ? rc : line(b, zh ? "类别" : "Category", sget(a, "category"), 128, st);
    if (iget(a, "severity"))
        rc = rc ? rc : line(b, zh ? "严重度" : "Severity", sev, 0, st);
    rc = rc ? rc : line(b, zh ? "平台" : "Platform", sget(a, "platform"), 32, st);
    rc = rc ? rc : line(b, zh ? "作者" : "Author", sget(a, "author"), 128, st);
    rc = rc ? rc : line(b, zh ? "地点" : "Fence", sget(a, "fence"), 128, st);
    rc = rc ? rc : line(b, zh ? "内容" : "Text", sget(a, "text"), TEXT_MAX, st);
    rc = rc ? rc : line(b, zh ? "链接" : "Link", sget(a, "url"), 512, st == MD ? PLAIN : st);
    rc = rc ? rc : line(b, zh ? "时间" : "Time", sget(a, "created_at"), 40, st);
    rc = rc ? rc : line(b, zh ? "提及" : "Mention", sget(a, "mid"), 64, st);
    return rc;
}

int es__alert_text(json_t *alert, const char *lang, bool markdown, struct es_buf *title,
                   struct es_buf *body);

static int text_styled(json_t *a, const char *lang, enum style st, struct es_buf *title,
                       struct es_buf *body)
{
    bool zh = !lang || strcmp(lang, "en") != 0;
    const char *type = sget(a, "type");
    const char *brand = *sget(a, "brand") ? sget(a, "brand") : "—";
    int rc = 0;
    if (strcmp(type, "spike") == 0) {
        rc = es_buf_puts(title, zh ? "[earshot] 提及量激增: " : "[earshot] Mention spike: ");
        rc = rc ? rc : put(title, brand, 64, PLAIN);
        if (!rc && *sget(a, "category")) {
            rc = es_buf_puts(title, " / ");
            rc = rc ? rc : put(title, sget(a, "category"), 64, PLAIN);
        }
        rc = rc ? rc : line(body, zh ? "品牌" : "Brand", brand, 128, st);
        rc = rc ? rc : line(body, zh ? "类别" : "Category", sget(a, "category"), 128, st);
        json_t *sp = json_object_get(a, "spike");
        char w[64];
        snprintf(w, sizeof w, "%lld", iget(sp, "window_min"));
        rc = rc ? rc : line(body, zh ? "窗口(分钟)" : "Window (min)", w, 0, st);
        rc = rc ? rc : num_line(body, zh ? "窗口内提及" : "Mentions in window",
                                json_number_value(json_object_get(sp, "rate")), st);
        rc = rc ? rc : num_line(body, zh ? "基线" : "Baseline",
                                json_number_value(json_object_get(sp, "baseline")), st);
        char r[32];
        snprintf(r, sizeof r, "%.1fx", json_number_value(json_object_get(sp, "ratio")));
        rc = rc ? rc : line(body, zh ? "倍数" : "Ratio", r, 0, st);
    } else if (strcmp(type, "churn") == 0) {
        rc = es_buf_puts(title, zh ? "[earshot] 客户流失风险: " : "[earshot] Churn risk: ");
        rc = rc ? rc : put(title, sget(a, "author"), 64, PLAIN);
        char n[32];
        snprintf(n, sizeof n, "%lld", iget(a, "negatives_30d"));
        rc = rc ? rc : line(body, zh ? "30 天内负面体验" : "Negative interactions in 30 days",
                            n, 0, st);
        rc = rc ? rc : post_lines(body, a, zh, st);
    } else if (strcmp(type, "digest") == 0) {
        char t[160];
        snprintf(t, sizeof t,
                 zh ? "[earshot] 摘要: %lld 条新提及" : "[earshot] Digest: %lld new mentions",
                 iget(a, "count"));
        rc = es_buf_puts(title, t);
        rc = rc ? rc : line(body, zh ? "订阅" : "Subscription", sget(a, "sub_name"), 128, st);
        char iv[32];
        snprintf(iv, sizeof iv, "%lld s", iget(a, "interval_s"));
        rc = rc ? rc : line(body, zh ? "间隔" : "Interval", iv, 0, st);
        json_t *top = json_object_get(a, "top");
        size_t i;
        json_t *p;
        if (!rc && json_array_size(top))
            rc = es_buf_puts(body, zh ? "\n最严重的提及:\n" : "\nTop mentions:\n");
        json_array_foreach(top, i, p) {
            if (rc)
                break;
            char h[160];
            snprintf(h, sizeof h, "%s%zu. [%lld] ", st == MD ? "\n" : "", i + 1,
                     iget(p, "severity"));
            rc = es_buf_puts(body, h);
            rc = rc ? rc : put(body, sget(p, "brand"), 64, st);
            rc = rc ? rc : es_buf_puts(body, " — ");
            rc = rc ? rc : put(body, sget(p, "text"), 200, st);
            rc = rc ? rc : es_buf_puts(body, st == MD ? "  \n" : "\n");
        }
    } else if (strcmp(type, "test") == 0) {
        rc = es_buf_puts(title, zh ? "[earshot] 测试消息" : "[earshot] Test message");
        rc = rc ? rc : line(body, zh ? "订阅" : "Subscription", sget(a, "sub_name"), 128, st);
        rc = rc ? rc : es_buf_puts(body, zh ? "此通道已可接收 earshot 告警。\n"
                                            : "This channel receives earshot alerts.\n");
    } else {
        char sev[16];
        snprintf(sev, sizeof sev, "%lld", iget(a, "severity"));
        rc = es_buf_puts(title, zh ? "[earshot] 新投诉: " : "[earshot] New complaint: ");
        rc = rc ? rc : put(title, brand, 64, PLAIN);
        rc = rc ? rc : es_buf_printf(title, zh ? " (严重度 %s)" : " (severity %s)", sev);
        rc = rc ? rc : post_lines(body, a, zh, st);
    }
    return rc;
}

int es__alert_text(json_t *alert, const char *lang, bool markdown, struct es_buf *title,
                   struct es_buf *body)
{
    return text_styled(alert, lang, markdown ? MD : PLAIN, title, body);
}

void es__alert_msg_cleanup(struct es__alert_msg *m)
{
    if (!m)
        return;
    es_free(m->url);
    es_free(m->from);
    curl_slist_free_all(m->hdr);
    curl_slist_free_all(m->rcpt);
    es_buf_cleanup(&m->body);
    memset(m, 0, sizeof *m);
}

static int add_hdr(struct es__alert_msg *m, const char *fmt, const char *v)
{
    char h[512];
    snprintf(h, sizeof h, fmt, v);
    struct curl_slist *n = curl_slist_append(m->hdr, h);
    if (!n)
        return ES_ENOMEM;
    m->hdr = n;
    return 0;
}

/*
 * dump_json appends o's compact JSON. json_dumpb writes straight into the buffer, measured
 * first: json_dumps grows a buffer of its own and, when one of those allocations fails and a
 * later one succeeds, can return JSON with a piece missing (Jansson 2.14 ignores the result
 * of an object key's write).
 */
static int dump_json(struct es_buf *b, json_t *o)
{
    size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT);
    if (n == 0)
        return ES_ENOMEM;
    int rc = es_buf_reserve(b, n);
    if (rc)
        return rc;
    if (json_dumpb(o, b->data + b->len, n, JSON_COMPACT) != n)
        return ES_ENOMEM;
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* ---- email ---- */

static int b64_lines(struct es_buf *out, const char *p, size_t n)
{
    char enc[4 * (57 / 3) + 1];
    for (size_t i = 0; i < n; i += 57) {
        size_t k = n - i < 57 ? n - i : 57;
        es__alert_b64((const unsigned char *)p + i, k, enc);
        int rc = es_buf_puts(out, enc);
        if (!rc)
            rc = es_buf_puts(out, "\r\n");
        if (rc)
            return rc;
    }
    return 0;
}

/* RFC 2047 encoded words of at most 75 characters, split on UTF-8 boundaries. */
static int subject_2047(struct es_buf *out, const char *s)
{
    size_t n = strlen(s), i = 0;
    bool ascii = true;
    for (size_t j = 0; j < n; j++)
        if ((unsigned char)s[j] >= 0x80 || s[j] == '=' || s[j] == '?')
            ascii = false;
    if (ascii && n < 900)
        return es_buf_puts(out, s);
    bool first = true;
    while (i < n) {
        size_t k = utf8_cut(s + i, n - i, 45); /* 45 bytes -> 60 base64 chars + 12 */
        if (k == 0)
            k = 1;
        char enc[4 * 16 + 1];
        es__alert_b64((const unsigned char *)s + i, k, enc);
        int rc = es_buf_printf(out, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", enc);
        if (rc)
            return rc;
        first = false;
        i += k;
    }
    return 0;
}

static bool header_safe(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return false;
    return true;
}

static int render_email(json_t *ch, json_t *alert, const char *lang, const char *key,
                        int64_t now_ms, struct es__alert_msg *m)
{
    struct es_buf title, body;
    es_buf_init(&title, 4096);
    es_buf_init(&body, BODY_CAP);
    int rc = text_styled(alert, lang, PLAIN, &title, &body);
    const char *from = sget(ch, "from");
    json_t *to = json_object_get(ch, "to");
    if (!rc && (!*from || !header_safe(from) || !json_array_size(to)))
        rc = ES_EINVAL;
    if (rc)
        goto out;
    m->from = es_strdup(from);
    if (!m->from) {
        rc = ES_ENOMEM;
        goto out;
    }
    struct es_buf *b = &m->body;
    char date[64];
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    rc = es_buf_printf(b, "Date: %s\r\nMessage-ID: <%s.%lld@earshot>\r\nFrom: %s\r\nTo: ", date,
                       key, (long long)now_ms, from);
    size_t i;
    json_t *v;
    json_array_foreach(to, i, v) {
        const char *addr = json_string_value(v);
        if (rc)
            break;
        if (!addr || !header_safe(addr)) {
            rc = ES_EINVAL;
            break;
        }
        rc = es_buf_printf(b, "%s%s", i ? ", " : "", addr);
        char rcpt[400];
        snprintf(rcpt, sizeof rcpt, "<%s>", addr);
        struct curl_slist *n = rc ? NULL : curl_slist_append(m->rcpt, rcpt);
        if (!rc && !n)
            rc = ES_ENOMEM;
        if (n)
            m->rcpt = n;
    }
    rc = rc ? rc : es_buf_puts(b, "\r\nSubject: ");
    rc = rc ? rc : subject_2047(b, title.data ? title.data : "earshot");
    rc = rc ? rc : es_buf_printf(b, "\r\nMIME-Version: 1.0\r\n"
                                    "Content-Type: text/plain; charset=UTF-8\r\n"
                                    "Content-Transfer-Encoding: base64\r\n"
                                    "X-Earshot-Idempotency-Key: %s\r\n\r\n", key);
    rc = rc ? rc : es_buf_printf(&body, "\n%s: %s\n", "idempotency_key", key);
    rc = rc ? rc : b64_lines(b, body.data ? body.data : "", body.len);
out:
    es_buf_cleanup(&title);
    es_buf_cleanup(&body);
    return rc;
}

/* ---- the HTTP channels ---- */

static json_t *obj(void)
{
    return json_object();
}

/* set: json_object_set_new that says when an allocation failed (v's reference is taken) */
static int set(json_t *o, const char *k, json_t *v)
{
    return json_object_set_new(o, k, v) == 0 ? 0 : ES_ENOMEM;
}

int es__alert_render(json_t *ch, json_t *alert, const char *lang, const char *key, int64_t now_ms,
                     struct es__alert_msg *m)
{
    memset(m, 0, sizeof *m);
    es_buf_init(&m->body, BODY_CAP);
    int type = es__alert_ch_parse(sget(ch, "type"));
    const char *url = sget(ch, "url"), *secret = sget(ch, "secret");
    struct es_buf title, text, u;
    es_buf_init(&title, 4096);
    es_buf_init(&text, 64 << 10);
    es_buf_init(&u, 8192);
    json_t *root = NULL;
    int rc = 0;
    if (type < 0 || !*url) {
        rc = ES_EINVAL;
        goto out;
    }
    if (type == ES__ALERT_CH_EMAIL) {
        rc = render_email(ch, alert, lang, key, now_ms, m);
        rc = rc ? rc : es_buf_puts(&u, url);
        goto url;
    }
    rc = es_buf_puts(&u, url);
    rc = rc ? rc : add_hdr(m, "Content-Type: %s", "application/json; charset=utf-8");
    rc = rc ? rc : add_hdr(m, "X-Earshot-Idempotency-Key: %s", key);
    rc = rc ? rc : add_hdr(m, "%s", "Expect:");
    if (rc)
        goto out;
    char ts_s[32], ts_ms[32];
    snprintf(ts_s, sizeof ts_s, "%lld", (long long)(now_ms / 1000));
    snprintf(ts_ms, sizeof ts_ms, "%lld", (long long)now_ms);
    if (type == ES__ALERT_CH_WEBHOOK) {
        root = json_deep_copy(alert);
        if (!root) {
            rc = ES_ENOMEM;
            goto out;
        }
        rc = set(root, "idempotency_key", json_string(key));
        rc = rc ? rc : dump_json(&m->body, root);
        rc = rc ? rc : add_hdr(m, "X-Earshot-Timestamp: %s", ts_s);
        if (!rc && *secret) {
            struct es_buf sb;
            es_buf_init(&sb, BODY_CAP + 64);
            unsigned char mac[32];
            char hex[65];
            rc = es_buf_printf(&sb, "%s.", ts_s);
            rc = rc ? rc : es_buf_append(&sb, m->body.data, m->body.len);
            rc = rc ? rc : es__alert_hmac_sha256(secret, strlen(secret), sb.data, sb.len, mac);
            es_buf_cleanup(&sb);
            if (!rc) {
                es__alert_hex(mac, 32, hex);
                rc = add_hdr(m, "X-Earshot-Signature: v1=%s", hex);
            }
        }
        goto url;
    }
    enum style st = type == ES__ALERT_CH_SLACK ? SLACK : MD;
    rc = text_styled(alert, lang, st, &title, &text);
    if (rc)
        goto out;
    const char *tt = title.data ? title.data : "", *tx = text.data ? text.data : "";
    root = obj();
    if (!root) {
        rc = ES_ENOMEM;
        goto out;
    }
    if (type == ES__ALERT_CH_SLACK) {
        char head[160];
        size_t hn = utf8_cut(tt, strlen(tt), 140);
        snprintf(head, sizeof head, "%.*s", (int)hn, tt);
        rc = set(root, "text", json_string(tt));
        rc = rc ? rc : set(
            root, "blocks",
            json_pack("[{s:s, s:{s:s, s:s}}, {s:s, s:{s:s, s:s}}, {s:s, s:[{s:s, s:s}]}]",
                      "type", "header", "text", "type", "plain_text", "text", head,
                      "type", "section", "text", "type", "mrkdwn", "text", tx,
                      "type", "context", "elements", "type", "mrkdwn", "text", key));
    } else if (type == ES__ALERT_CH_DINGTALK) {
        struct es_buf md;
        es_buf_init(&md, 70 << 10);
        rc = es_buf_printf(&md, "#### %s\n\n%s\n\n> %s", tt, tx, key);
        rc = rc ? rc : set(root, "msgtype", json_string("markdown"));
        rc = rc ? rc : set(root, "markdown", json_pack("{s:s, s:s}", "title", tt, "text", md.data));
        es_buf_cleanup(&md);
        if (!rc && *secret) {
            struct es_buf sb;
            es_buf_init(&sb, 4096);
            unsigned char mac[32];
            char b64[64];
            rc = es_buf_printf(&sb, "%s\n%s", ts_ms, secret);
            rc = rc ? rc : es__alert_hmac_sha256(secret, strlen(secret), sb.data, sb.len, mac);
            es_buf_cleanup(&sb);
            if (!rc) {
                es__alert_b64(mac, 32, b64);
                rc = es_buf_printf(&u, "%stimestamp=%s&sign=", strchr(url, '?') ? "&" : "?",
                                   ts_ms);
                rc = rc ? rc : es__alert_urlenc(&u, b64);
            }
        }
    } else if (type == ES__ALERT_CH_WECOM) {
        struct es_buf md;
        es_buf_init(&md, 4096); /* WeCom's limit for markdown content */
        rc = es_buf_printf(&md, "**%s**\n", tt);
        size_t room = 4000 > md.len + 40 ? 4000 - md.len - 40 : 0;
        size_t cut = utf8_cut(tx, text.len, room);
        rc = rc ? rc : es_buf_append(&md, tx, cut);
        rc = rc ? rc : es_buf_printf(&md, "\n<font color=\"comment\">%s</font>", key);
        rc = rc ? rc : set(root, "msgtype", json_string("markdown"));
        rc = rc ? rc : set(root, "markdown", json_pack("{s:s}", "content", md.data));
        es_buf_cleanup(&md);
    } else if (type == ES__ALERT_CH_FEISHU) {
        if (*secret) {
            struct es_buf kb;
            es_buf_init(&kb, 4096);
            unsigned char mac[32];
            char b64[64];
            rc = es_buf_printf(&kb, "%s\n%s", ts_s, secret);
            rc = rc ? rc : es__alert_hmac_sha256(kb.data, kb.len, "", 0, mac);
            es_buf_cleanup(&kb);
            if (!rc) {
                es__alert_b64(mac, 32, b64);
                rc = set(root, "timestamp", json_string(ts_s));
                rc = rc ? rc : set(root, "sign", json_string(b64));
            }
        }
        const char *tmpl = strcmp(sget(alert, "type"), "spike") == 0 ? "red"
                           : strcmp(sget(alert, "type"), "churn") == 0 ? "orange"
                                                                        : "blue";
        rc = rc ? rc : set(root, "msg_type", json_string("interactive"));
        rc = rc ? rc : set(
            root, "card",
            json_pack("{s:{s:b}, s:{s:{s:s, s:s}, s:s}, s:[{s:s, s:{s:s, s:s}}, {s:s, s:[{s:s, "
                      "s:s}]}]}",
                      "config", "wide_screen_mode", 1, "header", "title", "tag", "plain_text",
                      "content", tt, "template", tmpl, "elements", "tag", "div", "text", "tag",
                      "lark_md", "content", tx, "tag", "note", "elements", "tag", "plain_text",
                      "content", key));
    }
    rc = rc ? rc : dump_json(&m->body, root);
url:
    if (!rc) {
        m->url = es_strdup(u.data ? u.data : "");
        if (!m->url)
            rc = ES_ENOMEM;
    }
out:
    json_decref(root);
    es_buf_cleanup(&title);
    es_buf_cleanup(&text);
    es_buf_cleanup(&u);
    if (rc)
        es__alert_msg_cleanup(m);
    return rc;
}
