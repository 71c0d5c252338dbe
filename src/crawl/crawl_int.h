/*
 * crawl_int: what the crawler's files share.
 *
 *   crawl.c    the loop: curl multi on uv (sockets, timer), per-source timers,
 *              the completion queue (done from any thread -> uv_async), cursors,
 *              backoff, health, shutdown
 *   request.c  source validation and one request per platform shape
 *              (URL, headers, body); knows no loop
 */
#ifndef ES_CRAWL_INT_H
#define ES_CRAWL_INT_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "earshot/buf.h"
#include "earshot/crawl.h"

/* Records asked for per page. */
#define ES__CRAWL_PAGE 100

/* One request, built by es__crawl_build. */
struct es__crawl_req {
    struct es_buf url;            /* holds the access token for Weibo/WeChat: never logged */
    struct es_buf body;           /* POST body (WeChat), len 0 for GET */
    struct curl_slist *headers;   /* Authorization, Content-Type, conditional headers */
};

/*
 * es__crawl_build writes the request for a page of src: the poll (token ""
 * or NULL) or the next older page (token = the previous page's next_token).
 * cursor is the persisted cursor ("" none), now_s the wall clock. 0,
 * ES_ENOMEM, ES_ELIMIT, ES_EINVAL (the auth variable is gone). req is
 * initialised either way; free it with es__crawl_req_cleanup.
 */
int es__crawl_build(struct es__crawl_req *req, const struct es_source *src, const char *cursor,
                    const char *token, int64_t now_s);
void es__crawl_req_cleanup(struct es__crawl_req *req);

/* es__crawl_check validates one source; ES_EINVAL with d naming the source and field. */
int es__crawl_check(const struct es_source *s, struct es_diag *d);
/* es__crawl_copy deep-copies a source (strings with es_strdup). 0 or ES_ENOMEM. */
int es__crawl_copy(struct es_source *dst, const struct es_source *src);


#endif
