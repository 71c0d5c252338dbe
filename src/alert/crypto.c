/* HMAC-SHA256, SHA-256, hex, base64 and percent-encoding, on OpenSSL's libcrypto. */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "alert/internal.h"

int es__alert_hmac_sha256(const void *key, size_t kn, const void *msg, size_t mn,
                          unsigned char *out)
{
    unsigned int len = 0;
    static const unsigned char empty[1];
    if (!HMAC(EVP_sha256(), key, (int)kn, mn ? msg : empty, mn, out, &len) || len != 32)
        return ES_EIO;
    return 0;
}

void es__alert_hex(const unsigned char *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void es__alert_b64(const unsigned char *p, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

int es__alert_urlenc(struct es_buf *b, const char *s)
{
    static const char d[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc;
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            rc = es_buf_putc(b, (char)*p);
        } else {
            char e[3] = {'%', d[*p >> 4], d[*p & 15]};
            rc = es_buf_append(b, e, 3);
        }
        if (rc)
            return rc;
    }
    return 0;
}

void es__alert_idem_key(char out[33], const char *a, const char *b, const char *c)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    unsigned int len = 0;
    if (x && EVP_DigestInit_ex(x, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(x, a, strlen(a) + 1) == 1 && EVP_DigestUpdate(x, b, strlen(b) + 1) == 1 &&
        EVP_DigestUpdate(x, c, strlen(c)) == 1 && EVP_DigestFinal_ex(x, md, &len) == 1) {
        es__alert_hex(md, 16, out);
    } else {
        snprintf(out, 33, "%s", "00000000000000000000000000000000");
    }
    EVP_MD_CTX_free(x);
}
