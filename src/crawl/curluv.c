/* A curl multi handle on a libuv loop (see include/earshot/curluv.h). */
#include <uv.h>

#include "earshot/alloc.h"
#include "earshot/curluv.h"
#include "earshot/err.h"

struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct es_curluv *u;
    struct sock *prev, *next;
};

struct es_curluv {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct sock *socks;  /* watched sockets, closed at the latest by es_curluv_close */
    size_t handles;      /* open uv handles: the timer and the sockets' polls */
    int closing;
    es_curluv_done_fn *done;
    es_curluv_drained_fn *drained;
    void *ud;
    void (*closed)(void *ud);
    void *closed_ud;
};

static void handle_gone(struct es_curluv *u)
{
    if (--u->handles == 0 && u->closing) {
        if (u->closed)
            u->closed(u->closed_ud);
        es_free(u);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_gone(h->data);
}

static void on_sock_closed(uv_handle_t *h)
{
    struct sock *k = h->data;
    struct es_curluv *u = k->u;
    es_free(k);
    handle_gone(u);
}

static void sock_close(struct sock *k)
{
    struct es_curluv *u = k->u;
    if (k->prev)
        k->prev->next = k->next;
    else
        u->socks = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->prev = k->next = NULL;
    uv_poll_stop(&k->poll);
    uv_close((uv_handle_t *)&k->poll, on_sock_closed);
}

/* drain hands every ended transfer to done, then says so to drained. */
static void drain(struct es_curluv *u)
{
    CURLMsg *msg;
    int left;
    while (u->multi && (msg = curl_multi_info_read(u->multi, &left)))
        if (msg->msg == CURLMSG_DONE)
            u->done(u->ud, msg->easy_handle, msg->data.result);
    if (u->drained && !u->closing)
        u->drained(u->ud);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock *k = p->data;
    struct es_curluv *u = k->u;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    if (u->multi)
        curl_multi_socket_action(u->multi, k->fd, flags, &running);
    drain(u);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct es_curluv *u = userp;
    struct sock *k = socketp;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            if (!u->closing)
                curl_multi_assign(u->multi, fd, NULL);
            sock_close(k);
        }
        return 0;
    }
    if (!k) {
        k = es_calloc(1, sizeof *k);
        if (!k)
            return -1;
        if (uv_poll_init_socket(u->loop, &k->poll, fd) != 0) {
            es_free(k);
            return -1;
        }
        u->handles++;
        k->fd = fd;
        k->u = u;
        k->poll.data = k;
        k->next = u->socks;
        if (u->socks)
            u->socks->prev = k;
        u->socks = k;
        curl_multi_assign(u->multi, fd, k);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&k->poll, ev, on_poll);
    return 0;
}

static void on_timeout(uv_timer_t *t)
{
    struct es_curluv *u = t->data;
    int running;
    if (u->multi)
        curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(u);
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
    struct es_curluv *u = userp;
    (void)m;
    if (u->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&u->timer);
    else
        uv_timer_start(&u->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

int es_curluv_new(uv_loop_t *loop, es_curluv_done_fn *done, es_curluv_drained_fn *drained,
                  void *ud, struct es_curluv **out)
{
    struct es_curluv *u = es_calloc(1, sizeof *u);
    if (!u)
        return ES_ENOMEM;
    u->multi = curl_multi_init();
    if (!u->multi) {
        es_free(u);
        return ES_ENOMEM;
    }
    u->loop = loop;
    u->done = done;
    u->drained = drained;
    u->ud = ud;
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    u->handles = 1;
    *out = u;
    return 0;
}

CURLM *es_curluv_multi(struct es_curluv *u)
{
    return u && !u->closing ? u->multi : NULL;
}

void es_curluv_close(struct es_curluv *u, void (*closed)(void *ud), void *ud)
{
    if (!u || u->closing)
        return;
    u->closing = 1;
    u->closed = closed;
    u->closed_ud = ud;
    curl_multi_cleanup(u->multi); /* closes cached connections; may call on_socket */
    u->multi = NULL;
    while (u->socks)
        sock_close(u->socks);
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->timer, on_timer_closed);
}
