/*
 * test_respond_fears: the FEARS text checks on real-looking replies, in
 * Chinese (simplified, traditional, full-width) and English: channel
 * deflection (phones, call phrases, forms, form URLs) and what must not
 * trip it, DM invitations, stock phrases, placeholders, empty and too-long
 * replies, the reason table, loading errors and the shipped templates.
 */
#include <stdlib.h>
#include <unistd.h>

#include "earshot/alloc.h"
#include "earshot/fears.h"
#include "earshot/norm.h"
#include "harness.h"

static struct es_norm *nm;
static struct es_fears *F;
static struct es_fears_report R;

static void setup(void)
{
    nm = es_norm_new(NULL, NULL);
    if (!nm) {
        printf("es_norm_new failed\n");
        exit(1);
    }
    struct es_diag d = {0};
    F = es_fears_new(nm, ES_SOURCE_DIR "/rules/fears", &d);
    if (!F) {
        char buf[800];
        es_diag_format(&d, buf, sizeof buf);
        printf("es_fears_new: %s\n", buf);
        exit(1);
    }
}

static int check(const char *s)
{
    return es_fears_check_text(F, s, strlen(s), &R);
}

static void dump(const char *s)
{
    printf("  text: %s\n", s);
    for (size_t i = 0; i < R.n_deflections; i++)
        printf("  hit %s [%zu,%zu) \"%s\"\n", es_fears_kind_name(R.deflections[i].kind),
               R.deflections[i].start, R.deflections[i].end, R.deflections[i].match);
}

/* ---- deflection positives ----------------------------------------------------------------- */

struct pos {
    const char *text;
    enum es_fears_kind kind;
    const char *match; /* the original bytes that hit */
};

static const struct pos phones[] = {
    {"请拨打13812345678联系我们", ES_FEARS_PHONE, "13812345678"},
    {"我的手机 138 1234 5678，有事找我", ES_FEARS_PHONE, "138 1234 5678"},
    {"有问题可以找 138-1234-5678 这个号", ES_FEARS_PHONE, "138-1234-5678"},
    {"店长的号码 +86 138 1234 5678", ES_FEARS_PHONE, "+86 138 1234 5678"},
    {"号码是0086 13812345678", ES_FEARS_PHONE, "0086 13812345678"},
    {"或者 +86-13912345678 找我们", ES_FEARS_PHONE, "+86-13912345678"},
    {"(+86) 15012345678 is the store manager", ES_FEARS_PHONE, "(+86) 15012345678"},
    {"有问题找400-820-8820吧", ES_FEARS_PHONE, "400-820-8820"},
    {"全国统一 4008208820", ES_FEARS_PHONE, "4008208820"},
    {"或 800 820 8820", ES_FEARS_PHONE, "800 820 8820"},
    {"门店座机010-12345678", ES_FEARS_PHONE, "010-12345678"},
    {"上海门店 (021)12345678", ES_FEARS_PHONE, "(021)12345678"},
    {"深圳分店：0755-1234567", ES_FEARS_PHONE, "0755-1234567"},
    {"深圳分店 0755 12345678", ES_FEARS_PHONE, "0755 12345678"},
    {"北京 01012345678", ES_FEARS_PHONE, "01012345678"},
    {"Reach the team on +1 (800) 555-0199 today", ES_FEARS_PHONE, "+1 (800) 555-0199"},
    {"Our number: 1-800-555-0199.", ES_FEARS_PHONE, "1-800-555-0199"},
    {"try (800) 555-0199 if that's easier", ES_FEARS_PHONE, "(800) 555-0199"},
    {"try 800.555.0199 if that's easier", ES_FEARS_PHONE, "800.555.0199"},
    {"London office +44 20 7946 0958", ES_FEARS_PHONE, "+44 20 7946 0958"},
    {"London office 020 7946 0958", ES_FEARS_PHONE, "020 7946 0958"},
    {"Paris: +33 1 42 68 53 00", ES_FEARS_PHONE, "+33 1 42 68 53 00"},
    {"HK desk +852 2345 6789", ES_FEARS_PHONE, "+852 2345 6789"},
    {"Tokyo +81 3-1234-5678", ES_FEARS_PHONE, "+81 3-1234-5678"},
    {"It's 1-800-FLOWERS, open all night", ES_FEARS_PHONE, "1-800-FLOWERS"},
    {"just ring 1-800-GOT-JUNK", ES_FEARS_PHONE, "1-800-GOT-JUNK"},
    {"号码１３８１２３４５６７８找店长", ES_FEARS_PHONE, "１３８１２３４５６７８"},
    {"店里的号：４００－８２０－８８２０", ES_FEARS_PHONE, "４００－８２０－８８２０"},
    {"門市號碼 (02) 2345-6789", ES_FEARS_PHONE, "(02) 2345-6789"},
};

static const struct pos calls[] = {
    {"请拨打我们的客服热线，会有专人为您处理", ES_FEARS_CALL_PHRASE, "拨打"},
    {"請撥打我們的客服熱線", ES_FEARS_CALL_PHRASE, "撥打"},
    {"您可以致电我们，我们帮您查一下", ES_FEARS_CALL_PHRASE, "致电"},
    {"請致電我們的門市", ES_FEARS_CALL_PHRASE, "致電"},
    {"欢迎来电咨询", ES_FEARS_CALL_PHRASE, "欢迎来电"},
    {"麻烦您打电话给我们，我们马上处理", ES_FEARS_CALL_PHRASE, "打电话给我们"},
    {"您给我们打个电话吧", ES_FEARS_CALL_PHRASE, "给我们打个电话"},
    {"可以电话联系我们的客服同事", ES_FEARS_CALL_PHRASE, "电话联系我们"},
    {"有疑问请联系客服电话", ES_FEARS_CALL_PHRASE, "客服电话"},
    {"服务热线24小时在线", ES_FEARS_CALL_PHRASE, "热线"},
    {"门店的联系电话在小程序里", ES_FEARS_CALL_PHRASE, "联系电话"},
    {"Please call us at your convenience.", ES_FEARS_CALL_PHRASE, "call us"},
    {"Give us a call and we'll sort it out", ES_FEARS_CALL_PHRASE, "Give us a call"},
    {"Call our support team on the number on your bill", ES_FEARS_CALL_PHRASE,
     "Call our support team"},
    {"Phone us any time, day or night", ES_FEARS_CALL_PHRASE, "Phone us"},
    {"Ring us when you get a minute", ES_FEARS_CALL_PHRASE, "Ring us"},
    {"You can reach us at 800-555-0199", ES_FEARS_CALL_PHRASE, "reach us at 8"},
    {"Please call our hotline so we can help", ES_FEARS_CALL_PHRASE, "call our hotline"},
    {"CALL US! We're open 24/7", ES_FEARS_CALL_PHRASE, "CALL US"},
    {"ＣＡＬＬ ＵＳ and we will fix it", ES_FEARS_CALL_PHRASE, "ＣＡＬＬ ＵＳ"},
    {"Our customer care line is open 9-5", ES_FEARS_CALL_PHRASE, "customer care line"},
    {"It's quicker to sort this by phone", ES_FEARS_CALL_PHRASE, "by phone"},
    {"give the store a call, they'll swap it", ES_FEARS_CALL_PHRASE, "give the store a call"},
    {"Leave your phone number and we'll call you back.", ES_FEARS_CALL_PHRASE,
     "Leave your phone number"},
    {"留下您的手机号，我们回电给您", ES_FEARS_CALL_PHRASE, "留下您的手机号"},
    {"麻烦提供一下您的电话，我们联系您", ES_FEARS_CALL_PHRASE, "提供一下您的电话"},
    {"請撥打１３８１２３４５６７８", ES_FEARS_CALL_PHRASE, "撥打"},
    {"call toll-free, it costs nothing", ES_FEARS_CALL_PHRASE, "toll-free"},
};

static const struct pos forms[] = {
    {"请填写表单，我们会尽快处理", ES_FEARS_FORM_PHRASE, "填写表单"},
    {"麻烦填一下表，方便我们登记", ES_FEARS_FORM_PHRASE, "填一下表"},
    {"請填寫表格後提交", ES_FEARS_FORM_PHRASE, "填寫表格"},
    {"您可以提交工单，我们的同事会跟进", ES_FEARS_FORM_PHRASE, "提交工单"},
    {"麻烦提个工单", ES_FEARS_FORM_PHRASE, "提个工单"},
    {"点击链接填写您的信息", ES_FEARS_FORM_PHRASE, "点击链接填写"},
    {"请登录官网提交申请", ES_FEARS_FORM_PHRASE, "登录官网提交"},
    {"Please fill out the form on our website.", ES_FEARS_FORM_PHRASE, "fill out the form"},
    {"If you could fill in this short survey", ES_FEARS_FORM_PHRASE, "fill in this short survey"},
    {"Complete the contact form and we'll get back to you", ES_FEARS_FORM_PHRASE,
     "Complete the contact form"},
    {"please submit a ticket and we'll look", ES_FEARS_FORM_PHRASE, "please submit a ticket"},
    {"Visit our help center for the steps", ES_FEARS_FORM_PHRASE, "Visit our help center"},
    {"use our online form", ES_FEARS_FORM_PHRASE, "online form"},
    {"ＦＩＬＬ ＯＵＴ ＴＨＥ ＦＯＲＭ please", ES_FEARS_FORM_PHRASE,
     "ＦＩＬＬ ＯＵＴ ＴＨＥ ＦＯＲＭ"},
    {"you'll need to raise a support ticket", ES_FEARS_FORM_PHRASE,
     "you'll need to raise a support ticket"},
};

static const struct pos urls[] = {
    {"here: https://forms.gle/AbC123xyz", ES_FEARS_FORM_URL, "https://forms.gle/AbC123xyz"},
    {"https://docs.google.com/forms/d/e/1FAIpQL/viewform", ES_FEARS_FORM_URL,
     "https://docs.google.com/forms/d/e/1FAIpQL/viewform"},
    {"详情见 wj.qq.com/s2/12345/abcd 谢谢", ES_FEARS_FORM_URL, "wj.qq.com/s2/12345/abcd"},
    {"see https://brand.com/contact.", ES_FEARS_FORM_URL, "https://brand.com/contact"},
    {"see www.brand.com/contact-us", ES_FEARS_FORM_URL, "www.brand.com/contact-us"},
    {"support.brand.com/hc/requests/new has it", ES_FEARS_FORM_URL,
     "support.brand.com/hc/requests/new"},
    {"(https://brand.typeform.com/to/xyz)", ES_FEARS_FORM_URL, "https://brand.typeform.com/to/xyz"},
    {"https://www.surveymonkey.com/r/ABC", ES_FEARS_FORM_URL, "https://www.surveymonkey.com/r/ABC"},
    {"戳这里jinshuju.net/f/abc，谢谢", ES_FEARS_FORM_URL, "jinshuju.net/f/abc"},
    {"brand.com/feedback", ES_FEARS_FORM_URL, "brand.com/feedback"},
    {"ＨＴＴＰＳ：／／ＦＯＲＭＳ．ＧＬＥ／ａｂｃ", ES_FEARS_FORM_URL,
     "ＨＴＴＰＳ：／／ＦＯＲＭＳ．ＧＬＥ／ａｂｃ"},
    {"https://help.brand.cn/article/88", ES_FEARS_FORM_URL, "https://help.brand.cn/article/88"},
};

static void check_pos(const struct pos *p, size_t n, int *failed)
{
    for (size_t i = 0; i < n; i++) {
        if (check(p[i].text) != 0 || !R.deflection) {
            printf("  not a deflection: %s\n", p[i].text);
            (*failed)++;
            continue;
        }
        bool found = false;
        for (size_t k = 0; k < R.n_deflections; k++) {
            const struct es_fears_hit *h = &R.deflections[k];
            if (h->kind == p[i].kind && strstr(h->match, p[i].match) &&
                strncmp(p[i].text + h->start, h->match, h->end - h->start) == 0 &&
                (p[i].kind != ES_FEARS_PHONE || strcmp(h->match, p[i].match) == 0))
                found = true;
        }
        if (!found) {
            printf("  expected %s \"%s\"\n", es_fears_kind_name(p[i].kind), p[i].match);
            dump(p[i].text);
            (*failed)++;
        }
        bool refused = false;
        for (size_t k = 0; k < R.n_refusals; k++)
            refused |= strcmp(R.refusals[k], "fears_channel_deflection") == 0;
        if (!refused) {
            printf("  no fears_channel_deflection: %s\n", p[i].text);
            (*failed)++;
        }
    }
}

ES_TEST(phone_numbers_are_deflections)
{
    int failed = 0;
    check_pos(phones, sizeof phones / sizeof phones[0], &failed);
    ES_ASSERT_EQ(failed, 0);
}

ES_TEST(call_phrases_are_deflections)
{
    int failed = 0;
    check_pos(calls, sizeof calls / sizeof calls[0], &failed);
    ES_ASSERT_EQ(failed, 0);
}

ES_TEST(form_phrases_are_deflections)
{
    int failed = 0;
    check_pos(forms, sizeof forms / sizeof forms[0], &failed);
    ES_ASSERT_EQ(failed, 0);
}

ES_TEST(form_urls_are_deflections)
{
    int failed = 0;
    check_pos(urls, sizeof urls / sizeof urls[0], &failed);
    ES_ASSERT_EQ(failed, 0);
}

/* ---- deflection negatives ----------------------------------------------------------------- */

static const char *const clean[] = {
    "Your order 2024112212345678 has shipped and should arrive Friday.",
    "订单号13812345678已经发货，预计周五送达",
    "订单号为 13912345678 的包裹已经在派送",
    "order #13812345678 is on its way",
    "Order no. 13812345678 left the depot this morning",
    "tracking number 9400111899223344556677, it's moving",
    "We'll refund ¥1299.00 by 2024-11-22.",
    "Flight UA123 departs at 13:45 on 2024/11/22, gate C12.",
    "航班CA1234预计14:30起飞",
    "The refund of $4,500.00 was processed on 11/22/2024.",
    "We called the driver and he's 5 minutes away.",
    "As you said on the call, the parcel was damaged, so we're replacing it.",
    "Our new platform gives you more information in a formal report.",
    "版本 3.10.12 已修复闪退问题",
    "预计 11 月 22 日 14:00 送达，共 3 件，合计 1,299 元",
    "192.168.100.200 is your router's address",
    "Booking reference ABC123 is confirmed for 2 guests.",
    "Please DM us your phone number and order number so we can look it up.",
    "请私信留下您的电话和订单号，我们马上查",
    "我们的工程师已经致电您，但没有接通",
    "我们稍后会给您打电话确认地址",
    "我们拨打了您的电话，可能您在忙",
    "The form factor of the new model is smaller.",
    "We've informed the store manager and they'll replace it today.",
    "Your ticket to the concert is valid, the venue has confirmed.",
    "We recalled the batch yesterday.",
    "https://brand.com/platform/information has the recall notice",
    "https://brand.com/track?id=123 shows it at the depot",
    "Check brand.com/menu for the new items",
    "Thanks for waiting, the courier has your parcel at 3 PM today.",
    "Reply to this thread any time; we're here until 10pm.",
    "序列号 SN20241122001 我们已经登记",
    "会员卡号 6222021234567890123 已经补发积分",
    "您的取餐号是 1234",
    "We've refunded 13.99 to your card ending 4242.",
    "Room 1208, floor 12, the hotel has moved your bags there.",
    "Hi Ann, 2 of 3 items shipped: 1x mug, 2x plates",
    "a/b test 100-200-300 results",
    "客服电话一直打不通，真的很抱歉，我们在这里帮您处理",
    "客服熱線一直佔線，我們很抱歉",
    "我们已经通知门店给您回电话",
    "这个表格里的数据有误，我们已经更正",
    "Our team will call you within the hour.",
    "Sorry about the call drop earlier, the network is fixed now.",
    "I've asked the store to call the courier.",
    "Please contact us here if it happens again.",
    "You can find our returns policy at brand.com/returns",
    "The form you filled in last week has been processed.",
    "Flight 1234 is now boarding at gate 22.",
    "Your new booking: CA 1831, seat 32A, 2024-11-23 07:45.",
    "Refund of CNY 1,380.00 sent, ref 4200001234202411221234567890.",
};

ES_TEST(non_deflections_pass)
{
    int failed = 0;
    for (size_t i = 0; i < sizeof clean / sizeof clean[0]; i++) {
        ES_ASSERT_EQ(check(clean[i]), 0);
        if (R.deflection) {
            dump(clean[i]);
            failed++;
        }
    }
    ES_ASSERT_EQ(failed, 0);
}

ES_TEST(span_maps_back_to_full_width_original)
{
    const char *s = "Hi ＡＮＮ，请拨打４００－８２０－８８２０";
    ES_ASSERT_EQ(check(s), 0);
    ES_ASSERT(R.deflection);
    ES_ASSERT_EQ(R.n_deflections, 2);
    ES_ASSERT_EQ(R.deflections[0].kind, ES_FEARS_CALL_PHRASE);
    ES_ASSERT_STR(R.deflections[0].match, "拨打");
    ES_ASSERT_EQ(R.deflections[1].kind, ES_FEARS_PHONE);
    ES_ASSERT_EQ(R.deflections[1].start, strstr(s, "４") - s);
    ES_ASSERT_EQ(R.deflections[1].end, strlen(s));
    ES_ASSERT_STR(R.deflections[1].match, "４００－８２０－８８２０");
}

ES_TEST(dm_context_allows_phone_requests_in_dms)
{
    const char *s = "Could you leave your phone number so the courier can reach you?";
    ES_ASSERT_EQ(check(s), 0);
    ES_ASSERT(R.deflection);
    struct es_fears_opts o = {ES_FEARS_PLATFORM_DM, 0};
    ES_ASSERT_EQ(es_fears_check_text_opts(F, s, strlen(s), &o, &R), 0);
    ES_ASSERT(!R.deflection);
    /* a phone line is still a deflection in a DM */
    const char *t = "Please call us on 400-820-8820";
    ES_ASSERT_EQ(es_fears_check_text_opts(F, t, strlen(t), &o, &R), 0);
    ES_ASSERT(R.deflection);
}

/* ---- DM invitations ----------------------------------------------------------------------- */

static const char *const dm_yes[] = {
    "我们已私信您，请查看",
    "请私信我们订单号",
    "麻烦发私信给我们，我们马上处理",
    "我们后台私信您了，注意查收",
    "可以私聊我们吗",
    "請私訊我們您的訂單編號",
    "请查看私信",
    "请DM我们",
    "DM us your order number",
    "Please send us a DM with the details",
    "We've sent you a direct message.",
    "Could you message us privately?",
    "Check your DMs, we've written to you",
    "Slide into our DMs 😉",
    "PM us and we'll sort it",
    "ＤＭ ｕｓ please",
    "We just DM'd you",
    "Send us a private message with your booking reference",
};

static const char *const dm_no[] = {
    "Thanks for letting us know, we're checking with the store.",
    "We'll send you an email with the details.",
    "Your order ships at 3 PM.",
    "The admin panel is back up.",
    "我们已经联系门店，今天给您答复",
    "The 3pm flight has seats.",
    "",
};

ES_TEST(dm_invitations_detected)
{
    for (size_t i = 0; i < sizeof dm_yes / sizeof dm_yes[0]; i++) {
        ES_ASSERT_EQ(check(dm_yes[i]), 0);
        if (!R.dm_invite)
            ES_FAILF("no DM invitation found in \"%s\"", dm_yes[i]);
        ES_ASSERT(R.dm_end > R.dm_start && R.dm_end <= strlen(dm_yes[i]));
        ES_ASSERT(!R.deflection);
    }
    for (size_t i = 0; i < sizeof dm_no / sizeof dm_no[0]; i++) {
        ES_ASSERT_EQ(check(dm_no[i]), 0);
        if (R.dm_invite)
            ES_FAILF("DM invitation found in \"%s\"", dm_no[i]);
    }
    const char *s = "好的，我们已私信您";
    ES_ASSERT_EQ(check(s), 0);
    ES_ASSERT_EQ(R.dm_start, strstr(s, "私信") - s);
}

/* ---- stock phrases ------------------------------------------------------------------------ */

ES_TEST(stock_phrases_warn)
{
    static const struct {
        const char *text, *id;
    } cases[] = {
        {"我理解您的心情，我们正在处理", "understand_feeling_zh"},
        {"非常抱歉給您帶來不便", "inconvenience_sorry_zh"},
        {"给您带来不便深表歉意", "inconvenience_regret_zh"},
        {"We apologize for any inconvenience caused.", "apologize_inconvenience_en"},
        {"Sorry for the inconvenience!", "sorry_inconvenience_en"},
        {"We value your feedback.", "value_feedback_en"},
        {"THANK YOU FOR YOUR PATIENCE", "patience_thanks_en"},
        {"Your call is important to us", "call_important_en"},
        {"ｗｅ ａｐｏｌｏｇｉｚｅ ｆｏｒ ａｎｙ ｉｎｃｏｎｖｅｎｉｅｎｃｅ",
         "apologize_inconvenience_en"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ES_ASSERT_EQ(check(cases[i].text), 0);
        if (R.n_stock == 0)
            ES_FAILF("no stock phrase in \"%s\"", cases[i].text);
        ES_ASSERT_STR(R.stock[0].id, cases[i].id);
        ES_ASSERT_EQ(R.n_refusals, 0);
        ES_ASSERT_EQ(R.n_warnings, 1);
        ES_ASSERT_STR(R.warnings[0], "fears_stock_phrase");
    }
    const char *s = "Hi Ann. Sorry for the inconvenience, we value your feedback.";
    ES_ASSERT_EQ(check(s), 0);
    ES_ASSERT_EQ(R.n_stock, 2);
    ES_ASSERT_EQ(R.stock[0].start, strstr(s, "Sorry") - s);
    ES_ASSERT_EQ(R.stock[0].end, strstr(s, ", we") - s);
    ES_ASSERT_EQ(check("Thanks for waiting while we checked with the kitchen."), 0);
    ES_ASSERT_EQ(R.n_stock, 0);
    ES_ASSERT_EQ(R.n_warnings, 0);
}

/* ---- placeholders, empty, length ---------------------------------------------------------- */

ES_TEST(placeholders_found)
{
    static const char *const yes[] = {
        "Hi {name}, sorry about that",
        "Hi ｛name｝，抱歉",
        "Dear [NAME], thanks",
        "亲爱的XXX，您好",
        "【姓名】您好",
        "order {{order}} is late",
        "Hi { name }!",
        "您的订单<order>已发货",
        "Hi {customer_first}",
        "{姓名}您好",
        "亲爱的ｘｘｘ",
    };
    static const char *const no[] = {
        "【星巴克】新品上市", "size XXL is sold out",       "I <3 this", "emoji {} and []",
        "a {b c} d",          "Hi Ann, your order shipped", "Mexxxico",  "[x] done",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        size_t s = 99, e = 0;
        if (!es_fears_has_placeholder(yes[i], strlen(yes[i]), &s, &e))
            ES_FAILF("no placeholder in \"%s\"", yes[i]);
        ES_ASSERT(s < e && e <= strlen(yes[i]));
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (es_fears_has_placeholder(no[i], strlen(no[i]), NULL, NULL))
            ES_FAILF("placeholder in \"%s\"", no[i]);
    const char *s = "Hi {name}, your order is on its way";
    ES_ASSERT_EQ(check(s), 0);
    ES_ASSERT(R.unfilled);
    ES_ASSERT_EQ(R.placeholder_start, 3);
    ES_ASSERT_EQ(R.placeholder_end, 9);
    ES_ASSERT_EQ(R.n_refusals, 1);
    ES_ASSERT_STR(R.refusals[0], "fears_template_unfilled");
}

ES_TEST(empty_replies_refused)
{
    static const char *const empty[] = {"",       "   ", "\xe2\x80\x8b\xe2\x80\x8b",
                                        "！！！", "👍",   " \n\t "};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        ES_ASSERT_EQ(check(empty[i]), 0);
        if (!R.empty)
            ES_FAILF("not empty: \"%s\"", empty[i]);
        ES_ASSERT_STR(R.refusals[0], "fears_empty");
    }
    ES_ASSERT_EQ(check("ok"), 0);
    ES_ASSERT(!R.empty);
    ES_ASSERT_EQ(R.n_refusals, 0);
    ES_ASSERT_EQ(es_fears_check_text(F, NULL, 0, &R), 0);
    ES_ASSERT(R.empty);
    ES_ASSERT_EQ(es_fears_check_text(F, NULL, 3, &R), ES_EINVAL);
}

static char *repeat(const char *unit, size_t n, const char *tail)
{
    size_t ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(ul * n + tl + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * ul, unit, ul);
    memcpy(s + ul * n, tail, tl + 1);
    return s;
}

ES_TEST(platform_lengths)
{
    struct es_fears_opts tw = {ES_FEARS_PLATFORM_TWITTER, 0}, wb = {ES_FEARS_PLATFORM_WEIBO, 0};
    char *a280 = repeat("a", 280, ""), *a281 = repeat("a", 281, "");
    char *z140 = repeat("好", 140, ""), *z141 = repeat("好", 141, "");
    char *url = repeat("a", 250, " https://example.com/a/very/long/path/that/is/long/indeed");
    ES_ASSERT_EQ(es_fears_check_text_opts(F, a280, 280, &tw, &R), 0);
    ES_ASSERT(!R.too_long);
    ES_ASSERT_EQ(R.chars, 280);
    ES_ASSERT_EQ(es_fears_check_text_opts(F, a281, 281, &tw, &R), 0);
    ES_ASSERT(R.too_long);
    ES_ASSERT_STR(R.refusals[0], "fears_too_long");
    ES_ASSERT_EQ(es_fears_check_text_opts(F, z140, strlen(z140), &tw, &R), 0);
    ES_ASSERT_EQ(R.chars, 280);
    ES_ASSERT(!R.too_long);
    ES_ASSERT_EQ(es_fears_check_text_opts(F, z141, strlen(z141), &tw, &R), 0);
    ES_ASSERT(R.too_long);
    ES_ASSERT_EQ(es_fears_check_text_opts(F, url, strlen(url), &tw, &R), 0);
    ES_ASSERT_EQ(R.chars, 250 + 1 + 23);
    ES_ASSERT(!R.too_long);
    /* Weibo: 140 Chinese characters, two half-width ones count as one */
    ES_ASSERT_EQ(es_fears_check_text_opts(F, z140, strlen(z140), &wb, &R), 0);
    ES_ASSERT_EQ(R.chars, 140);
    ES_ASSERT(!R.too_long);
    ES_ASSERT_EQ(es_fears_check_text_opts(F, z141, strlen(z141), &wb, &R), 0);
    ES_ASSERT(R.too_long);
    ES_ASSERT_EQ(es_fears_check_text_opts(F, a280, 280, &wb, &R), 0);
    ES_ASSERT_EQ(R.chars, 140);
    ES_ASSERT(!R.too_long);
    ES_ASSERT_EQ(es_fears_check_text_opts(F, a281, 281, &wb, &R), 0);
    ES_ASSERT(R.too_long);
    /* explicit limit, and the generic default */
    struct es_fears_opts lim = {ES_FEARS_PLATFORM_GENERIC, 10};
    ES_ASSERT_EQ(es_fears_check_text_opts(F, "hello world!", 12, &lim, &R), 0);
    ES_ASSERT(R.too_long);
    ES_ASSERT_EQ(check(a281), 0);
    ES_ASSERT(!R.too_long);
    ES_ASSERT_EQ(R.max_chars, 2000);
    free(a280);
    free(a281);
    free(z140);
    free(z141);
    free(url);
    /* over the hard cap: refused without further checks */
    size_t big = ES_FEARS_MAX_BYTES + 1;
    char *huge = malloc(big);
    memset(huge, 'a', big);
    ES_ASSERT_EQ(es_fears_check_text(F, huge, big, &R), 0);
    ES_ASSERT(R.too_long);
    free(huge);
}

ES_TEST(refusals_ordered_and_combined)
{
    const char *s = "Hi {name}, please call us on 400-820-8820. Sorry for the inconvenience.";
    ES_ASSERT_EQ(check(s), 0);
    ES_ASSERT_EQ(R.n_refusals, 2);
    ES_ASSERT_STR(R.refusals[0], "fears_template_unfilled");
    ES_ASSERT_STR(R.refusals[1], "fears_channel_deflection");
    ES_ASSERT_EQ(R.n_warnings, 1);
    ES_ASSERT(R.n_deflections >= 2);
    for (size_t i = 1; i < R.n_deflections; i++)
        ES_ASSERT(R.deflections[i - 1].start <= R.deflections[i].start);
}

/* ---- reasons ------------------------------------------------------------------------------ */

ES_TEST(reason_table)
{
    ES_ASSERT_STR(es_fears_reason_message("fears_channel_deflection"),
                  "Replies must not send the customer to a phone line or a web form; answer "
                  "here, or invite them to a direct message.");
    static const char *const codes[] = {
        "fears_channel_deflection",
        "fears_template_unfilled",
        "fears_empty",
        "fears_too_long",
        "fears_reply_limit",
        "fears_dm_required",
        "fears_dm_not_open",
        "fears_canned",
        "fears_stock_phrase",
        "claimed_by_other",
        "not_claimed",
        "bad_state",
    };
    size_t n = 0;
    const struct es_fears_reason *all = es_fears_reasons(&n);
    ES_ASSERT_EQ(n, sizeof codes / sizeof codes[0]);
    for (size_t i = 0; i < n; i++) {
        const struct es_fears_reason *r = es_fears_reason(codes[i]);
        if (!r)
            ES_FAILF("no reason %s", codes[i]);
        ES_ASSERT(r->message && strlen(r->message) > 20);
        ES_ASSERT(r->http_status >= 200 && r->http_status < 500);
        ES_ASSERT(all[i].code != NULL);
    }
    ES_ASSERT(!es_fears_reason("fears_made_up"));
    ES_ASSERT(!es_fears_reason_message(NULL));
    ES_ASSERT(!es_fears_reason("fears_stock_phrase")->refusal);
    ES_ASSERT_EQ(es_fears_reason("fears_reply_limit")->letter, 'R');
    ES_ASSERT_STR(es_fears_kind_name(ES_FEARS_FORM_URL), "form_url");
}

/* ---- templates ---------------------------------------------------------------------------- */

ES_TEST(templates_cover_every_group)
{
    static const char *const cats[] = {
        "delivery",           "food_quality", "service",      "refund_billing", "product_defect",
        "delay_cancellation", "luggage",      "connectivity", "app_website",    "general"};
    static const char *const scens[] = {"first_reply", "dm_invite", "dm_followup"};
    static const char *const langs[] = {"zh", "en"};
    const struct es_fears_template *t[16];
    for (size_t c = 0; c < 10; c++)
        for (size_t s = 0; s < 3; s++)
            for (size_t l = 0; l < 2; l++) {
                size_t n = es_fears_templates(F, cats[c], scens[s], langs[l], t, 16);
                if (n < 3)
                    ES_FAILF("%s/%s/%s has %zu variants", cats[c], scens[s], langs[l], n);
                for (size_t i = 0; i < n && i < 16; i++) {
                    ES_ASSERT_STR(t[i]->category, cats[c]);
                    ES_ASSERT(t[i]->line > 0);
                }
                char id[80];
                snprintf(id, sizeof id, "%s/%s/%s/1", cats[c], scens[s], langs[l]);
                ES_ASSERT_STR(t[0]->id, id);
            }
    ES_ASSERT_EQ(es_fears_templates(F, "weather", "first_reply", "en", t, 16), 0);
    ES_ASSERT(es_fears_template_count(F) >= 180);
    ES_ASSERT(es_fears_template_at(F, es_fears_template_count(F)) == NULL);
}

ES_TEST(templates_pass_their_own_checks)
{
    const struct es_fears_vars v = {"小明", "A-20241122-0042", "Brand", "a cracked screen"};
    for (size_t i = 0; i < es_fears_template_count(F); i++) {
        const struct es_fears_template *t = es_fears_template_at(F, i);
        ES_ASSERT_EQ(check(t->text), 0);
        if (R.deflection)
            ES_FAILF("%s deflects: %s", t->id, R.deflections[0].match);
        if (strcmp(t->scenario, "dm_invite") == 0 && !R.dm_invite)
            ES_FAILF("%s invites no DM", t->id);
        ES_ASSERT_EQ(R.n_stock, 0);
        char *filled = NULL;
        ES_ASSERT_EQ(es_fears_fill(t->text, &v, &filled), 0);
        if (es_fears_has_placeholder(filled, strlen(filled), NULL, NULL))
            ES_FAILF("%s still has a placeholder: %s", t->id, filled);
        bool dm = strcmp(t->scenario, "dm_followup") == 0;
        struct es_fears_opts o = {dm ? ES_FEARS_PLATFORM_DM : ES_FEARS_PLATFORM_TWITTER, 0};
        ES_ASSERT_EQ(es_fears_check_text_opts(F, filled, strlen(filled), &o, &R), 0);
        if (R.n_refusals)
            ES_FAILF("%s filled is refused (%s): %s", t->id, R.refusals[0], filled);
        es_free(filled);
    }
}

ES_TEST(template_variants_are_not_canned_copies)
{
    /* Variants of one group are alternatives, so they must be far apart; no two templates may
     * be canned copies of each other. */
    double worst_group = 0, worst = 0;
    const char *ga = "", *gb = "", *wa = "", *wb = "";
    size_t n = es_fears_template_count(F);
    char **m = calloc(n, sizeof *m);
    size_t *ml = calloc(n, sizeof *ml);
    for (size_t i = 0; i < n; i++) {
        const struct es_fears_template *t = es_fears_template_at(F, i);
        ES_ASSERT_EQ(es_fears_shingle_text(F, t->text, strlen(t->text), &m[i], &ml[i]), 0);
    }
    for (size_t i = 0; i < n; i++) {
        const struct es_fears_template *a = es_fears_template_at(F, i);
        for (size_t j = i + 1; j < n; j++) {
            const struct es_fears_template *b = es_fears_template_at(F, j);
            double s = es_fears_similarity(m[i], ml[i], m[j], ml[j]);
            bool same = strcmp(a->category, b->category) == 0 &&
                        strcmp(a->scenario, b->scenario) == 0 && strcmp(a->lang, b->lang) == 0;
            if (same && s > worst_group) {
                worst_group = s;
                ga = a->id;
                gb = b->id;
            }
            if (s > worst) {
                worst = s;
                wa = a->id;
                wb = b->id;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        es_free(m[i]);
    free(m);
    free(ml);
    printf("  most similar variants of one group: %s ~ %s: %.3f\n", ga, gb, worst_group);
    printf("  most similar templates overall: %s ~ %s: %.3f\n", wa, wb, worst);
    ES_ASSERT(worst_group < 0.5);
    ES_ASSERT(worst < ES_FEARS_CANNED_THRESHOLD);
}

ES_TEST(fill_replaces_known_placeholders_once)
{
    char *out = NULL;
    const struct es_fears_vars v = {"{order}", "123", NULL, "cold food"};
    ES_ASSERT_EQ(es_fears_fill("Hi {name}, {order} {brand} {issue} {other}", &v, &out), 0);
    ES_ASSERT_STR(out, "Hi {order}, 123 {brand} cold food {other}");
    es_free(out);
    ES_ASSERT_EQ(es_fears_fill("{name}您好", NULL, &out), 0);
    ES_ASSERT_STR(out, "{name}您好");
    es_free(out);
    ES_ASSERT_EQ(es_fears_fill("{nam", &v, &out), 0);
    ES_ASSERT_STR(out, "{nam");
    es_free(out);
    ES_ASSERT_EQ(es_fears_fill(NULL, &v, &out), ES_EINVAL);
}

/* ---- loading errors ----------------------------------------------------------------------- */

static char tmpdir[256];

static void write_file(const char *name, const char *body)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *fp = fopen(path, "w");
    fputs(body, fp);
    fclose(fp);
}

static const char min_defl[] = "[call_phrase]\ncall us\n[form_word]\nform\n";
static const char min_dm[] = "私信\nre:\\bdm us\\b\n";
static const char min_stock[] = "a_b 我理解您的心情\n";
static const char min_tpl[] = "[general/dm_invite/en]\n{name}, please DM us.\n";

static int load_with(const char *defl, const char *dm, const char *stock, const char *tpl,
                     struct es_diag *d)
{
    write_file("deflection.txt", defl);
    write_file("dm_invite.txt", dm);
    write_file("stock_phrases.txt", stock);
    write_file("templates.txt", tpl);
    struct es_fears *f = NULL;
    memset(d, 0, sizeof *d);
    int rc = es_fears_load(nm, tmpdir, &f, d);
    es_fears_free(f);
    return rc;
}

ES_TEST(load_errors_name_file_line_col)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/es-fears-XXXXXX");
    ES_ASSERT(mkdtemp(tmpdir) != NULL);
    struct es_diag d;
    char buf[800];
    ES_ASSERT_EQ(load_with(min_defl, min_dm, min_stock, min_tpl, &d), 0);

    ES_ASSERT_EQ(load_with("[call_phrase]\n# c\n  re:call (us\n", min_dm, min_stock, min_tpl, &d),
                 ES_EPARSE);
    es_diag_format(&d, buf, sizeof buf);
    printf("  %s\n", buf);
    ES_ASSERT_STR(d.file, "deflection.txt");
    ES_ASSERT_EQ(d.line, 3);
    ES_ASSERT(d.col >= 3);

    ES_ASSERT_EQ(load_with("[nope]\n", min_dm, min_stock, min_tpl, &d), ES_EPARSE);
    ES_ASSERT_EQ(d.line, 1);
    ES_ASSERT_EQ(load_with("call us\n", min_dm, min_stock, min_tpl, &d), ES_EPARSE);
    ES_ASSERT(strstr(d.msg, "section") != NULL);
    ES_ASSERT_EQ(load_with("[call_phrase]\nre:x?\n", min_dm, min_stock, min_tpl, &d), ES_EPARSE);
    ES_ASSERT(strstr(d.msg, "empty") != NULL);
    ES_ASSERT_EQ(load_with("[form_word]\nre:x+\n", min_dm, min_stock, min_tpl, &d), ES_EPARSE);
    ES_ASSERT(strstr(d.msg, "literal") != NULL);
    ES_ASSERT_EQ(load_with(min_defl, min_dm, "bad-id phrase\n", min_tpl, &d), ES_EPARSE);
    ES_ASSERT_STR(d.file, "stock_phrases.txt");
    ES_ASSERT_EQ(load_with(min_defl, min_dm, "a x\na y\n", min_tpl, &d), ES_EPARSE);
    ES_ASSERT_EQ(d.line, 2);
    ES_ASSERT(strstr(d.msg, "duplicate") != NULL);

    ES_ASSERT_EQ(load_with(min_defl, min_dm, min_stock, "[general/dm_invite/fr]\nx\n", &d),
                 ES_EPARSE);
    ES_ASSERT_STR(d.file, "templates.txt");
    ES_ASSERT(strstr(d.msg, "language") != NULL);
    ES_ASSERT_EQ(
        load_with(min_defl, min_dm, min_stock, "[general/first_reply/en]\nHi {nmae}\n", &d),
        ES_EPARSE);
    ES_ASSERT_EQ(d.line, 2);
    ES_ASSERT_EQ(d.col, 4);
    ES_ASSERT_EQ(load_with(min_defl, min_dm, min_stock, "[general/dm_invite/en]\nHi {name}\n", &d),
                 ES_EPARSE);
    ES_ASSERT(strstr(d.msg, "direct message") != NULL);
    ES_ASSERT_EQ(load_with(min_defl, min_dm, min_stock,
                           "[general/first_reply/en]\nok\nPlease call us, {name}\n", &d),
                 ES_EPARSE);
    ES_ASSERT_EQ(d.line, 3);
    es_diag_format(&d, buf, sizeof buf);
    printf("  %s\n", buf);
    ES_ASSERT_EQ(load_with(min_defl, min_dm, min_stock, "[general/first_reply/en]\n\xff\xfe\n", &d),
                 ES_EPARSE);
    ES_ASSERT(strstr(d.msg, "UTF-8") != NULL);

    char path[512];
    snprintf(path, sizeof path, "%s/dm_invite.txt", tmpdir);
    unlink(path);
    struct es_fears *f = NULL;
    ES_ASSERT_EQ(es_fears_load(nm, tmpdir, &f, &d), ES_EIO);
    ES_ASSERT(f == NULL);
    ES_ASSERT_STR(d.file, "dm_invite.txt");
    ES_ASSERT(es_fears_new(nm, "/nonexistent/dir", NULL) == NULL);
    static const char *const names[] = {"deflection.txt", "stock_phrases.txt", "templates.txt"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

int main(void)
{
    setup();
    ES_RUN(phone_numbers_are_deflections);
    ES_RUN(call_phrases_are_deflections);
    ES_RUN(form_phrases_are_deflections);
    ES_RUN(form_urls_are_deflections);
    ES_RUN(non_deflections_pass);
    ES_RUN(span_maps_back_to_full_width_original);
    ES_RUN(dm_context_allows_phone_requests_in_dms);
    ES_RUN(dm_invitations_detected);
    ES_RUN(stock_phrases_warn);
    ES_RUN(placeholders_found);
    ES_RUN(empty_replies_refused);
    ES_RUN(platform_lengths);
    ES_RUN(refusals_ordered_and_combined);
    ES_RUN(reason_table);
    ES_RUN(templates_cover_every_group);
    ES_RUN(templates_pass_their_own_checks);
    ES_RUN(template_variants_are_not_canned_copies);
    ES_RUN(fill_replaces_known_placeholders_once);
    ES_RUN(load_errors_name_file_line_col);
    es_fears_free(F);
    es_norm_free(nm);
    return ES_DONE();
}
