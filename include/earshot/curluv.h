/*
 * curluv: a libcurl multi handle driven by a libuv loop (the multi socket
 * API: curl says which sockets to watch and when to time out; uv_poll and
 * a uv timer tell it back). The crawler and the alert sender share it.
 *
 *   curl_multi_add_handle(es_curluv_multi(u), easy)
 *     ... sockets ready / timer fires -> curl_multi_socket_action
 *     ... a transfer ended -> done(ud, easy, result)   (remove and free it there)
 *     ... after each batch of ended transfers -> drained(ud)
 *
 * Everything runs on the loop thread. es_curluv_close cleans up the multi
 * (every easy handle must have been removed) and closes the timer and the
 * socket watchers; closed(ud) runs once they have all closed, then u is freed.
 */
#ifndef ES_CURLUV_H
#define ES_CURLUV_H

#include <curl/curl.h>

struct uv_loop_s;
struct es_curluv;

typedef void es_curluv_done_fn(void *ud, CURL *easy, CURLcode result);
typedef void es_curluv_drained_fn(void *ud);

/* es_curluv_new: 0 or ES_ENOMEM. drained may be NULL. */
int es_curluv_new(struct uv_loop_s *loop, es_curluv_done_fn *done, es_curluv_drained_fn *drained,
                  void *ud, struct es_curluv **out);
/* es_curluv_multi: the multi handle (set its options, add easy handles); NULL once closing. */
CURLM *es_curluv_multi(struct es_curluv *u);
/* es_curluv_close: see above; closed may be NULL. NULL u is a no-op. */
void es_curluv_close(struct es_curluv *u, void (*closed)(void *ud), void *ud);

#endif
