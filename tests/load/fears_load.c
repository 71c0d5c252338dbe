/*
 * es-fears-load: many concurrent agents against the responder, on a real
 * redis-server.
 *
 *   es-fears-load --check [--clients 64] [--conversations 1000] [--visits N]
 *       the race test: every client tries to answer N conversations (default: all;
 *       clients start at different offsets, so each conversation is raced by
 *       clients x N / conversations of them)
 *       (claim, reply, second reply with or without a DM invitation, a third
 *       reply); half the clients act as one shared agent identity so the
 *       reply limit itself, not only the claim, is raced. Afterwards: no
 *       conversation has more than two public replies, every second public
 *       reply in the outbox invites a DM. Prints the counts; exit 1 on a
 *       violation.
 *   es-fears-load --bench [--clients 64] [--conversations N] [--seconds S]
 *       accepted reply decisions per second (text checks + canned check +
 *       the atomic script), each client on its own conversations.
 *
 * Redis: --redis URL, else a private redis-server started in a temp dir
 * (the embedded default) and stopped at the end. Prints the socket so a
 * peer benchmark can use the same server (--keep-server-s N keeps it up).
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "earshot/clock.h"
#include "earshot/fears.h"
#include "earshot/norm.h"
#include "earshot/respond.h"
#include "earshot/store.h"

/* Syllables for made-up words: 24^3 words, so two random replies share few shingles, as
 * two replies an agent wrote for different customers do. */
static const char *syl[] = {"ka", "lo", "mi", "ren", "tu", "sa", "vel", "dor", "pi", "ne",
                            "qua", "zor", "bel", "fi", "gan", "hu", "jo", "wen", "xi", "yu",
                            "cor", "dan", "ell", "ost"};
#define NSYL (sizeof syl / sizeof *syl)

struct shared {
    const char *redis_url;
    const char *data_dir;
    const struct es_fears *fears;
    char (*mids)[64];
    int n_conv;
    int visits; /* --check: conversations each client tries, in its own order */
    int clients;
    bool bench;
    int64_t end_ms;
    atomic_long accepted, refused_limit, refused_dm, refused_claim, refused_other, errors;
    atomic_long decisions;
};

struct client {
    struct shared *sh;
    int id;
    pthread_t tid;
    unsigned seed;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A text unlike any other (random words), optionally inviting a DM. */
static void make_text(unsigned *seed, bool invite, char *out, size_t n)
{
    size_t len = (size_t)snprintf(out, n, "Sorry about the");
    for (int i = 0; i < 12 && len < n - 60; i++)
        len += (size_t)snprintf(out + len, n - len, " %s%s%s", syl[rand_r(seed) % NSYL],
                                syl[rand_r(seed) % NSYL], syl[rand_r(seed) % NSYL]);
    snprintf(out + len, n - len, invite ? ". Please send us a DM so we can sort it out." : ".");
}

static void count(struct shared *sh, const struct es_reply_out *o)
{
    if (o->ok)
        atomic_fetch_add(&sh->accepted, 1);
    else if (strcmp(o->reason, "fears_reply_limit") == 0)
        atomic_fetch_add(&sh->refused_limit, 1);
    else if (strcmp(o->reason, "fears_dm_required") == 0)
        atomic_fetch_add(&sh->refused_dm, 1);
    else if (strcmp(o->reason, "claimed_by_other") == 0 || strcmp(o->reason, "not_claimed") == 0)
        atomic_fetch_add(&sh->refused_claim, 1);
    else
        atomic_fetch_add(&sh->refused_other, 1);
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    struct shared *sh = c->sh;
    struct es_store_opts so = {sh->redis_url, sh->data_dir, 10000};
    struct es_store *s;
    struct es_diag d = {0};
    if (es_store_open(&so, &s, &d) != 0) {
        fprintf(stderr, "client %d: %s\n", c->id, d.msg);
        atomic_fetch_add(&sh->errors, 1);
        return NULL;
    }
    char agent[32], text[512];
    /* even clients share one identity: they race the reply limit itself */
    snprintf(agent, sizeof agent, c->id % 2 == 0 ? "shared" : "agent%d", c->id);
    struct es_store_result r;
    struct es_reply_out o;
    if (!sh->bench) {
        for (int k = 0; k < sh->visits; k++) {
            int i = (k + c->id * 37) % sh->n_conv;
            const char *mid = sh->mids[i];
            if (es_store_claim(s, mid, agent, 60000, now_ms(), &r) != 0) {
                atomic_fetch_add(&sh->errors, 1);
                continue;
            }
            for (int attempt = 0; attempt < 3; attempt++) {
                bool invite = (rand_r(&c->seed) % 3) != 0;
                make_text(&c->seed, invite, text, sizeof text);
                struct es_reply_req q = {mid, agent, ES_REPLY_PUBLIC, text, NULL, 0};
                if (es_respond_reply(s, sh->fears, &q, now_ms(), &o) != 0) {
                    atomic_fetch_add(&sh->errors, 1);
                    break;
                }
                count(sh, &o);
            }
        }
    } else {
        /* each client answers its own conversations: every decision is a real one */
        int per = sh->n_conv / sh->clients;
        int k = 0;
        while (now_ms() < sh->end_ms && per > 0) {
            const char *mid = sh->mids[c->id * per + (k / 2) % per];
            if (k % 2 == 0 && es_store_claim(s, mid, agent, 600000, now_ms(), &r) != 0)
                atomic_fetch_add(&sh->errors, 1);
            make_text(&c->seed, k % 2 == 1, text, sizeof text);
            struct es_reply_req q = {mid, agent, ES_REPLY_PUBLIC, text, NULL, 0};
            if (es_respond_reply(s, sh->fears, &q, now_ms(), &o) != 0)
                atomic_fetch_add(&sh->errors, 1);
            else
                count(sh, &o);
            atomic_fetch_add(&sh->decisions, 1);
            k++;
            if (k / 2 >= per)
                break; /* each conversation took its two replies */
        }
    }
    es_store_close(s);
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"check", no_argument, NULL, 'c'},
                                       {"bench", no_argument, NULL, 'b'},
                                       {"clients", required_argument, NULL, 'n'},
                                       {"conversations", required_argument, NULL, 'm'},
                                       {"seconds", required_argument, NULL, 's'},
                                       {"redis", required_argument, NULL, 'r'},
                                       {"keep-server-s", required_argument, NULL, 'k'},
                                       {"visits", required_argument, NULL, 'v'},
                                       {NULL, 0, NULL, 0}};
    struct shared sh;
    memset(&sh, 0, sizeof sh);
    sh.clients = 64;
    sh.n_conv = 1000;
    int seconds = 10, keep_s = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': sh.bench = false; break;
        case 'b': sh.bench = true; break;
        case 'n': sh.clients = atoi(optarg); break;
        case 'm': sh.n_conv = atoi(optarg); break;
        case 's': seconds = atoi(optarg); break;
        case 'r': sh.redis_url = optarg; break;
        case 'k': keep_s = atoi(optarg); break;
        case 'v': sh.visits = atoi(optarg); break;
        default: return 2;
        }
    }
    if (sh.visits <= 0 || sh.visits > sh.n_conv)
        sh.visits = sh.n_conv;
    if (sh.clients < 1 || sh.clients > 1024 || sh.n_conv < 1 || seconds < 1 || seconds > 600)
        return 2;
    char tmpl[] = "/tmp/es-fears-XXXXXX";
    struct es_redis_child *child = NULL;
    char sock[256], url[300];
    if (!sh.redis_url) {
        if (!mkdtemp(tmpl))
            return 1;
        struct es_diag d = {0};
        if (es_redis_child_start(tmpl, &child, sock, sizeof sock, &d) != 0) {
            fprintf(stderr, "%s\n", d.msg);
            return 1;
        }
        snprintf(url, sizeof url, "unix://%s", sock);
        sh.redis_url = url;
        printf("{\"redis\":\"%s\"}\n", url);
        fflush(stdout);
    }
    const char *warn;
    struct es_norm *norm = es_norm_new(NULL, &warn);
    struct es_fears *f = NULL;
    struct es_diag d = {0};
    if (!norm || es_fears_load(norm, ES_SOURCE_DIR "/rules/fears", &f, &d) != 0) {
        fprintf(stderr, "fears: %s\n", d.msg);
        return 1;
    }
    sh.fears = f;

    /* The conversations: one mention each, from distinct customers. */
    struct es_store_opts so = {sh.redis_url, NULL, 10000};
    struct es_store *s;
    if (es_store_open(&so, &s, &d) != 0) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    sh.mids = calloc((size_t)sh.n_conv, sizeof *sh.mids);
    int64_t t_add = es_clock_mono_ms();
    for (int i = 0; i < sh.n_conv; i++) {
        char id[32], author[32], text[64];
        snprintf(id, sizeof id, "load%d-%ld", i, (long)getpid());
        snprintf(author, sizeof author, "cust%d-%ld", i, (long)getpid());
        snprintf(text, sizeof text, "my order %d never arrived", i);
        struct es_post p;
        memset(&p, 0, sizeof p);
        p.id = id;
        p.platform = ES_PLATFORM_TWITTER;
        p.author.id = author;
        p.author.handle = author;
        p.author.followers = i;
        p.text = text;
        p.text_len = strlen(text);
        p.created_at = es_clock_now();
        struct es_mention_in in = {"acme", "delivery", 2, 1.5, true, NULL, NULL, NULL, 0, NULL};
        bool created;
        if (es_store_mention_add(s, &p, &in, now_ms(), sh.mids[i], sizeof sh.mids[i], &created)) {
            fprintf(stderr, "mention_add failed\n");
            return 1;
        }
    }
    double add_s = (double)(es_clock_mono_ms() - t_add) / 1000.0;

    struct client *cl = calloc((size_t)sh.clients, sizeof *cl);
    sh.end_ms = now_ms() + seconds * 1000LL;
    int64_t t0 = es_clock_mono_ms();
    for (int i = 0; i < sh.clients; i++) {
        cl[i].sh = &sh;
        cl[i].id = i;
        cl[i].seed = (unsigned)(i * 7919 + 17);
        pthread_create(&cl[i].tid, NULL, client_main, &cl[i]);
    }
    for (int i = 0; i < sh.clients; i++)
        pthread_join(cl[i].tid, NULL);
    double el = (double)(es_clock_mono_ms() - t0) / 1000.0;

    int rc = 0;
    if (!sh.bench) {
        /* Verify from Redis: the conversations and the outbox entries. */
        long over = 0, twos = 0, ones = 0, second_without_invite = 0, outbox_public = 0;
        for (int i = 0; i < sh.n_conv; i++) {
            json_t *m = NULL;
            if (es_store_mention_get(s, sh.mids[i], &m) != 0) {
                over++;
                continue;
            }
            json_int_t pr =
                json_integer_value(json_object_get(json_object_get(m, "conversation"),
                                                   "public_replies"));
            over += pr > 2;
            twos += pr == 2;
            ones += pr == 1;
            json_decref(m);
        }
        struct es_outbox_entry e[32];
        size_t n;
        do {
            if (es_store_outbox_read(s, "verifier", 3600000, e, 32, &n) != 0)
                break;
            for (size_t i = 0; i < n; i++) {
                outbox_public++;
                json_decref(e[i].fields);
            }
        } while (n > 0);
        /* every accepted second reply was checked by the script to carry an invitation;
         * re-check the texts of conversations at two replies from their history */
        for (int i = 0; i < sh.n_conv; i++) {
            json_t *m = NULL;
            if (es_store_mention_get(s, sh.mids[i], &m) != 0)
                continue;
            json_t *hist = json_object_get(json_object_get(m, "customer"), "history");
            int publics = 0;
            for (size_t k = json_array_size(hist); k-- > 0;) {
                json_t *ev = json_array_get(hist, k);
                const char *kind = json_string_value(json_object_get(ev, "t"));
                if (!kind || strcmp(kind, "public") != 0)
                    continue;
                publics++;
                const char *t = json_string_value(json_object_get(ev, "text"));
                struct es_fears_report fr;
                if (publics == 2 && t &&
                    (es_fears_check_text(f, t, strlen(t), &fr) != 0 || !fr.dm_invite))
                    second_without_invite++;
            }
            json_decref(m);
        }
        printf("{\"clients\":%d,\"conversations\":%d,\"seconds\":%.2f,\"accepted\":%ld,"
               "\"refused_reply_limit\":%ld,\"refused_dm_required\":%ld,"
               "\"refused_claimed\":%ld,\"refused_other\":%ld,\"errors\":%ld,"
               "\"conversations_with_2\":%ld,\"with_1\":%ld,\"over_2\":%ld,"
               "\"second_without_dm_invite\":%ld,\"outbox_entries\":%ld}\n",
               sh.clients, sh.n_conv, el, atomic_load(&sh.accepted),
               atomic_load(&sh.refused_limit), atomic_load(&sh.refused_dm),
               atomic_load(&sh.refused_claim), atomic_load(&sh.refused_other),
               atomic_load(&sh.errors), twos, ones, over, second_without_invite, outbox_public);
        if (over || second_without_invite || atomic_load(&sh.errors) ||
            outbox_public != atomic_load(&sh.accepted) || twos + ones != sh.n_conv)
            rc = 1;
        printf("%d passed, %d failed\n", rc ? 0 : 1, rc ? 1 : 0);
    } else {
        printf("{\"clients\":%d,\"seconds\":%.2f,\"decisions\":%ld,\"accepted\":%ld,"
               "\"decisions_per_s\":%.0f,\"accepted_per_s\":%.0f,\"errors\":%ld,"
               "\"mention_add_per_s\":%.0f}\n",
               sh.clients, el, atomic_load(&sh.decisions), atomic_load(&sh.accepted),
               (double)atomic_load(&sh.decisions) / el, (double)atomic_load(&sh.accepted) / el,
               atomic_load(&sh.errors), sh.n_conv / add_s);
    }
    fflush(stdout);
    if (keep_s > 0)
        sleep((unsigned)keep_s);
    free(cl);
    free(sh.mids);
    es_store_close(s);
    es_fears_free(f);
    es_norm_free(norm);
    es_redis_child_stop(child);
    return rc;
}
