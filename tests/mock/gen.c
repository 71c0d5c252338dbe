/*
 * The post generator: phrase tables, authors, places, the publish ring and
 * --replay files.
 *
 * Publishing (a timer, --rate posts per second, several per tick) only
 * writes a slot: time, platform, author, place, kind, reply distance. The
 * text is rebuilt from (seed, seq, slot) whenever a page shows the post, so
 * the same seed always gives the same posts in the same order.
 *
 * Template placeholders:
 *   {B} a brand as people write it (canonical, nickname, misspelling,
 *       traditional or full-width form)   {H} the brand's hashtag, styled
 *       per platform (#星巴克# on Weibo, #星巴克 on Twitter)
 *   {A} the brand's @handle (Twitter) or Weibo account, else {B}
 *   {P} a place (the post's own when it is geo-tagged)
 *   {N} a digit 2-9 (sometimes full-width)   {M} minutes 20-95
 *   {I} an item of the brand's trade        {R} the replied-to author
 *   {C} an angry/sad emoticon ([怒] on Weibo and WeChat, an emoji on Twitter)
 *   {G} a happy one
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "earshot/alloc.h"
#include "earshot/log.h"
#include "earshot/utf8.h"
#include "mock.h"

#define NAUTH MOCK_NAUTH

/* the text cache, see text_for() */
#define TEXT_CACHE_BITS 16
struct mock_text_cache {
    uint64_t seq;
    uint16_t len;
    char text[246];
};

const struct mock_place mock_places[] = {
    {"西单", "Xidan", "Xidan", "Xicheng, Beijing", "北京市西城区西单北大街", "CN",
     "0a3f5c1d2e4b6a01", 39.9087, 116.3747},
    {"人民广场", "People's Square", "People's Square", "Huangpu, Shanghai", "上海市黄浦区人民广场",
     "CN", "0a3f5c1d2e4b6a02", 31.2323, 121.4692},
    {"首都机场", "Beijing Capital Airport", "Beijing Capital International Airport",
     "Shunyi, Beijing", "北京首都国际机场T3航站楼", "CN", "0a3f5c1d2e4b6a03", 40.0799, 116.6031},
    {"肯尼迪机场", "JFK", "John F. Kennedy International Airport", "Queens, NY",
     "John F. Kennedy International Airport", "US", "1b4e6d2f3a5c7b01", 40.6413, -73.7781},
    {"时代广场", "Times Square", "Times Square", "Manhattan, NY", "Times Square, New York", "US",
     "1b4e6d2f3a5c7b02", 40.7580, -73.9855},
    {"奥黑尔机场", "O'Hare", "O'Hare International Airport", "Chicago, IL",
     "O'Hare International Airport", "US", "1b4e6d2f3a5c7b03", 41.9742, -87.9073},
};
const size_t mock_nplaces = sizeof mock_places / sizeof mock_places[0];

enum { CAT_DELIVERY, CAT_COFFEE, CAT_FASTFOOD, CAT_SHOP, CAT_RIDE, CAT_TELECOM, CAT_AIR, NCAT };

struct brand {
    int zh;
    int cat;
    const char *forms[7]; /* forms[0] canonical */
    const char *trad;     /* traditional form */
    const char *tag;
    const char *handle; /* Twitter handle, or the Weibo account name */
};

static const struct brand brands[] = {
    {1,
     CAT_DELIVERY,
     {"美团", "美团外卖", "美团外买", "美團", "MT外卖", "美团骑手"},
     "美團外賣",
     "美团外卖",
     "美团外卖"},
    {1,
     CAT_DELIVERY,
     {"饿了么", "饿了吗", "饿了么外卖", "ele.me", "饿了么app", "饿了么蓝骑士"},
     "餓了麼",
     "饿了么",
     "饿了么"},
    {1,
     CAT_COFFEE,
     {"星巴克", "星爸爸", "星巴可", "Starbucks", "ＳＴＡＲＢＵＣＫＳ", "星巴克咖啡"},
     "星巴克",
     "星巴克",
     "星巴克中国"},
    {1,
     CAT_FASTFOOD,
     {"肯德基", "KFC", "ＫＦＣ", "开封菜", "肯德鸡", "肯德基宅急送"},
     "肯德基",
     "肯德基",
     "肯德基"},
    {1,
     CAT_FASTFOOD,
     {"麦当劳", "金拱门", "麦记", "麦当捞", "McDonald's", "ＭｃＤｏｎａｌｄ’ｓ"},
     "麥當勞",
     "麦当劳",
     "麦当劳"},
    {1,
     CAT_SHOP,
     {"京东", "狗东", "京东快递", "JD", "京东自营", "京冬"},
     "京東",
     "京东",
     "京东客服"},
    {1,
     CAT_RIDE,
     {"滴滴", "滴滴出行", "嘀嘀", "滴滴打车", "ＤｉＤｉ", "DiDi"},
     "滴滴",
     "滴滴",
     "滴滴出行"},
    {1,
     CAT_TELECOM,
     {"中国移动", "移动", "10086", "ＣＭＣＣ", "中移动", "移动营业厅"},
     "中國移動",
     "中国移动",
     "中国移动10086"},
    {0,
     CAT_AIR,
     {"United", "@united", "United Airlines", "Untied", "UA", "united airlines"},
     NULL,
     "UnitedAirlines",
     "united"},
    {0,
     CAT_AIR,
     {"Delta", "@Delta", "Delta Airlines", "Detla", "delta", "Delta Air Lines"},
     NULL,
     "DeltaAirlines",
     "Delta"},
    {0,
     CAT_AIR,
     {"American Airlines", "@AmericanAir", "AA", "Americian Airlines", "american air"},
     NULL,
     "AmericanAirlines",
     "AmericanAir"},
    {0,
     CAT_AIR,
     {"Southwest", "@SouthwestAir", "Southwest Airlines", "Soutwest", "SWA"},
     NULL,
     "Southwest",
     "SouthwestAir"},
    {0,
     CAT_SHOP,
     {"Amazon", "@amazon", "@AmazonHelp", "Amazn", "amazon prime", "AMAZON"},
     NULL,
     "Amazon",
     "AmazonHelp"},
    {0,
     CAT_TELECOM,
     {"Comcast", "@comcast", "Xfinity", "@XfinitySupport", "Comcrap", "comcast"},
     NULL,
     "Comcast",
     "comcast"},
    {0,
     CAT_RIDE,
     {"Uber", "@Uber", "@Uber_Support", "Uber Eats", "Ubr", "uber"},
     NULL,
     "Uber",
     "Uber_Support"},
    {0,
     CAT_COFFEE,
     {"Starbucks", "@Starbucks", "Starbux", "starbucks", "SBUX", "Starbuck's"},
     NULL,
     "Starbucks",
     "Starbucks"},
    {0,
     CAT_FASTFOOD,
     {"KFC", "@kfc", "Kentucky Fried Chicken", "kfc", "K.F.C."},
     NULL,
     "KFC",
     "kfc"},
    {0,
     CAT_FASTFOOD,
     {"McDonald's", "@McDonalds", "McDonalds", "Mickey D's", "mcdonalds"},
     NULL,
     "McDonalds",
     "McDonalds"},
};
#define NBRANDS (sizeof brands / sizeof brands[0])
#define FIRST_EN_BRAND 8

static const char *const items_zh[NCAT][4] = {
    {"外卖", "奶茶", "麻辣烫", "午饭"},   {"拿铁", "美式", "星冰乐", "馥芮白"},
    {"汉堡", "全家桶", "鸡腿堡", "薯条"}, {"手机", "耳机", "洗衣机", "显示器"},
    {"订单", "行程", "专车", "顺风车"},   {"套餐", "宽带", "流量包", "话费"},
    {"航班", "行李", "机票", "座位"},
};
static const char *const items_en[NCAT][4] = {
    {"order", "dinner", "pizza", "lunch"},         {"latte", "cold brew", "frappuccino", "mocha"},
    {"burger", "bucket", "nuggets", "fries"},      {"laptop", "headphones", "blender", "monitor"},
    {"ride", "trip", "pool ride", "airport ride"}, {"internet", "cable box", "router", "plan"},
    {"flight", "bag", "seat", "connection"},
};

/* Complaints naming a brand, per category (NULL ends a list). */
static const char *const complaint_zh[NCAT][6] = {
    {"{B}的外卖又超时了，等了{M}分钟还没到{C}", "点的{I}洒了一半，{B}客服电话一直打不通，太失望了",
     "{H} 骑手把我的{I}送错地址还标记已送达，这也太离谱了吧{C}",
     "再也不用{B}了！退款申请{N}天了还在审核", "@{A} 订单显示已送达但是根本没收到，求处理！！",
     NULL},
    {"{B}今天的{I}做得太难喝了，跟平时完全不是一个味道{C}",
     "{P}的{B}排队排了{M}分钟，店员还把我的单弄丢了", "{H} 会员积分莫名其妙清零了，客服只会说抱歉",
     "在{B}点的{I}里喝出了异物，恶心{C}", NULL},
    {"{B}的{I}是凉的，薯条也软了，花了{N}十多块钱就这？{C}",
     "{P}这家{B}的厕所脏得不行，服务员态度也差",
     "{H} 宅急送等了快两个小时，打电话说在路上，骗人的吧",
     "{B}优惠券用不了，店员说系统问题，每次都这样", NULL},
    {"{B}买的{I}收到就是坏的，申请售后{N}天没人理{C}",
     "{H} 快递显示签收了但我根本没收到，客服踢皮球", "说好的次日达，{B}已经第{N}天了还没发货",
     "@{A} 退货运费凭什么要我出？明明是你们发错货", NULL},
    {"{B}司机绕路多收了我{N}十块，投诉了还没结果{C}",
     "在{P}打{B}等了{M}分钟，司机接单了又取消，气死", "{H} 司机全程打电话开得飞快，吓死人了",
     "{B}的客服就是机器人，问什么都答非所问", NULL},
    {"{B}又乱扣费，这个月话费多了{N}十块，谁给我解释一下{C}",
     "{P}信号差到爆，{B}的网打个电话都断{N}次", "{H} 宽带断网{N}天了，报修一直说排队",
     "取消{I}要跑营业厅，{B}是故意的吧", NULL},
    {NULL},
};
static const char *const complaint_trad[NCAT][2] = {
    {"{B}外賣又超時了，等了{M}分鐘，客服電話一直打不通{C}", NULL},
    {"{B}今天的咖啡太難喝了，店員態度也很差", NULL},
    {"{B}的漢堡是冷的，薯條也軟了{C}", NULL},
    {"{B}買的東西收到就是壞的，申請售後{N}天沒人理", NULL},
    {"{B}司機繞路多收錢，投訴了也沒有結果", NULL},
    {"{B}又亂扣費，這個月話費多了{N}十塊{C}", NULL},
    {NULL},
};
static const char *const complaint_en[NCAT][6] = {
    {NULL},
    {"{B} got my order wrong again, I asked for oat milk {C}",
     "waited {M} minutes at {B} for a {I}. {M} MINUTES",
     "{H} my mobile order vanished and nobody cares", NULL},
    {"{B} ice cream machine broken AGAIN {C}", "{B} forgot half my order, no sauce, cold {I}",
     "@{A} found a hair in my {I}. gross", NULL},
    {"{B} package marked delivered but it's not here. {N}th time this month {C}",
     "ordered a {I} from {B} and got an empty box lol. support useless",
     "{H} refund still pending after {N} weeks", "@{A} my {I} arrived smashed, who packs like this",
     NULL},
    {"{B} driver cancelled on me {N} times in a row, now surge pricing {C}",
     "my {B} driver took the long way and charged me ${N}0 extra",
     "@{A} charged me twice for one {I}, no reply from support", NULL},
    {"internet down AGAIN. {N}th outage this week. {B} you are the worst {C}",
     "{B} raised my bill by ${N}0 without telling me. on hold {M} minutes",
     "@{A} tech didn't show up for the appointment, took a day off for nothing", NULL},
    {"{B} lost my luggage AGAIN. {N} days and no update. Worst airline ever {C}",
     "Flight delayed {N} hours and {B} gate agents just shrug {H}",
     "@{A} been on hold for {M} minutes, this is ridiculous",
     "{B} cancelled my {I} and rebooked me {N} days later. Unbelievable {C}",
     "stuck on the tarmac at {P} for {M} min, no water, no info. thanks {B}", NULL},
};
/* Complaints that name no brand: only the phrasing (and the place) tells. */
static const char *const indirect_zh[NCAT][3] = {
    {"外卖又超时了，等了{M}分钟，骑手电话打不通{C}", "点的外卖送错了，饿着肚子加班", NULL},
    {"{P}那家咖啡店排队排到门外，简直灾难", "咖啡做错了还不给重做，什么服务态度", NULL},
    {"{P}这家店的汉堡是凉的，服务员还爱答不理", NULL},
    {"快递显示签收但我根本没收到，客服一直踢皮球{C}", "买的{I}用了{N}天就坏了，售后推来推去", NULL},
    {"打车等了{M}分钟，司机接单又取消，还扣我取消费", NULL},
    {"手机信号差到爆，话费还莫名多扣了{N}十块", "宽带又断了，这已经是这周第{N}次", NULL},
    {"在{P}延误了{N}个小时，没有任何人出来解释{C}", "行李丢了{N}天，航空公司一句话都没有", NULL},
};
static const char *const indirect_en[NCAT][3] = {
    {"food delivery {M} minutes late and cold. never again {C}", NULL},
    {"the queue at the {P} coffee place is a disaster", NULL},
    {"burger was cold and the fries were soggy. {N} bucks for this", NULL},
    {"package says delivered. it is not delivered. {C}", NULL},
    {"driver cancelled {N} times, {M} min late to work thanks", NULL},
    {"internet provider down for the {N}th time this week, on hold for {M} minutes", NULL},
    {"flight delayed {N} hours at {P} and nobody at the gate can tell us anything",
     "lost my luggage, {N} days, zero updates. never flying with them again", NULL},
};
static const char *const praise_zh[] = {
    "{B}的小哥下雨天还送上楼，太暖了{G}", "{H} 新品{I}好好喝{G}",
    "给{B}客服点赞，问题{M}分钟就解决了{G}", "{B}这次的{I}真不错，推荐{G}", NULL};
static const char *const praise_en[] = {"shoutout to the {B} crew, best {I} in years {G}",
                                        "{B} support fixed my issue in {M} minutes, impressed {G}",
                                        "love the new {I} at {B} {G}", NULL};
static const char *const neutral_zh[] = {"今天天气不错，去{P}逛街",
                                         "周末有人一起去爬山吗",
                                         "终于下班了，回家追剧",
                                         "这首歌单曲循环一整天了",
                                         "明天要考试了，许愿过过过",
                                         "猫主子今天又把杯子推下桌了{G}",
                                         "晚饭吃什么好纠结",
                                         "{P}人好多啊",
                                         "刚看完电影，结局有点意外",
                                         "早起跑步{N}公里打卡",
                                         NULL};
static const char *const neutral_en[] = {"anyone watching the game tonight?",
                                         "coffee first, then emails",
                                         "just finished a {N}k run, feeling great",
                                         "new album drops friday, can't wait",
                                         "what a sunset at {P} today",
                                         "working from home again, cat on the keyboard",
                                         "the weather is perfect for a walk",
                                         "lunch ideas anyone?",
                                         "reading a great book on the train",
                                         "monday again already?",
                                         NULL};
static const char *const reply_zh[] = {"@{R} 同感，我也遇到过一模一样的情况",
                                       "@{R} 我上周也是，最后投诉到12315才解决",
                                       "@{R} 抱抱，真的太坑了{C}", "@{R} 我这边倒是挺快的", NULL};
static const char *const reply_en[] = {
    "@{R} same thing happened to me last week", "@{R} ugh, so sorry. file a complaint with the DOT",
    "@{R} this is why I stopped using them {C}", "@{R} mine was fine tbh", NULL};

static const char *const angry_cn[] = {"[怒]", "[哭]", "[抓狂]", "[衰]", "[生病]"};
static const char *const angry_emoji[] = {"😡", "🙄", "😤", "😭", "🤬"};
static const char *const happy_cn[] = {"[赞]", "[心]", "[哈哈]", "[good]"};
static const char *const happy_emoji[] = {"👍", "❤️", "🙌", "😊"};

static const char *const surname[] = {"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴",
                                      "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗"};
static const char *const surname_py[] = {"wang",  "li",   "zhang", "liu", "chen", "yang", "zhao",
                                         "huang", "zhou", "wu",    "xu",  "sun",  "hu",   "zhu",
                                         "gao",   "lin",  "he",    "guo", "ma",   "luo"};
static const char *const given[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳",
                                    "勇", "军", "杰", "娟", "涛", "明", "超", "秀", "霞", "平"};
static const char *const nick_adj[] = {"爱吃火锅的", "不想上班的", "早睡早起的", "快乐的",
                                       "熬夜的",     "追风的",     "喝奶茶的",   "会飞的",
                                       "认真生活的", "佛系"};
static const char *const nick_noun[] = {"小王", "猫猫", "少年", "打工人", "小仙女",
                                        "大叔", "阿杰", "橘子", "小鹿",   "胖虎"};
static const char *const first_en[] = {"James",    "Mary",    "John",  "Patricia", "Robert",
                                       "Jennifer", "Michael", "Linda", "David",    "Elizabeth",
                                       "William",  "Susan",   "Sarah", "Jessica",  "Daniel",
                                       "Karen",    "Kevin",   "Emily", "Brian",    "Ashley"};
static const char *const last_en[] = {
    "Smith",     "Johnson",  "Williams", "Brown",  "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Lee",      "Walker", "Hall",  "Allen",  "Young",  "King"};

#define PICK(arr, r) (arr)[(r) % (sizeof(arr) / sizeof((arr)[0]))]

static size_t count_list(const char *const *l, size_t max)
{
    size_t n = 0;
    while (n < max && l[n])
        n++;
    return n;
}

uint64_t mock_post_id_num(enum mock_platform pf, uint64_t seq)
{
    switch (pf) {
    case MOCK_TWITTER:
        return MOCK_TWITTER_ID_BASE + seq;
    case MOCK_WEIBO:
        return MOCK_WEIBO_ID_BASE + seq;
    default:
        return MOCK_WECHAT_ID_BASE + seq;
    }
}

uint64_t mock_seq_from_id(enum mock_platform pf, uint64_t id)
{
    uint64_t base = mock_post_id_num(pf, 0);
    return id > base ? id - base : 0;
}

uint64_t mock_oldest_seq(const struct mock *m)
{
    return m->head > m->ring_cap ? m->head - m->ring_cap + 1 : 1;
}

const struct mock_slot *mock_slot_get(const struct mock *m, uint64_t seq)
{
    if (seq == 0 || seq > m->head || seq < mock_oldest_seq(m))
        return NULL;
    return &m->ring[(seq - 1) % m->ring_cap];
}

/* ---- authors ---- */

void mock_author_get(const struct mock *m, uint32_t idx, enum mock_platform pf,
                     struct mock_author *a)
{
    uint64_t r = mock_hash64(m->seed * 0x51ed27u ^ (idx + 1ull) * 0x2545f4914f6cdd1dull);
    int zh = (idx & 1) == 0;
    double u = (double)(r >> 11) * (1.0 / 9007199254740992.0);
    a->followers = (long)pow(10.0, 1.0 + 6.0 * u * u * u * u);
    a->verified = a->followers > 200000;
    char base[48];
    if (zh) {
        snprintf(a->name, sizeof a->name, "%s%s%s", PICK(surname, r >> 3), PICK(given, r >> 9),
                 (r >> 20) & 1 ? PICK(given, r >> 14) : "");
        snprintf(base, sizeof base, "%s_%s", PICK(surname_py, r >> 3), (r >> 25) & 1 ? "x" : "a");
    } else {
        const char *f = PICK(first_en, r >> 3), *l = PICK(last_en, r >> 9);
        snprintf(a->name, sizeof a->name, "%s %s", f, l);
        snprintf(base, sizeof base, "%.8s_%c", f, l[0]);
        for (char *p = base; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
    }
    switch (pf) {
    case MOCK_TWITTER:
        snprintf(a->id, sizeof a->id, "%llu", 3000000000ull + idx);
        snprintf(a->screen_name, sizeof a->screen_name, "%s%u", base, idx);
        break;
    case MOCK_WEIBO:
        snprintf(a->id, sizeof a->id, "%llu", 5000000000ull + idx);
        if (zh)
            snprintf(a->screen_name, sizeof a->screen_name, "%s%s%u", PICK(nick_adj, r >> 30),
                     PICK(nick_noun, r >> 36), idx);
        else
            snprintf(a->screen_name, sizeof a->screen_name, "%s%u", base, idx);
        snprintf(a->name, sizeof a->name, "%s", a->screen_name);
        break;
    default: {
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        char tail[20];
        uint64_t t = mock_hash64(r);
        for (int i = 0; i < 19; i++) {
            tail[i] = b64[t & 63];
            t = (i % 9 == 8) ? mock_hash64(t) : t >> 6;
        }
        tail[19] = '\0';
        snprintf(a->id, sizeof a->id, "oMk%06u%s", idx, tail);
        if (zh)
            snprintf(a->screen_name, sizeof a->screen_name, "%s%s", PICK(nick_adj, r >> 30),
                     PICK(nick_noun, r >> 36));
        else
            snprintf(a->screen_name, sizeof a->screen_name, "%s", a->name);
        snprintf(a->name, sizeof a->name, "%s", a->screen_name);
        break;
    }
    }
}

long mock_author_from_screen_name(const struct mock *m, enum mock_platform pf, const char *name)
{
    /* Twitter and Weibo names end in the author's index. */
    size_t len = strlen(name), i = len;
    while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
        i--;
    uint64_t v;
    if (i == len || len - i > 9 || mock_parse_u64(name + i, &v) != 0 || v >= NAUTH)
        return -1;
    struct mock_author a;
    mock_author_get(m, (uint32_t)v, pf, &a);
    return strcasecmp(a.screen_name, name) == 0 ? (long)v : -1;
}

long mock_author_from_id(enum mock_platform pf, const char *id)
{
    uint64_t v;
    if (pf == MOCK_WECHAT) {
        if (strncmp(id, "oMk", 3) != 0 || strlen(id) < 9)
            return -1;
        char d[7];
        memcpy(d, id + 3, 6);
        d[6] = '\0';
        if (mock_parse_u64(d, &v) != 0)
            return -1;
    } else {
        if (mock_parse_u64(id, &v) != 0)
            return -1;
        uint64_t base = pf == MOCK_TWITTER ? 3000000000ull : 5000000000ull;
        if (v < base)
            return -1;
        v -= base;
    }
    return v < NAUTH ? (long)v : -1;
}

/* ---- publishing ---- */

static int pick_platform(const struct mock *m, uint64_t r)
{
    static const unsigned weight[MOCK_NPLATFORMS] = {50, 35, 15};
    unsigned total = 0;
    for (int i = 0; i < MOCK_NPLATFORMS; i++)
        if (m->platforms_mask & (1u << i))
            total += weight[i];
    unsigned x = (unsigned)(r % total);
    for (int i = 0; i < MOCK_NPLATFORMS; i++) {
        if (!(m->platforms_mask & (1u << i)))
            continue;
        if (x < weight[i])
            return i;
        x -= weight[i];
    }
    return 0;
}

static void publish_one(struct mock *m, uint64_t seq, struct mock_slot *s)
{
    uint64_t rng = mock_hash64(m->seed ^ (seq * 0x9e3779b97f4a7c15ull));
    memset(s, 0, sizeof *s);
    if (m->nreplay) {
        const struct mock_replay_post *rp = &m->replay[seq - 1];
        s->src = (uint32_t)seq;
        s->platform = (uint8_t)(rp->platform >= 0 ? rp->platform : pick_platform(m, rng));
        s->place = rp->has_geo ? 255 : 0;
        s->kind = MOCK_K_NEUTRAL;
        s->flags = strncmp(rp->lang, "zh", 2) == 0 ? MOCK_F_ZH : 0;
        return;
    }
    int pf = pick_platform(m, mock_rng_next(&rng));
    double u = mock_rng_unit(&rng);
    int zh = pf == MOCK_TWITTER ? u < 0.45 : pf == MOCK_WEIBO ? u < 0.97 : u < 0.95;
    s->platform = (uint8_t)pf;
    s->flags = zh ? MOCK_F_ZH : 0;
    if (zh && mock_rng_unit(&rng) < 0.12)
        s->flags |= MOCK_F_TRAD;
    if (pf == MOCK_WEIBO && mock_rng_unit(&rng) < 0.15)
        s->flags |= MOCK_F_RELTIME;
    u = mock_rng_unit(&rng);
    s->kind = u < 0.35   ? MOCK_K_COMPLAINT
              : u < 0.50 ? MOCK_K_INDIRECT
              : u < 0.62 ? MOCK_K_PRAISE
                         : MOCK_K_NEUTRAL;
    /* A few authors post a lot: squash the index toward 0. */
    u = mock_rng_unit(&rng);
    s->author = (uint32_t)((unsigned)(u * u * (m->nauth / 2)) * 2 + (zh ? 0 : 1));
    /* WeChat chats have no public replies. */
    if (mock_rng_unit(&rng) < 0.10 && pf != MOCK_WECHAT && m->nroots[pf] > 0) {
        unsigned n = m->nroots[pf] < 32 ? m->nroots[pf] : 32;
        uint64_t root = m->roots[pf][mock_rng_next(&rng) % n];
        if (root < seq && seq - root < m->ring_cap && seq - root < UINT32_MAX) {
            s->parent = (uint32_t)(seq - root);
            return;
        }
    }
    if (mock_rng_unit(&rng) < 0.15) {
        /* Chinese posts near Chinese places, English ones near American ones. */
        unsigned k = (unsigned)(mock_rng_next(&rng) % 3) + (zh ? 0 : 3);
        s->place = (uint8_t)(k + 1);
    }
    m->roots[pf][m->nroots[pf] % 32] = seq;
    m->nroots[pf]++;
}

void mock_gen_publish(struct mock *m, uint64_t n, int64_t now_ms)
{
    if (now_ms < m->last_ms)
        now_ms = m->last_ms;
    m->last_ms = now_ms;
    for (uint64_t i = 0; i < n; i++) {
        if (m->max_posts && m->head >= m->max_posts)
            return;
        if (m->nreplay && m->head >= m->nreplay)
            return;
        uint64_t seq = m->head + 1;
        struct mock_slot *s = &m->ring[(seq - 1) % m->ring_cap];
        publish_one(m, seq, s);
        s->published_ms = now_ms;
        if (!s->src) {
            /* Chain the author's posts so a from: search walks only theirs. */
            uint64_t last = m->author_last[s->author];
            s->prev_author = last && seq - last < UINT32_MAX ? (uint32_t)(seq - last) : 0;
            m->author_last[s->author] = seq;
        }
        m->head = seq;
        m->stats.posts_generated++;
    }
}

static void on_gen_timer(uv_timer_t *t)
{
    struct mock *m = t->data;
    uint64_t elapsed = uv_now(m->loop) - m->gen_start_ms;
    double due = (double)elapsed * m->rate / 1000.0 + (double)m->prefill;
    uint64_t target = (uint64_t)due;
    uint64_t done = m->stats.posts_generated;
    if (target > done)
        mock_gen_publish(m, target - done, mock_now_ms());
    if ((m->max_posts && m->head >= m->max_posts) || (m->nreplay && m->head >= m->nreplay))
        uv_timer_stop(t);
}

int mock_gen_start(struct mock *m)
{
    m->ring = es_calloc(m->ring_cap, sizeof *m->ring);
    m->text_cache = es_calloc(1u << TEXT_CACHE_BITS, sizeof(struct mock_text_cache));
    if (!m->ring || !m->text_cache)
        return -1;
    uv_update_time(m->loop);
    m->gen_start_ms = uv_now(m->loop);
    if (m->prefill)
        mock_gen_publish(m, m->prefill, mock_now_ms());
    if (uv_timer_init(m->loop, &m->gen_timer) != 0)
        return -1;
    m->gen_timer.data = m;
    if (m->rate > 0) {
        /* 10 ms ticks: 50,000 posts/s is 500 slots a tick. */
        uint64_t every = m->rate >= 100 ? 10 : (uint64_t)(1000.0 / m->rate / 2) + 1;
        if (every > 100)
            every = 100;
        uv_timer_start(&m->gen_timer, on_gen_timer, every, every);
    }
    return 0;
}

/* ---- text ---- */

struct tctx {
    const struct mock *m;
    enum mock_platform pf;
    uint64_t rng;
    int zh, trad, fullwidth;
    const struct brand *b;
    int cat;
    const struct mock_place *place; /* geo-tagged: its place */
    const char *reply_name;
};

static void put_brand_form(struct tctx *c, struct es_buf *o)
{
    const struct brand *b = c->b;
    if (c->trad && b->trad) {
        es_buf_puts(o, b->trad);
        return;
    }
    size_t n = count_list(b->forms, 7);
    double u = mock_rng_unit(&c->rng);
    const char *f = u < 0.5 ? b->forms[0] : b->forms[1 + mock_rng_next(&c->rng) % (n - 1)];
    /* Twitter users write "@united"; elsewhere "@united" reads as the name. */
    if (f[0] == '@' && c->pf != MOCK_TWITTER)
        f = b->forms[0];
    es_buf_puts(o, f);
}

static void put_digit(struct tctx *c, struct es_buf *o, int d)
{
    if (c->fullwidth) {
        char u8[4];
        size_t n = es_utf8_encode(0xFF10u + (uint32_t)d, u8);
        es_buf_append(o, u8, n);
    } else {
        es_buf_putc(o, (char)('0' + d));
    }
}

static void expand(struct tctx *c, const char *t, struct es_buf *o)
{
    int cn_emoticons = c->pf != MOCK_TWITTER;
    while (*t) {
        if (t[0] != '{' || !t[1] || t[2] != '}') {
            const char *e = t + 1;
            while (*e && *e != '{')
                e++;
            es_buf_append(o, t, (size_t)(e - t));
            t = e;
            continue;
        }
        char k = t[1];
        t += 3;
        switch (k) {
        case 'B':
            put_brand_form(c, o);
            break;
        case 'H':
            if (c->pf == MOCK_TWITTER)
                es_buf_printf(o, "#%s", c->b->tag);
            else
                es_buf_printf(o, "#%s#", c->b->tag);
            break;
        case 'A':
            if (c->pf == MOCK_TWITTER && !c->b->zh)
                es_buf_puts(o, c->b->handle);
            else if (c->pf == MOCK_WEIBO)
                es_buf_puts(o, c->b->handle);
            else
                es_buf_puts(o, c->b->forms[0]);
            break;
        case 'P': {
            const struct mock_place *p = c->place;
            if (!p)
                p = &mock_places[mock_rng_next(&c->rng) % 3 + (c->zh ? 0 : 3)];
            es_buf_puts(o, c->zh ? p->zh : p->en);
            break;
        }
        case 'N':
            put_digit(c, o, 2 + (int)(mock_rng_next(&c->rng) % 8));
            break;
        case 'M': {
            int v = 20 + (int)(mock_rng_next(&c->rng) % 76);
            put_digit(c, o, v / 10);
            put_digit(c, o, v % 10);
            break;
        }
        case 'I':
            es_buf_puts(o, c->zh ? items_zh[c->cat][mock_rng_next(&c->rng) % 4]
                                 : items_en[c->cat][mock_rng_next(&c->rng) % 4]);
            break;
        case 'R':
            es_buf_puts(o, c->reply_name ? c->reply_name : "someone");
            break;
        case 'C':
            es_buf_puts(o, cn_emoticons ? PICK(angry_cn, mock_rng_next(&c->rng))
                                        : PICK(angry_emoji, mock_rng_next(&c->rng)));
            break;
        case 'G':
            es_buf_puts(o, cn_emoticons ? PICK(happy_cn, mock_rng_next(&c->rng))
                                        : PICK(happy_emoji, mock_rng_next(&c->rng)));
            break;
        default:
            break;
        }
    }
}

static const char *pick_from(const char *const *l, size_t max, uint64_t r)
{
    size_t n = count_list(l, max);
    return n ? l[r % n] : NULL;
}

static void gen_text(const struct mock *m, uint64_t seq, const struct mock_slot *s, struct tctx *c,
                     struct es_buf *o)
{
    c->m = m;
    c->pf = (enum mock_platform)s->platform;
    c->rng = mock_hash64((m->seed + 0x7f4a7c15ull) ^ (seq * 0xd1b54a32d192ed03ull));
    c->zh = (s->flags & MOCK_F_ZH) != 0;
    c->trad = (s->flags & MOCK_F_TRAD) != 0;
    c->fullwidth = c->zh && mock_rng_unit(&c->rng) < 0.2;
    c->place = s->place && s->place <= mock_nplaces ? &mock_places[s->place - 1] : NULL;
    size_t first = c->zh ? 0 : FIRST_EN_BRAND,
           nb = c->zh ? FIRST_EN_BRAND : NBRANDS - FIRST_EN_BRAND;
    c->b = &brands[first + mock_rng_next(&c->rng) % nb];
    c->cat = c->b->cat;
    const char *t = NULL;
    uint64_t r = mock_rng_next(&c->rng);
    if (s->parent) {
        t = pick_from(c->zh ? reply_zh : reply_en, 8, r);
    } else if (s->kind == MOCK_K_COMPLAINT) {
        if (c->trad)
            t = pick_from(complaint_trad[c->cat], 2, r);
        if (!t)
            t = pick_from(c->zh ? complaint_zh[c->cat] : complaint_en[c->cat], 6, r);
    } else if (s->kind == MOCK_K_INDIRECT) {
        c->cat = (int)(mock_rng_next(&c->rng) % NCAT);
        t = pick_from(c->zh ? indirect_zh[c->cat] : indirect_en[c->cat], 3, r);
    } else if (s->kind == MOCK_K_PRAISE) {
        t = pick_from(c->zh ? praise_zh : praise_en, 8, r);
    }
    if (!t)
        t = pick_from(c->zh ? neutral_zh : neutral_en, 16, r);
    expand(c, t, o);
    /* Sometimes a second line (Weibo shows it as <br />) or a trailing tag. */
    uint64_t x = mock_rng_next(&c->rng);
    if (!s->parent && s->kind <= MOCK_K_INDIRECT && x % 7 == 0)
        es_buf_puts(o, c->zh ? "\n有没有人管管？" : "\nanyone else?");
    else if (!s->parent && s->kind == MOCK_K_COMPLAINT && x % 5 == 1 && c->pf != MOCK_WECHAT) {
        es_buf_putc(o, ' ');
        expand(c, "{H}", o);
    }
}

/* Record "@name" spans (Twitter counts code points). */
static void find_mentions(struct mock_post *p, const char *parent_name, const char *parent_id)
{
    size_t cp = 0;
    const char *s = p->text;
    for (size_t i = 0; i < p->text_len;) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '@' && p->nmentions < MOCK_MAX_MENTIONS) {
            size_t j = i + 1;
            while (j < p->text_len &&
                   ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
                    (s[j] >= '0' && s[j] <= '9') || s[j] == '_'))
                j++;
            if (j > i + 1 && j - i - 1 < sizeof p->mentions[0].username) {
                struct mock_mention *mt = &p->mentions[p->nmentions++];
                memcpy(mt->username, s + i + 1, j - i - 1);
                mt->username[j - i - 1] = '\0';
                mt->start = cp;
                mt->end = cp + (j - i);
                if (parent_name && strcmp(parent_name, mt->username) == 0) {
                    snprintf(mt->id, sizeof mt->id, "%s", parent_id);
                } else {
                    uint64_t h = 1469598103934665603ull;
                    for (const char *q = mt->username; *q; q++)
                        h = (h ^ (unsigned char)(*q | 0x20)) * 1099511628211ull;
                    snprintf(mt->id, sizeof mt->id, "%llu", 100000ull + h % 1000000000ull);
                }
                cp += j - i;
                i = j;
                continue;
            }
        }
        size_t l;
        es_utf8_decode((const unsigned char *)s + i, p->text_len - i, &l);
        i += l;
        cp++;
    }
}

/*
 * Texts are rebuilt for every scan that filters on words, so the newest ones
 * are kept in a direct-mapped cache (seq -> text, 64K entries of 256 bytes).
 * A text depends only on (seed, seq, slot), so an entry never goes stale
 * while its seq is in the ring.
 */

static void text_for(const struct mock *m, uint64_t seq, const struct mock_slot *s, struct tctx *c,
                     struct es_buf *out)
{
    struct mock_text_cache *tc = m->text_cache;
    struct mock_text_cache *e = tc ? &tc[seq & ((1u << TEXT_CACHE_BITS) - 1)] : NULL;
    es_buf_reset(out);
    if (e && e->seq == seq) {
        es_buf_append(out, e->text, e->len);
        return;
    }
    struct mock_author pa;
    if (s->parent && !c->reply_name) {
        const struct mock_slot *ps = mock_slot_get(m, seq - s->parent);
        if (ps) {
            mock_author_get(m, ps->author, (enum mock_platform)s->platform, &pa);
            c->reply_name = pa.screen_name;
        }
    }
    gen_text(m, seq, s, c, out);
    c->reply_name = NULL;
    if (e && out->len <= sizeof e->text) {
        e->seq = seq;
        e->len = (uint16_t)out->len;
        memcpy(e->text, out->data, out->len);
    }
}

int mock_post_text(const struct mock *m, uint64_t seq, const char **text, size_t *len,
                   struct es_buf *scratch)
{
    const struct mock_slot *s = mock_slot_get(m, seq);
    if (!s)
        return -1;
    if (s->src) {
        *text = m->replay[s->src - 1].text;
        *len = strlen(*text);
        return 0;
    }
    struct tctx c;
    memset(&c, 0, sizeof c);
    text_for(m, seq, s, &c, scratch);
    *text = scratch->data ? scratch->data : "";
    *len = scratch->len;
    return 0;
}

void mock_post_geo(const struct mock *m, uint64_t seq, const struct mock_slot *s, double *lat,
                   double *lon)
{
    if (s->src) {
        *lat = m->replay[s->src - 1].lat;
        *lon = m->replay[s->src - 1].lon;
        return;
    }
    /* Within about 1.5 km of the place, the same for every render. */
    uint64_t g = mock_hash64(m->seed ^ seq ^ 0x6e0f5a3b2c1d4e5full);
    const struct mock_place *pl = &mock_places[(s->place - 1) % mock_nplaces];
    double du = (double)(g & 0xffff) / 65535.0 - 0.5;
    double dv = (double)((g >> 16) & 0xffff) / 65535.0 - 0.5;
    *lat = pl->lat + du * 0.027;
    *lon = pl->lon + dv * 0.027 / cos(pl->lat * M_PI / 180.0);
}

int mock_post_load(const struct mock *m, uint64_t seq, struct mock_post *p, struct es_buf *scratch)
{
    const struct mock_slot *s = mock_slot_get(m, seq);
    if (!s)
        return -1;
    memset(p, 0, sizeof *p);
    p->seq = seq;
    p->platform = (enum mock_platform)s->platform;
    snprintf(p->id, sizeof p->id, "%llu", (unsigned long long)mock_post_id_num(p->platform, seq));
    snprintf(p->conversation_id, sizeof p->conversation_id, "%s", p->id);
    p->created_ms = s->published_ms;
    p->rel_time = (s->flags & MOCK_F_RELTIME) != 0;
    es_buf_reset(scratch);
    if (s->src) {
        const struct mock_replay_post *rp = &m->replay[s->src - 1];
        p->text = rp->text;
        p->text_len = strlen(rp->text);
        snprintf(p->lang, sizeof p->lang, "%s", rp->lang);
        p->author = rp->author;
        if (rp->has_geo) {
            p->has_geo = 1;
            p->lat = rp->lat;
            p->lon = rp->lon;
        }
        if (p->platform == MOCK_TWITTER)
            find_mentions(p, NULL, NULL);
        return 0;
    }
    mock_author_get(m, s->author, p->platform, &p->author);
    struct tctx c;
    memset(&c, 0, sizeof c);
    struct mock_author pa;
    if (s->parent) {
        const struct mock_slot *ps = mock_slot_get(m, seq - s->parent);
        p->reply_to_seq = seq - s->parent;
        snprintf(p->reply_to_id, sizeof p->reply_to_id, "%llu",
                 (unsigned long long)mock_post_id_num(p->platform, p->reply_to_seq));
        snprintf(p->conversation_id, sizeof p->conversation_id, "%s", p->reply_to_id);
        if (ps) {
            mock_author_get(m, ps->author, p->platform, &pa);
            snprintf(p->reply_to_author_id, sizeof p->reply_to_author_id, "%s", pa.id);
            c.reply_name = pa.screen_name;
        }
    }
    text_for(m, seq, s, &c, scratch);
    p->text = scratch->data ? scratch->data : "";
    p->text_len = scratch->len;
    snprintf(p->lang, sizeof p->lang, "%s", (s->flags & MOCK_F_ZH) ? "zh" : "en");
    if (s->place && s->place <= mock_nplaces) {
        p->has_geo = 1;
        p->place = &mock_places[s->place - 1];
        mock_post_geo(m, seq, s, &p->lat, &p->lon);
    }
    if (p->platform == MOCK_TWITTER)
        find_mentions(p, s->parent ? c.reply_name : NULL, p->reply_to_author_id);
    return 0;
}

/* ---- the huge fault's text ---- */

static char *huge;

const char *mock_huge_text(size_t *len)
{
    static const char unit[] = "投诉测试 huge post payload 超长文本 ";
    size_t ul = sizeof unit - 1, n = (1u << 20) / ul * ul;
    if (!huge) {
        huge = es_malloc(n + 1);
        if (!huge) {
            *len = 0;
            return "";
        }
        for (size_t i = 0; i < n; i += ul)
            memcpy(huge + i, unit, ul);
        huge[n] = '\0';
    }
    *len = n;
    return huge;
}

/* ---- --replay ---- */

static char *dup_str(const json_t *v, const char *dflt)
{
    const char *s = json_is_string(v) ? json_string_value(v) : dflt;
    return s ? es_strdup(s) : NULL;
}

static void replay_author(const json_t *a, struct mock_author *au, size_t line)
{
    memset(au, 0, sizeof *au);
    snprintf(au->id, sizeof au->id, "r%zu", line);
    snprintf(au->name, sizeof au->name, "replay user %zu", line);
    snprintf(au->screen_name, sizeof au->screen_name, "replay_%zu", line);
    if (!json_is_object(a))
        return;
    const json_t *v = json_object_get(a, "id");
    if (json_is_string(v))
        snprintf(au->id, sizeof au->id, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(au->id, sizeof au->id, "%lld", (long long)json_integer_value(v));
    v = json_object_get(a, "name");
    if (json_is_string(v))
        snprintf(au->name, sizeof au->name, "%s", json_string_value(v));
    v = json_object_get(a, "screen_name");
    if (!json_is_string(v))
        v = json_object_get(a, "username");
    if (json_is_string(v))
        snprintf(au->screen_name, sizeof au->screen_name, "%s", json_string_value(v));
    v = json_object_get(a, "followers");
    if (!json_is_integer(v))
        v = json_object_get(a, "followers_count");
    if (json_is_integer(v))
        au->followers = (long)json_integer_value(v);
    au->verified = json_is_true(json_object_get(a, "verified"));
}

static int replay_geo(const json_t *g, double *lat, double *lon)
{
    const json_t *a = json_object_get(g, "lat"), *b = json_object_get(g, "lon");
    if (!a)
        a = json_object_get(g, "latitude");
    if (!b)
        b = json_object_get(g, "lng");
    if (!b)
        b = json_object_get(g, "longitude");
    if (json_is_number(a) && json_is_number(b)) {
        *lat = json_number_value(a);
        *lon = json_number_value(b);
        return 1;
    }
    const json_t *c = json_object_get(g, "coordinates");
    if (json_is_object(c))
        c = json_object_get(c, "coordinates");
    if (json_is_array(c) && json_array_size(c) == 2 && json_is_number(json_array_get(c, 0))) {
        *lon = json_number_value(json_array_get(c, 0)); /* GeoJSON order */
        *lat = json_number_value(json_array_get(c, 1));
        return 1;
    }
    return 0;
}

int mock_replay_load(struct mock *m, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        es_log(ES_LOG_ERROR, "mock", "%s: cannot open", path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, alloc = 0, lineno = 0, bad = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n == 0)
            continue;
        json_error_t err;
        json_t *o = json_loadb(line, (size_t)n, 0, &err);
        const json_t *t = json_object_get(o, "text");
        if (!json_is_object(o) || !json_is_string(t)) {
            es_log(ES_LOG_WARN, "mock", "%s:%zu: skipped: %s", path, lineno,
                   o ? "no \"text\" string" : err.text);
            bad++;
            json_decref(o);
            continue;
        }
        if (m->nreplay == alloc) {
            size_t na = alloc ? alloc * 2 : 1024;
            struct mock_replay_post *np = es_realloc(m->replay, na * sizeof *np);
            if (!np) {
                json_decref(o);
                break;
            }
            m->replay = np;
            alloc = na;
        }
        struct mock_replay_post *rp = &m->replay[m->nreplay];
        memset(rp, 0, sizeof *rp);
        const char *text = json_string_value(t);
        const json_t *lang = json_object_get(o, "lang");
        int cjk = 0;
        for (const unsigned char *q = (const unsigned char *)text; *q; q++)
            if (*q >= 0xE3 && *q <= 0xE9) {
                cjk = 1;
                break;
            }
        rp->text = es_strdup(text);
        rp->lang = dup_str(lang, cjk ? "zh" : "en");
        rp->platform = -1;
        const json_t *pf = json_object_get(o, "platform");
        if (json_is_string(pf)) {
            const char *ps = json_string_value(pf);
            rp->platform = strcmp(ps, "twitter") == 0  ? MOCK_TWITTER
                           : strcmp(ps, "weibo") == 0  ? MOCK_WEIBO
                           : strcmp(ps, "wechat") == 0 ? MOCK_WECHAT
                                                       : -1;
            if (rp->platform >= 0 && !(m->platforms_mask & (1u << rp->platform)))
                rp->platform = -1;
        }
        replay_author(json_object_get(o, "author"), &rp->author, lineno);
        const json_t *g = json_object_get(o, "geo");
        if (json_is_object(g))
            rp->has_geo = replay_geo(g, &rp->lat, &rp->lon);
        json_decref(o);
        if (!rp->text || !rp->lang) {
            es_free(rp->text);
            es_free(rp->lang);
            break;
        }
        m->nreplay++;
    }
    free(line);
    fclose(f);
    if (bad)
        es_log(ES_LOG_WARN, "mock", "%s: %zu bad lines skipped", path, bad);
    if (m->nreplay == 0) {
        es_log(ES_LOG_ERROR, "mock", "%s: no posts", path);
        return -1;
    }
    return 0;
}

void mock_gen_cleanup(struct mock *m)
{
    es_free(m->ring);
    m->ring = NULL;
    es_free(m->text_cache);
    m->text_cache = NULL;
    for (size_t i = 0; i < m->nreplay; i++) {
        es_free(m->replay[i].text);
        es_free(m->replay[i].lang);
    }
    es_free(m->replay);
    m->replay = NULL;
    m->nreplay = 0;
    es_free(huge);
    huge = NULL;
}
