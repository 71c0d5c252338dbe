/*
 * es_embed: a build-time tool that turns the console's files into a C file
 * defining the table es_http_asset_find searches (see http_int.h):
 *
 *   es-embed OUT.c ROOT FILE...
 *
 * Each FILE under ROOT becomes "/<path below ROOT>" with a content type from
 * its extension, its bytes, a gzip -9 variant when that is smaller, and a
 * strong ETag (the first 128 bits of its SHA-256, so it changes with the
 * content and nothing else). Hidden files and editor backups are skipped; the
 * table is sorted by path. With no FILE the table is empty.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#define MAX_FILE_BYTES (32u << 20)

struct entry {
    char *path; /* "/app.js" */
    const char *type;
    unsigned char *data, *gz;
    size_t len, gz_len;
    char etag[40];
};

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
    };
    size_t pl = strlen(path);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t el = strlen(types[i].ext);
        if (pl > el && strcmp(path + pl - el, types[i].ext) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

static int read_file(const char *file, unsigned char **out, size_t *len)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "es-embed: %s: %s\n", file, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            unsigned char *nb = cap * 2 > MAX_FILE_BYTES + 1 ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                fprintf(stderr, "es-embed: %s: larger than %u bytes\n", file, MAX_FILE_BYTES);
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        if (bad)
            fprintf(stderr, "es-embed: %s: read error\n", file);
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* gzip_9: the gzip member of data at level 9 (mtime 0: reproducible). */
static int gzip_9(const unsigned char *data, size_t len, unsigned char **out, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&z, (uLong)len) + 32;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

static int make_etag(const unsigned char *data, size_t len, char *etag, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
        return -1;
    char *o = etag;
    *o++ = '"';
    for (int i = 0; i < 16; i++)
        o += snprintf(o, n - (size_t)(o - etag), "%02x", md[i]);
    *o++ = '"';
    *o = '\0';
    return 0;
}

/* skip: hidden files (any component starting with '.') and backups. */
static int skip(const char *rel)
{
    size_t n = strlen(rel);
    if (n == 0 || rel[n - 1] == '~')
        return 1;
    for (const char *p = rel; *p; p++)
        if (*p == '.' && (p == rel || p[-1] == '/'))
            return 1;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

/* put_str writes s as a C string literal, escaping anything unusual. */
static void put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\' || *p < 0x20 || *p >= 0x7f || *p == '?')
            fprintf(f, "\\%03o", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void put_bytes(FILE *f, const char *name, const unsigned char *d, size_t n)
{
    fprintf(f, "static const unsigned char %s[] = {", name);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%u,", i % 24 == 0 ? "\n    " : "", d[i]);
    if (n == 0)
        fputs("0", f);
    fputs("\n};\n", f);
}

static int write_table(const char *out, struct entry *e, size_t n)
{
    size_t tl = strlen(out) + 8;
    char *tmp = malloc(tl);
    if (!tmp)
        return -1;
    snprintf(tmp, tl, "%s.tmp", out);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "es-embed: %s: %s\n", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    fputs("/* Generated by es-embed from src/console at build time; do not edit. */\n"
          "#include <stddef.h>\n\n#include \"earshot/http.h\"\n\n"
          "extern const struct es_http_asset es__http_assets[];\n"
          "extern const size_t es__http_asset_count;\n\n",
          f);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "data_%zu", i);
        put_bytes(f, name, e[i].data, e[i].len);
        if (e[i].gz) {
            snprintf(name, sizeof name, "gzip_%zu", i);
            put_bytes(f, name, e[i].gz, e[i].gz_len);
        }
    }
    fputs("\nconst struct es_http_asset es__http_assets[] = {\n", f);
    for (size_t i = 0; i < n; i++) {
        fputs("    {", f);
        put_str(f, e[i].path);
        fputs(", ", f);
        put_str(f, e[i].type);
        fprintf(f, ", data_%zu, %zu, ", i, e[i].len);
        if (e[i].gz)
            fprintf(f, "gzip_%zu, %zu, ", i, e[i].gz_len);
        else
            fputs("NULL, 0, ", f);
        put_str(f, e[i].etag);
        fputs("},\n", f);
    }
    if (n == 0)
        fputs("    {NULL, NULL, NULL, 0, NULL, 0, NULL},\n", f);
    fprintf(f, "};\nconst size_t es__http_asset_count = %zu;\n", n);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, out) != 0) {
        fprintf(stderr, "es-embed: cannot write %s\n", out);
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: es-embed OUT.c ROOT [FILE...]\n");
        return 2;
    }
    const char *root = argv[2];
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        rl--;
    struct entry *e = calloc((size_t)argc, sizeof *e);
    if (!e)
        return 1;
    size_t n = 0;
    int rc = 0;
    for (int i = 3; i < argc && rc == 0; i++) {
        const char *file = argv[i];
        if (strncmp(file, root, rl) != 0 || file[rl] != '/') {
            fprintf(stderr, "es-embed: %s is not under %s\n", file, root);
            rc = 1;
            break;
        }
        const char *rel = file + rl + 1;
        if (skip(rel))
            continue;
        struct entry *x = &e[n];
        x->path = malloc(strlen(rel) + 2);
        if (!x->path) {
            rc = 1;
            break;
        }
        x->path[0] = '/';
        strcpy(x->path + 1, rel);
        n++;
        x->type = content_type(x->path);
        if (read_file(file, &x->data, &x->len) != 0 ||
            make_etag(x->data, x->len, x->etag, sizeof x->etag) != 0) {
            rc = 1;
            break;
        }
        if (gzip_9(x->data, x->len, &x->gz, &x->gz_len) != 0) {
            fprintf(stderr, "es-embed: %s: gzip failed\n", file);
            rc = 1;
            break;
        }
        if (x->gz_len >= x->len) {
            free(x->gz);
            x->gz = NULL;
            x->gz_len = 0;
        }
    }
    if (rc == 0) {
        qsort(e, n, sizeof *e, cmp_entry);
        for (size_t i = 1; i < n; i++)
            if (strcmp(e[i - 1].path, e[i].path) == 0) {
                fprintf(stderr, "es-embed: %s given twice\n", e[i].path);
                rc = 1;
            }
    }
    if (rc == 0 && write_table(argv[1], e, n) != 0)
        rc = 1;
    for (size_t i = 0; i < n; i++) {
        free(e[i].path);
        free(e[i].data);
        free(e[i].gz);
    }
    free(e);
    return rc;
}
