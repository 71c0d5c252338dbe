/* Channel payloads and signatures; subscription validation. */
#include <string.h>

#include <openssl/evp.h>

#include "alert/internal.h"
#include "harness.h"

static json_t *alert_fixture(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:I}", "id", "m3-17", "type",
                     "mention", "brand", "星巴克", "category", "service", "severity", 3, "text",
                     "排队一小时 [click](http://evil.example) <@U123> & *bold* #tag", "author",
                     "张三 @zhang", "url", "https://weibo.com/1/2", "created_at",
                     "2026-11-22T10:00:00Z", "event_ms", (json_int_t)1700000000000);
}

static json_t *ch(const char *type, const char *url, const char *secret)
{
    json_t *c = json_pack("{s:s, s:s}", "type", type, "url", url);
    if (secret)
        json_object_set_new(c, "secret", json_string(secret));
    return c;
}

static const char *hdr(struct curl_slist *h, const char *name)
{
    size_t n = strlen(name);
    for (; h; h = h->next)
        if (strncasecmp(h->data, name, n) == 0 && h->data[n] == ':')
            return h->data + n + 2;
    return NULL;
}

ES_TEST(webhook_is_the_alert_json_signed_over_timestamp_and_body)
{
    json_t *a = alert_fixture(), *c = ch("webhook", "https://hooks.example/x", "whsec");
    struct es__alert_msg m;
    ES_ASSERT_EQ(es__alert_render(c, a, "zh", "k123", 1700000000123, &m), 0);
    ES_ASSERT_STR(hdr(m.hdr, "X-Earshot-Timestamp"), "1700000000");
    ES_ASSERT_STR(hdr(m.hdr, "X-Earshot-Idempotency-Key"), "k123");
    json_t *b = json_loadb(m.body.data, m.body.len, 0, NULL);
    ES_ASSERT(b);
    ES_ASSERT_STR(json_string_value(json_object_get(b, "idempotency_key")), "k123");
    ES_ASSERT_STR(json_string_value(json_object_get(b, "type")), "mention");
    ES_ASSERT_STR(json_string_value(json_object_get(b, "brand")), "星巴克");
    json_decref(b);
    /* v1 = hex(HMAC-SHA256(secret, ts "." body)) */
    char msg[8192], hex[65];
    unsigned char mac[32];
    snprintf(msg, sizeof msg, "1700000000.%s", m.body.data);
    es__alert_hmac_sha256("whsec", 5, msg, strlen(msg), mac);
    es__alert_hex(mac, 32, hex);
    char want[80];
    snprintf(want, sizeof want, "v1=%s", hex);
    ES_ASSERT_STR(hdr(m.hdr, "X-Earshot-Signature"), want);
    /* a known vector: HMAC-SHA256("whsec", "1700000000.{\"a\":1}") */
    es__alert_hmac_sha256("whsec", 5, "1700000000.{\"a\":1}", 18, mac);
    es__alert_hex(mac, 32, hex);
    ES_ASSERT_STR(hex, "8ad37ba156048ae0e0a5533c75cdf26fee88b07f93cb57ee4c80adb053012032");
    es__alert_msg_cleanup(&m);
    json_decref(a);
    json_decref(c);
}

ES_TEST(dingtalk_markdown_and_signed_url)
{
    json_t *a = alert_fixture(),
           *c = ch("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=T", "secret");
    struct es__alert_msg m;
    ES_ASSERT_EQ(es__alert_render(c, a, "zh", "k1", 1700000000000, &m), 0);
    /* the vector of DingTalk's documented scheme for ts 1700000000000 and secret "secret" */
    ES_ASSERT_STR(m.url, "https://oapi.dingtalk.com/robot/send?access_token=T&timestamp="
                         "1700000000000&sign=OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D");
    json_t *b = json_loadb(m.body.data, m.body.len, 0, NULL);
    ES_ASSERT_STR(json_string_value(json_object_get(b, "msgtype")), "markdown");
    const char *t = json_string_value(json_object_get(json_object_get(b, "markdown"), "text"));
    ES_ASSERT(t && strstr(t, "星巴克") && strstr(t, "严重度"));
    ES_ASSERT(!strstr(t, "](http://evil")); /* no link injected from the post */
    ES_ASSERT(strstr(t, "［click］"));
    json_decref(b);
    es__alert_msg_cleanup(&m);
    json_decref(a);
    json_decref(c);
}

ES_TEST(feishu_card_signed_with_timestamp_and_secret_as_key)
{
    json_t *a = alert_fixture(), *c = ch("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/x",
                                         "secret");
    struct es__alert_msg m;
    ES_ASSERT_EQ(es__alert_render(c, a, "en", "k2", 1599360473000, &m), 0);
    json_t *b = json_loadb(m.body.data, m.body.len, 0, NULL);
    ES_ASSERT_STR(json_string_value(json_object_get(b, "timestamp")), "1599360473");
    ES_ASSERT_STR(json_string_value(json_object_get(b, "sign")),
                  "q4jswNiMy51J5JuQV566yJat0/lQ/c+22kINzUgKsGU=");
    ES_ASSERT_STR(json_string_value(json_object_get(b, "msg_type")), "interactive");
    json_t *card = json_object_get(b, "card");
    const char *title = json_string_value(
        json_object_get(json_object_get(json_object_get(card, "header"), "title"), "content"));
    ES_ASSERT(title && strstr(title, "New complaint"));
    json_decref(b);
    es__alert_msg_cleanup(&m);
    json_decref(a);
    json_decref(c);
}

ES_TEST(slack_blocks_escape_the_post)
{
    json_t *a = alert_fixture(), *c = ch("slack", "https://hooks.slack.com/services/x", NULL);
    struct es__alert_msg m;
    ES_ASSERT_EQ(es__alert_render(c, a, "en", "k3", 1700000000000, &m), 0);
    json_t *b = json_loadb(m.body.data, m.body.len, 0, NULL);
    ES_ASSERT(json_string_value(json_object_get(b, "text")));
    json_t *blocks = json_object_get(b, "blocks");
    ES_ASSERT(json_array_size(blocks) >= 2);
    const char *sec = json_string_value(
        json_object_get(json_object_get(json_array_get(blocks, 1), "text"), "text"));
    ES_ASSERT(sec && strstr(sec, "&lt;@U123&gt; &amp;"));
    ES_ASSERT(!strstr(sec, "<@U123>"));
    ES_ASSERT(!hdr(m.hdr, "X-Earshot-Signature"));
    json_decref(b);
    es__alert_msg_cleanup(&m);
    json_decref(a);
    json_decref(c);
}

ES_TEST(wecom_markdown_within_4096_bytes)
{
    json_t *a = alert_fixture(),
           *c = ch("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K", NULL);
    char big[20000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_object_set_new(a, "text", json_string(big));
    struct es__alert_msg m;
    ES_ASSERT_EQ(es__alert_render(c, a, "zh", "k4", 1700000000000, &m), 0);
    json_t *b = json_loadb(m.body.data, m.body.len, 0, NULL);
    ES_ASSERT_STR(json_string_value(json_object_get(b, "msgtype")), "markdown");
    const char *t = json_string_value(json_object_get(json_object_get(b, "markdown"), "content"));
    ES_ASSERT(t && strlen(t) <= 4096);
    json_decref(b);
    es__alert_msg_cleanup(&m);
    json_decref(a);
    json_decref(c);
}

ES_TEST(email_is_rfc5322_with_encoded_subject)
{
    json_t *a = alert_fixture();
    json_t *c = json_pack("{s:s, s:s, s:s, s:[s, s]}", "type", "email", "url",
                          "smtp://127.0.0.1:2525", "from", "alerts@earshot.example", "to",
                          "pm@brand.example", "ops@brand.example");
    struct es__alert_msg m;
    ES_ASSERT_EQ(es__alert_render(c, a, "zh", "k5", 1700000000000, &m), 0);
    const char *s = m.body.data;
    ES_ASSERT(strstr(s, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
    ES_ASSERT(strstr(s, "Message-ID: <k5."));
    ES_ASSERT(strstr(s, "From: alerts@earshot.example\r\n"));
    ES_ASSERT(strstr(s, "To: pm@brand.example, ops@brand.example\r\n"));
    ES_ASSERT(strstr(s, "Subject: =?UTF-8?B?"));
    ES_ASSERT(strstr(s, "Content-Type: text/plain; charset=UTF-8\r\n"));
    ES_ASSERT(strstr(s, "Content-Transfer-Encoding: base64\r\n"));
    ES_ASSERT(strstr(s, "X-Earshot-Idempotency-Key: k5\r\n\r\n"));
    ES_ASSERT_STR(m.from, "alerts@earshot.example");
    ES_ASSERT(m.rcpt && strcmp(m.rcpt->data, "<pm@brand.example>") == 0);
    /* the body decodes to the text */
    const char *b64 = strstr(s, "\r\n\r\n") + 4;
    unsigned char dec[8192];
    char clean[8192];
    size_t k = 0;
    for (const char *p = b64; *p && k < sizeof clean - 1; p++)
        if (*p != '\r' && *p != '\n')
            clean[k++] = *p;
    clean[k] = '\0';
    int dn = EVP_DecodeBlock(dec, (const unsigned char *)clean, (int)k);
    ES_ASSERT(dn > 0);
    dec[dn] = '\0';
    ES_ASSERT(strstr((char *)dec, "排队一小时"));
    ES_ASSERT(strstr((char *)dec, "idempotency_key: k5"));
    es__alert_msg_cleanup(&m);
    /* a header injection through an address is refused */
    json_array_set_new(json_object_get(c, "to"), 0, json_string("a@b\r\nBcc: x@y"));
    ES_ASSERT_EQ(es__alert_render(c, a, "zh", "k5", 1700000000000, &m), ES_EINVAL);
    json_decref(a);
    json_decref(c);
}

static int validate(const char *js, const char *allow, char *msg, size_t n)
{
    json_t *in = json_loads(js, 0, NULL), *out = NULL;
    struct es_diag d = {0};
    int rc = es_alert_sub_validate(in, allow, false, &out, &d);
    snprintf(msg, n, "%s", d.msg);
    json_decref(in);
    json_decref(out);
    return rc;
}

ES_TEST(subscription_errors_name_the_key_path)
{
    char m[600];
    ES_ASSERT_EQ(
        validate("{\"channels\":[{\"type\":\"webhook\",\"url\":\"http://127.0.0.1:9/h\"}]}",
                 "127.0.0.1", m, sizeof m),
        0);
    ES_ASSERT_EQ(
        validate("{\"channels\":[{\"type\":\"webhook\",\"url\":\"http://127.0.0.1:9/h\"}]}", "", m,
                 sizeof m),
        ES_EPARSE);
    ES_ASSERT(strstr(m, "channels[0].url:") && strstr(m, "loopback"));
    ES_ASSERT_EQ(validate("{\"channels\":[{\"type\":\"webhook\",\"url\":\"https://8.8.8.8/\"},"
                          "{\"type\":\"pager\",\"url\":\"https://8.8.8.8/\"}]}", "", m, sizeof m),
                 ES_EPARSE);
    ES_ASSERT(strstr(m, "channels[1].type:"));
    ES_ASSERT_EQ(validate("{\"min_severity\":9,\"channels\":[]}", "", m, sizeof m), ES_EPARSE);
    ES_ASSERT(strstr(m, "min_severity:"));
    ES_ASSERT_EQ(validate("{\"brand\":[\"x\"]}", "", m, sizeof m), ES_EPARSE);
    ES_ASSERT(strstr(m, "brand: unknown key"));
    ES_ASSERT_EQ(validate("{\"keywords\":[\"ok\", 3],\"channels\":[]}", "", m, sizeof m),
                 ES_EPARSE);
    ES_ASSERT(strstr(m, "keywords[1]:"));
    ES_ASSERT_EQ(validate("{\"channels\":[{\"type\":\"email\",\"url\":\"smtp://8.8.8.8\","
                          "\"from\":\"a@b.c\",\"to\":[\"x@y.z\",\"nope\"]}]}", "", m, sizeof m),
                 ES_EPARSE);
    ES_ASSERT(strstr(m, "channels[0].to[1]:"));
    ES_ASSERT_EQ(
        validate("{\"mode\":\"digest\",\"interval_s\":5,\"channels\":[]}", "", m, sizeof m),
        ES_EPARSE);
    ES_ASSERT(strstr(m, "interval_s:"));
    ES_ASSERT_EQ(validate("[1]", "", m, sizeof m), ES_EPARSE);
    /* defaults are filled in */
    json_t *in = json_loads("{\"channels\":[{\"type\":\"slack\",\"url\":\"https://8.8.8.8/x\"}]}",
                            0, NULL), *out = NULL;
    struct es_diag d = {0};
    ES_ASSERT_EQ(es_alert_sub_validate(in, NULL, false, &out, &d), 0);
    ES_ASSERT_STR(json_string_value(json_object_get(out, "mode")), "immediate");
    ES_ASSERT_STR(json_string_value(json_object_get(out, "lang")), "zh");
    ES_ASSERT_EQ(json_integer_value(json_object_get(out, "min_severity")), 1);
    ES_ASSERT_EQ(json_array_size(json_object_get(out, "events")), 3);
    json_decref(in);
    json_decref(out);
}

int main(void)
{
    ES_RUN(webhook_is_the_alert_json_signed_over_timestamp_and_body);
    ES_RUN(dingtalk_markdown_and_signed_url);
    ES_RUN(feishu_card_signed_with_timestamp_and_secret_as_key);
    ES_RUN(slack_blocks_escape_the_post);
    ES_RUN(wecom_markdown_within_4096_bytes);
    ES_RUN(email_is_rfc5322_with_encoded_subject);
    ES_RUN(subscription_errors_name_the_key_path);
    return ES_DONE();
}
