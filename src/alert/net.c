/*
 * The SSRF guard. A webhook URL comes from a subscription, so it is
 * attacker-influenced: it must not reach the host's loopback services, the
 * private network or a cloud metadata endpoint. Checked twice:
 *
 *   subscription time  scheme, host, every address the name resolves to
 *   connect time       CURLOPT_OPENSOCKETFUNCTION sees the address libcurl is
 *                      about to connect to, after its own resolution, so a
 *                      name that resolves elsewhere later (DNS rebinding) is
 *                      refused too; libcurl then reports a connect failure
 *
 * Proxies are disabled for deliveries (a proxy would hide the target) and
 * redirects are not followed.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "alert/internal.h"
#include "earshot/log.h"

const char *es_net_class_name(enum es_net_class c)
{
    switch (c) {
    case ES_NET_OK: return "allowed";
    case ES_NET_LOOPBACK: return "loopback";
    case ES_NET_PRIVATE: return "private";
    case ES_NET_LINK_LOCAL: return "link-local (cloud metadata)";
    case ES_NET_UNSPECIFIED: return "unspecified";
    case ES_NET_MULTICAST: return "multicast";
    case ES_NET_RESERVED: return "reserved";
    }
    return "?";
}

static int prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

int es_net_allow_parse(const char *list, struct es_net_allow *a, struct es_diag *d)
{
    memset(a, 0, sizeof *a);
    if (!list)
        return 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ", ");
        if (n == 0) {
            p++;
            continue;
        }
        char item[80];
        if (n >= sizeof item)
            return es_diag_set(d, "allow", 0, 0, "allow-list item too long: %.40s...", p);
        memcpy(item, p, n);
        item[n] = '\0';
        p += n;
        if (a->n == ES_NET_ALLOW_MAX)
            return es_diag_set(d, "allow", 0, 0, "more than %d allow-list items",
                               ES_NET_ALLOW_MAX);
        char *slash = strchr(item, '/');
        long bits = -1;
        if (slash) {
            char *end;
            *slash = '\0';
            bits = strtol(slash + 1, &end, 10);
            if (*end || slash[1] == '\0')
                return es_diag_set(d, "allow", 0, 0, "bad prefix length in '%s/%s'", item,
                                   slash + 1);
        }
        int fam = strchr(item, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(fam, item, a->e[a->n].addr) != 1)
            return es_diag_set(d, "allow", 0, 0, "'%s' is not an IP address", item);
        int maxb = fam == AF_INET ? 32 : 128;
        if (bits < 0)
            bits = maxb;
        if (bits > maxb)
            return es_diag_set(d, "allow", 0, 0, "prefix length %ld too long for '%s'", bits,
                               item);
        a->e[a->n].family = fam;
        a->e[a->n].bits = (int)bits;
        a->n++;
    }
    return 0;
}

static int allowed(const struct es_net_allow *al, int fam, const unsigned char *addr)
{
    if (!al)
        return 0;
    for (size_t i = 0; i < al->n; i++)
        if (al->e[i].family == fam && prefix_eq(addr, al->e[i].addr, al->e[i].bits))
            return 1;
    return 0;
}

static enum es_net_class class4(const unsigned char *b)
{
    if (b[0] == 0)
        return ES_NET_UNSPECIFIED;              /* 0.0.0.0/8 */
    if (b[0] == 127)
        return ES_NET_LOOPBACK;
    if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168))
        return ES_NET_PRIVATE;
    if (b[0] == 100 && (b[1] & 0xc0) == 64)
        return ES_NET_PRIVATE;                  /* 100.64/10 shared address space */
    if (b[0] == 169 && b[1] == 254)
        return ES_NET_LINK_LOCAL;
    if ((b[0] & 0xf0) == 224)
        return ES_NET_MULTICAST;
    if ((b[0] & 0xf0) == 240)
        return ES_NET_RESERVED;                 /* 240/4 and 255.255.255.255 */
    if (b[0] == 192 && b[1] == 0 && (b[2] == 0 || b[2] == 2))
        return ES_NET_RESERVED;                 /* 192.0.0/24 IETF, 192.0.2/24 TEST-NET-1 */
    if (b[0] == 198 && (b[1] & 0xfe) == 18)
        return ES_NET_RESERVED;                 /* 198.18/15 benchmarking */
    if ((b[0] == 198 && b[1] == 51 && b[2] == 100) || (b[0] == 203 && b[1] == 0 && b[2] == 113))
        return ES_NET_RESERVED;                 /* TEST-NET-2, TEST-NET-3 */
    return ES_NET_OK;
}

static enum es_net_class class6(const unsigned char *b, const struct es_net_allow *al)
{
    static const unsigned char zero[16];
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    const unsigned char *v4 = NULL;
    if (memcmp(b, zero, 15) == 0 && b[15] == 0)
        return ES_NET_UNSPECIFIED;
    if (memcmp(b, zero, 15) == 0 && b[15] == 1)
        return ES_NET_LOOPBACK;
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0 || memcmp(b, zero, 12) == 0)
        v4 = b + 12;                            /* mapped, NAT64, IPv4-compatible */
    else if (b[0] == 0x20 && b[1] == 0x02)
        v4 = b + 2;                             /* 6to4 */
    if (v4) {
        if (allowed(al, AF_INET, v4))
            return ES_NET_OK;
        return class4(v4);
    }
    if ((b[0] & 0xfe) == 0xfc)
        return ES_NET_PRIVATE;                  /* fc00::/7 (incl. fd00:ec2::254) */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return ES_NET_LINK_LOCAL;               /* fe80::/10 */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return ES_NET_RESERVED;                 /* fec0::/10 site-local */
    if (b[0] == 0xff)
        return ES_NET_MULTICAST;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return ES_NET_RESERVED;                 /* 2001:db8::/32 documentation */
    return ES_NET_OK;
}

enum es_net_class es_net_classify(const void *sa, const struct es_net_allow *allow)
{
    const struct sockaddr *s = sa;
    if (s->sa_family == AF_INET) {
        const unsigned char *b = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
        return allowed(allow, AF_INET, b) ? ES_NET_OK : class4(b);
    }
    if (s->sa_family == AF_INET6) {
        const unsigned char *b =
            (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        return allowed(allow, AF_INET6, b) ? ES_NET_OK : class6(b, allow);
    }
    return ES_NET_RESERVED;
}

static void addr_str(const struct sockaddr *sa, char *out, size_t n)
{
    const void *p = sa->sa_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (!inet_ntop(sa->sa_family, p, out, (socklen_t)n))
        snprintf(out, n, "?");
}

int es_net_check_url(const char *url, bool email, const struct es_net_allow *allow, bool resolve,
                     struct es_diag *d)
{
    int rc = ES_EINVAL;
    char *scheme = NULL, *host = NULL, *port = NULL;
    CURLU *u = curl_url();
    if (!u)
        return ES_ENOMEM;
    if (!url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        es_diag_set(d, NULL, 0, 0, "not a URL");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        es_diag_set(d, NULL, 0, 0, "URL without a host");
        goto out;
    }
    int ok_scheme = email ? (!strcmp(scheme, "smtp") || !strcmp(scheme, "smtps"))
                          : (!strcmp(scheme, "http") || !strcmp(scheme, "https"));
    if (!ok_scheme) {
        es_diag_set(d, NULL, 0, 0, "scheme '%s' not allowed (%s)", scheme,
                    email ? "smtp or smtps" : "http or https");
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    /* IP literals come bracketed for IPv6 */
    char h[256];
    snprintf(h, sizeof h, "%s", host);
    size_t hl = strlen(h);
    char *hp = h;
    if (hl > 2 && h[0] == '[' && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        hp = h + 1;
        char *zone = strchr(hp, '%');
        if (zone)
            *zone = '\0';
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = resolve ? 0 : AI_NUMERICHOST;
    int gai = getaddrinfo(hp, port, &hints, &res);
    if (gai != 0) {
        if (!resolve && (gai == EAI_NONAME)) {
            rc = 0; /* a name, not checked now: the connect-time check still applies */
            goto out;
        }
        es_diag_set(d, NULL, 0, 0, "cannot resolve '%s': %s", hp, gai_strerror(gai));
        goto out;
    }
    rc = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        enum es_net_class c = es_net_classify(ai->ai_addr, allow);
        if (c != ES_NET_OK) {
            char a[INET6_ADDRSTRLEN];
            addr_str(ai->ai_addr, a, sizeof a);
            es_diag_set(d, NULL, 0, 0, "'%s' resolves to %s, a %s address (not allow-listed)",
                        hp, a, es_net_class_name(c));
            rc = ES_EINVAL;
            break;
        }
    }
    freeaddrinfo(res);
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

/* ---- connect time ---- */

static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct es__alert_guard *g = ud;
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    enum es_net_class c = es_net_classify(&a->addr, g->allow);
    if (c != ES_NET_OK) {
        char s[INET6_ADDRSTRLEN];
        addr_str(&a->addr, s, sizeof s);
        snprintf(g->why, sizeof g->why, "refused to connect to %s: a %s address (not allow-listed)",
                 s, es_net_class_name(c));
        if (g->refused)
            atomic_fetch_add(g->refused, 1);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

void es__alert_guard_setup(CURL *e, struct es__alert_guard *g, bool email)
{
    g->why[0] = '\0';
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, g);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, email ? "smtp,smtps" : "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
}

/* ---- TLS ---- */

int es__alert_pem_certs(const char *s, size_t n)
{
    if (!s || n == 0 || n > INT32_MAX)
        return 0;
    BIO *b = BIO_new_mem_buf(s, (int)n);
    if (!b)
        return 0;
    int count = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        count++;
    }
    /* the end of the input is reported as an error too: anything else means garbage */
    unsigned long e = ERR_peek_last_error();
    if (count && e && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
        count = 0;
    ERR_clear_error();
    BIO_free(b);
    return count;
}

int es__alert_tls_setup(CURL *e, json_t *channel, bool email)
{
    const char *ca = json_string_value(json_object_get(channel, "tls_ca"));
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca && *ca) {
        struct curl_blob blob = {(void *)ca, strlen(ca), CURL_BLOB_COPY};
        if (curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK)
            return ES_ENOMEM;
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL); /* that CA only, not the system's too */
    }
    if (email)
        curl_easy_setopt(e, CURLOPT_USE_SSL, (long)(ca && *ca ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    if (email || (ca && *ca)) {
        /* a connection left open by another channel to the same server was secured (or not)
         * by that channel's rules: libcurl would reuse a plain SMTP connection for a channel
         * that requires TLS, or one verified against other CAs, so these get their own */
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    }
    return 0;
}
