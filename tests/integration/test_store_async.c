/*
 * The asynchronous store client on a libuv loop against a real redis-server
 * (started in a temp dir, as the embedded default does): commands, a script
 * loaded on NOSCRIPT, the server killed and restarted (reconnect with
 * backoff), and a stop that cancels what is pending and leaves the loop
 * with nothing open.
 */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "earshot/store.h"
#include "harness.h"
#include "store/internal.h"

struct state {
    uv_loop_t *loop;
    struct es_store_async *a;
    struct es_redis_child *child;
    char dir[64], sock[256], url[300];
    int step;
    int callbacks, ok, errors, canceled;
    long long value;
    char last_reason[64];
    uv_timer_t tick;
    int ticks;
};

static void on_cmd(void *ud, redisReply *r, int status)
{
    struct state *st = ud;
    st->callbacks++;
    if (status == 0 && r) {
        st->ok++;
        if (r->type == REDIS_REPLY_INTEGER)
            st->value = r->integer;
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
            r->element[1]->type == REDIS_REPLY_STRING)
            snprintf(st->last_reason, sizeof st->last_reason, "%s", r->element[1]->str);
    } else if (status == ES_ECANCELED) {
        st->canceled++;
    } else {
        st->errors++;
    }
}

static void on_tick(uv_timer_t *t)
{
    struct state *st = t->data;
    st->ticks++;
    const char *incr[] = {"INCR", "es:test:n"};
    switch (st->step) {
    case 0: /* connected? */
        if (!es_store_async_connected(st->a))
            return;
        es_store_async_cmd(st->a, 2, incr, NULL, on_cmd, st);
        {
            /* a store script never loaded on this server: NOSCRIPT, load, retry */
            const char *args[] = {"es:{s0}:m:m0-1", "es:{s0}:c:x", "es:{s0}:q:_", "alice", "1",
                                  "1000"};
            es_store_async_script(st->a, ES__S_CLAIM, 3, 3, args, NULL, on_cmd, st);
        }
        st->step = 1;
        break;
    case 1: /* both answered: kill the server */
        if (st->callbacks < 2)
            return;
        es_redis_child_stop(st->child);
        st->child = NULL;
        st->step = 2;
        break;
    case 2: /* down: a command fails at once */
        if (es_store_async_connected(st->a))
            return;
        if (es_store_async_cmd(st->a, 2, incr, NULL, on_cmd, st) == ES_EIO)
            st->errors++;
        {
            struct es_diag d = {0};
            if (es_redis_child_start(st->dir, &st->child, st->sock, sizeof st->sock, &d) != 0)
                st->step = 99;
        }
        st->step = 3;
        break;
    case 3: /* reconnected by the backoff timer: the script is loaded again on NOSCRIPT */
        if (!es_store_async_connected(st->a))
            return;
        {
            const char *args[] = {"es:{s0}:m:m0-1", "es:{s0}:c:x", "es:{s0}:q:_", "alice", "1",
                                  "1000"};
            es_store_async_script(st->a, ES__S_CLAIM, 3, 3, args, NULL, on_cmd, st);
            es_store_async_cmd(st->a, 2, incr, NULL, on_cmd, st);
        }
        st->step = 4;
        break;
    case 4: /* send one more and stop at once: it is canceled */
        if (st->callbacks < 4)
            return;
        es_store_async_cmd(st->a, 2, incr, NULL, on_cmd, st);
        es_store_async_stop(st->a);
        st->step = 5;
        uv_timer_stop(t);
        uv_close((uv_handle_t *)t, NULL);
        break;
    }
    if (st->ticks > 400) { /* 20 s */
        es_store_async_stop(st->a);
        uv_timer_stop(t);
        uv_close((uv_handle_t *)t, NULL);
    }
}

ES_TEST(async_client_survives_a_redis_restart_and_cancels_on_stop)
{
    struct state st;
    memset(&st, 0, sizeof st);
    snprintf(st.dir, sizeof st.dir, "/tmp/es-async-XXXXXX");
    ES_ASSERT(mkdtemp(st.dir) != NULL);
    struct es_diag d = {0};
    ES_ASSERT_EQ(es_redis_child_start(st.dir, &st.child, st.sock, sizeof st.sock, &d), 0);
    snprintf(st.url, sizeof st.url, "unix://%s", st.sock);
    uv_loop_t loop;
    uv_loop_init(&loop);
    st.loop = &loop;
    ES_ASSERT_EQ(es_store_async_start(&loop, st.url, &st.a), 0);
    uv_timer_init(&loop, &st.tick);
    st.tick.data = &st;
    uv_timer_start(&st.tick, on_tick, 50, 50);
    uv_run(&loop, UV_RUN_DEFAULT);
    es_redis_child_stop(st.child);
    ES_ASSERT_EQ(st.step, 5);
    /* INCR, claim (not_found after NOSCRIPT reload), claim again after the restart, INCR */
    ES_ASSERT_EQ(st.ok, 4);
    ES_ASSERT_STR(st.last_reason, "not_found");
    ES_ASSERT_EQ(st.errors, 1);   /* the command sent while down */
    ES_ASSERT_EQ(st.canceled, 1); /* the one in flight at stop */
    ES_ASSERT_EQ(st.value, 2);    /* the AOF kept the counter across the restart: INCR -> 2 */
    ES_ASSERT_EQ(uv_loop_close(&loop), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", st.dir);
    ES_ASSERT_EQ(system(cmd), 0);
}

int main(void)
{
    ES_RUN(async_client_survives_a_redis_restart_and_cancels_on_stop);
    return ES_DONE();
}
