/*
 * page: what a feed page says about paging, for the crawler's cursors
 * (es_feed_parse_page). Posts are folded in as they are delivered; the
 * platform's own paging fields are read once the adapter is done:
 *
 *   twitter-v2   meta.newest_id / oldest_id / next_token (computed from the
 *                delivered posts when meta has no ids)
 *   twitter-v1   search_metadata.next_results "?max_id=N&..." -> next_token N;
 *                newest = the largest delivered id (else max_id_str)
 *   weibo        data.cardlistInfo.since_id (m.weibo.cn) or data.since_id
 *                (weibo.com ajax) -> next_token; newest/oldest from the mblogs
 *   wechat-json  getmsglist "msgid" (where the next call starts) -> newest_id,
 *                and next_token while the page held records; "number" -> records
 */
#include <stdio.h>
#include <string.h>

#include "feed/feed_int.h"

static const char *skip_zeros(const char *s)
{
    while (s[0] == '0' && s[1])
        s++;
    return s;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

int es_post_id_cmp(const char *a, const char *b)
{
    if (all_digits(a) && all_digits(b)) {
        a = skip_zeros(a);
        b = skip_zeros(b);
        size_t la = strlen(a), lb = strlen(b);
        if (la != lb)
            return la < lb ? -1 : 1;
    }
    int r = strcmp(a, b);
    return r < 0 ? -1 : r > 0;
}

static void put(char *dst, size_t n, const char *s)
{
    size_t l = strlen(s);
    if (l >= n) {
        dst[0] = '\0'; /* an id that does not fit is no cursor */
        return;
    }
    memcpy(dst, s, l + 1);
}

void es__page_meta_post(struct es_page_meta *m, const struct es_post *p)
{
    m->count++;
    if (p->created_at > m->newest_created_at)
        m->newest_created_at = p->created_at;
    if (!p->id || strlen(p->id) >= sizeof m->newest_id)
        return;
    if (!m->newest_id[0] || es_post_id_cmp(p->id, m->newest_id) > 0)
        put(m->newest_id, sizeof m->newest_id, p->id);
    if (!m->oldest_id[0] || es_post_id_cmp(p->id, m->oldest_id) < 0)
        put(m->oldest_id, sizeof m->oldest_id, p->id);
}

/* An id or token field as text: a string as is, an integer printed. "" otherwise. */
static void jtext(const json_t *v, char *out, size_t n)
{
    out[0] = '\0';
    if (json_is_string(v))
        put(out, n, json_string_value(v));
    else if (json_is_integer(v) && json_integer_value(v) > 0)
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
}

static void twitter_v2(struct es_page_meta *m, const json_t *root)
{
    const json_t *meta = json_object_get(root, "meta");
    char v[256];
    jtext(json_object_get(meta, "newest_id"), v, sizeof v);
    if (v[0])
        put(m->newest_id, sizeof m->newest_id, v);
    jtext(json_object_get(meta, "oldest_id"), v, sizeof v);
    if (v[0])
        put(m->oldest_id, sizeof m->oldest_id, v);
    jtext(json_object_get(meta, "next_token"), m->next_token, sizeof m->next_token);
}

static void twitter_v1(struct es_page_meta *m, const json_t *root)
{
    const json_t *sm = json_object_get(root, "search_metadata");
    const char *nr = es__jstr(sm, "next_results");
    if (nr) {
        const char *p = strstr(nr, "max_id=");
        if (p && (p == nr || p[-1] == '?' || p[-1] == '&')) {
            p += 7;
            size_t k = strspn(p, "0123456789");
            if (k > 0 && k < sizeof m->next_token) {
                memcpy(m->next_token, p, k);
                m->next_token[k] = '\0';
            }
        }
    }
    if (!m->newest_id[0]) {
        char v[64];
        jtext(json_object_get(sm, "max_id_str"), v, sizeof v);
        if (v[0] && strcmp(v, "0") != 0)
            put(m->newest_id, sizeof m->newest_id, v);
    }
}

static void weibo(struct es_page_meta *m, const json_t *root)
{
    const json_t *data = json_object_get(root, "data");
    const json_t *info = json_object_get(data, "cardlistInfo");
    const json_t *since = info ? json_object_get(info, "since_id") : json_object_get(data, "since_id");
    jtext(since, m->next_token, sizeof m->next_token);
    if (strcmp(m->next_token, "0") == 0)
        m->next_token[0] = '\0';
}

static void wechat(struct es_page_meta *m, const json_t *root)
{
    const json_t *list = json_object_get(root, "recordlist");
    if (!list)
        return; /* push messages and message objects: no paging */
    int64_t number = (int64_t)json_array_size(list), msgid = 0;
    es__jint(json_object_get(root, "number"), &number);
    m->records = number > 0 && number < (1 << 30) ? (int)number : 0;
    /* Record ids are synthesised from content: no order, so no cursor in them. */
    m->oldest_id[0] = '\0';
    m->newest_id[0] = '\0';
    if (es__jint(json_object_get(root, "msgid"), &msgid) == 0 && msgid > 0) {
        snprintf(m->newest_id, sizeof m->newest_id, "%lld", (long long)msgid);
        if (m->records > 0)
            memcpy(m->next_token, m->newest_id, strlen(m->newest_id) + 1);
    }
}

void es__page_meta_doc(struct es_page_meta *m, enum es_format f, const json_t *root)
{
    if (!json_is_object(root))
        return;
    switch (f) {
    case ES_FORMAT_TWITTER_V2:
        twitter_v2(m, root);
        break;
    case ES_FORMAT_TWITTER_V1:
        twitter_v1(m, root);
        break;
    case ES_FORMAT_WEIBO:
        weibo(m, root);
        break;
    case ES_FORMAT_WECHAT_JSON:
        wechat(m, root);
        break;
    default:
        break;
    }
}
