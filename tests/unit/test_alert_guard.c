/* The SSRF guard at connect time: a name that passed the check but resolves (or is routed)
 * to a forbidden address when libcurl connects, as after DNS rebinding, is refused. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alert/internal.h"
#include "harness.h"

static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t n = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &n) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

/* connect through the guard; returns the curl code, why gets the guard's reason */
static CURLcode try_connect(const char *url, const char *resolve, const char *connect_to,
                            const char *allow, char *why, size_t n)
{
    struct es_net_allow al;
    struct es_diag d = {0};
    es_net_allow_parse(allow, &al, &d);
    struct es__alert_guard g = {.allow = &al};
    CURL *e = curl_easy_init();
    struct curl_slist *r = resolve ? curl_slist_append(NULL, resolve) : NULL;
    struct curl_slist *c = connect_to ? curl_slist_append(NULL, connect_to) : NULL;
    es__alert_guard_setup(e, &g, false);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 3000L);
    if (r)
        curl_easy_setopt(e, CURLOPT_RESOLVE, r);
    if (c)
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, c);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_cleanup(e);
    curl_slist_free_all(r);
    curl_slist_free_all(c);
    snprintf(why, n, "%s", g.why);
    return rc;
}

ES_TEST(rebinding_to_loopback_is_refused_at_connect_time)
{
    int port, fd = listener(&port);
    ES_ASSERT(fd >= 0);
    char url[128], res[128], why[256];
    snprintf(url, sizeof url, "http://hooks.rebind.example:%d/x", port);
    /* at subscription time the name is not an address the guard can refuse without DNS */
    struct es_net_allow none = {0};
    struct es_diag d = {0};
    ES_ASSERT_EQ(es_net_check_url(url, false, &none, false, &d), 0);
    /* at connect time it "resolves" to 127.0.0.1 */
    snprintf(res, sizeof res, "hooks.rebind.example:%d:127.0.0.1", port);
    CURLcode rc = try_connect(url, res, NULL, "", why, sizeof why);
    ES_ASSERT(rc != CURLE_OK);
    ES_ASSERT(strstr(why, "127.0.0.1") && strstr(why, "loopback"));
    /* allow-listed, the same connection goes through */
    rc = try_connect(url, res, NULL, "127.0.0.1", why, sizeof why);
    ES_ASSERT_EQ(rc, CURLE_OK);
    ES_ASSERT_STR(why, "");
    close(fd);
}

ES_TEST(connect_to_a_metadata_address_is_refused)
{
    char why[256];
    /* routed to the cloud metadata address: refused before any packet is sent */
    CURLcode rc = try_connect("http://public.example/", NULL,
                              "public.example:80:169.254.169.254:80", "127.0.0.1", why,
                              sizeof why);
    ES_ASSERT(rc != CURLE_OK);
    ES_ASSERT(strstr(why, "169.254.169.254") && strstr(why, "link-local"));
    rc = try_connect("http://public.example/", "public.example:80:10.0.0.7", NULL, "127.0.0.1",
                     why, sizeof why);
    ES_ASSERT(rc != CURLE_OK);
    ES_ASSERT(strstr(why, "10.0.0.7") && strstr(why, "private"));
}

ES_TEST(only_http_and_https)
{
    char why[256];
    CURLcode rc = try_connect("file:///etc/passwd", NULL, NULL, "", why, sizeof why);
    ES_ASSERT_EQ(rc, CURLE_UNSUPPORTED_PROTOCOL);
    rc = try_connect("gopher://127.0.0.1:70/", NULL, NULL, "127.0.0.1", why, sizeof why);
    ES_ASSERT_EQ(rc, CURLE_UNSUPPORTED_PROTOCOL);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ES_RUN(rebinding_to_loopback_is_refused_at_connect_time);
    ES_RUN(connect_to_a_metadata_address_is_refused);
    ES_RUN(only_http_and_https);
    curl_global_cleanup();
    return ES_DONE();
}
