/* API tokens: random, shown once, stored as SHA-256, compared in constant time. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "earshot/api.h"
#include "earshot/clock.h"
#include "earshot/store.h"
#include "http/api_int.h"

#define ID_BYTES 8
#define SECRET_BYTES 32

static const char *const role_names[] = {"", "agent", "manager", "admin"};

enum es_api_role es_api_role_parse(const char *name)
{
    for (int r = ES_ROLE_AGENT; name && r <= ES_ROLE_ADMIN; r++)
        if (strcmp(name, role_names[r]) == 0)
            return (enum es_api_role)r;
    return ES_ROLE_NONE;
}

const char *es_api_role_name(enum es_api_role r)
{
    return r >= ES_ROLE_AGENT && r <= ES_ROLE_ADMIN ? role_names[r] : "none";
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int fill_random(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return ES_EIO;
        got += (size_t)r;
    }
    return 0;
}

static int sha256(const char *s, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    return EVP_Digest(s, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : ES_ENOMEM;
}

bool es__api_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-'))
            return false;
    }
    return true;
}

int es_api_token_create(struct es_store *s, const char *role, const char *name, char *token,
                        size_t token_n, char *id, size_t id_n)
{
    if (es_api_role_parse(role) == ES_ROLE_NONE || !es__api_name_ok(name) || token_n < 100 ||
        id_n < 2 * ID_BYTES + 1)
        return ES_EINVAL;
    unsigned char rid[ID_BYTES], secret[SECRET_BYTES], digest[32];
    char sid[2 * ID_BYTES + 1], ssec[2 * SECRET_BYTES + 1];
    if (fill_random(rid, sizeof rid) || fill_random(secret, sizeof secret))
        return ES_EIO;
    hex(rid, sizeof rid, sid);
    hex(secret, sizeof secret, ssec);
    int rc = sha256(ssec, strlen(ssec), digest);
    if (rc)
        return rc;
    struct es_store_token t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "%s", sid);
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.role, sizeof t.role, "%s", role);
    hex(digest, sizeof digest, t.sha256);
    t.created_ms = es_clock_now_ms();
    rc = es_store_token_put(s, &t);
    if (rc)
        return rc;
    snprintf(token, token_n, "es_%s_%s", sid, ssec);
    snprintf(id, id_n, "%s", sid);
    OPENSSL_cleanse(secret, sizeof secret);
    OPENSSL_cleanse(ssec, sizeof ssec);
    return 0;
}

int es_api_token_list(struct es_store *s, json_t **out)
{
    return es_store_token_list(s, out);
}

int es_api_token_revoke(struct es_store *s, const char *id)
{
    return es_store_token_del(s, id);
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int es_api_token_verify(struct es_store *s, const char *token, struct es_api_identity *who)
{
    memset(who, 0, sizeof *who);
    /* es_<16 hex>_<64 hex> */
    const size_t idl = 2 * ID_BYTES, secl = 2 * SECRET_BYTES;
    if (!token || strlen(token) != 3 + idl + 1 + secl || strncmp(token, "es_", 3) != 0 ||
        token[3 + idl] != '_' || !all_hex(token + 3, idl) || !all_hex(token + 4 + idl, secl))
        return ES_ENOTFOUND;
    char id[2 * ID_BYTES + 1];
    memcpy(id, token + 3, idl);
    id[idl] = '\0';
    struct es_store_token t;
    int rc = es_store_token_get(s, id, &t);
    if (rc)
        return rc;
    unsigned char digest[32];
    char dhex[65];
    rc = sha256(token + 4 + idl, secl, digest);
    if (rc)
        return rc;
    hex(digest, sizeof digest, dhex);
    if (strlen(t.sha256) != 64 || CRYPTO_memcmp(dhex, t.sha256, 64) != 0)
        return ES_ENOTFOUND;
    enum es_api_role role = es_api_role_parse(t.role);
    if (role == ES_ROLE_NONE)
        return ES_ENOTFOUND;
    snprintf(who->id, sizeof who->id, "%s", t.id);
    snprintf(who->name, sizeof who->name, "%s", t.name);
    who->role = role;
    return 0;
}
