/* Private to the store module: the connection, key builders and scripts. */
#ifndef ES_STORE_INTERNAL_H
#define ES_STORE_INTERNAL_H

#include <hiredis/hiredis.h>

#include "earshot/store.h"

enum es__script {
    ES__S_MENTION_ADD,
    ES__S_CLAIM,
    ES__S_RELEASE,
    ES__S_REPLY,
    ES__S_RESOLVE,
    ES__S_IGNORE,
    ES__S_OUTBOX_DONE,
    ES__S_COUNT
};

struct es_store {
    redisContext *c;
    char sock[1024];     /* unix socket path, or "" for TCP */
    char host[256];
    int port;
    int timeout_ms;
    struct es_redis_child *child; /* owned embedded server, or NULL */
    char sha[ES__S_COUNT][41];
};

/* es__shard: the customer shard of platform:author. */
int es__shard(const char *platform, const char *author);
/* es__author_of: the post author's id (else handle, else "?"), as mentions key it. */
const char *es__author_of(const struct es_post *p);
/* es__vip_field: the es:vip field of a post's author ("" when it has none). */
void es__vip_field(const struct es_post *p, char *field, size_t n);
/* es__vip_args: the argv of HMGET es:vip with one field per post (n + 2 words). */
void es__vip_args(const struct es_post *const *posts, size_t n, char (*fields)[512],
                  const char **argv);
/* es__vip_tier: post i's tier ("" when none) from that HMGET's reply (NULL: none). */
void es__vip_tier(const redisReply *r, size_t i, const char *field, char *tier, size_t n);
/* es__shard_of_mid: the shard encoded in a mention id "m<K>-<n>", or -1. */
int es__shard_of_mid(const char *mid);

/* es__cmd: run a command (argv with lengths; lens may be NULL for C strings),
 * reconnecting once on an I/O error. NULL when Redis cannot be reached. */
redisReply *es__cmd(struct es_store *s, int argc, const char **argv, const size_t *lens);
/* es__pipeline sends n commands in one round trip and stores their replies (the caller
 * frees each with freeReplyObject). 0, or ES_EIO with every reply NULL. */
int es__pipeline(struct es_store *s, int n, const int *argc, const char *const *const *argv,
                 redisReply **replies);
/* es__eval: EVALSHA of a script, loading it again on NOSCRIPT. */
redisReply *es__eval(struct es_store *s, enum es__script sc, int nkeys, const char **keys,
                     int nargs, const char **args, const size_t *arglens);
/* es__script_source: the Lua text of a script. */
const char *es__script_source(enum es__script sc);
int es__load_scripts(struct es_store *s);

/* es__result_from: fill r from a script's {status, ...} reply. */
void es__result_from(const redisReply *rep, struct es_store_result *r);

#endif
