/*
 * norm: text normalisation for matching.
 *
 * One lexicon must cover simplified and traditional Chinese, full-width and
 * half-width forms, upper and lower case, and text with zero-width or
 * HTML-entity noise. es_norm_text rewrites a post's text into a canonical
 * form and keeps, for every output byte, the offset of the input byte it
 * came from, so a match on the normalised text maps back to a span of the
 * original:
 *
 *   original  "ＳＴＡＲＢＵＣＫＳ 門市&amp;服務\u200b太慢"
 *   normalised "starbucks 门市&服务太慢"
 *   map[i]     offset in the original of the character that produced byte i
 *
 * Steps, in one pass: HTML entities decoded (&amp; &#x4E00; ...), full-width
 * ASCII to half-width (U+FF01..FF5E, U+3000), case folding (ASCII, Latin-1,
 * Latin Extended-A, Greek, Cyrillic), traditional to simplified Chinese by a
 * per-character table built from OpenCC's t2s dictionary at load time,
 * zero-width characters dropped (U+200B..200D, U+2060, U+FEFF, U+00AD,
 * variation selectors), runs of white space (any Unicode space, newlines,
 * tabs) collapsed to one ASCII space and trimmed, invalid UTF-8 replaced by
 * U+FFFD. The output is valid UTF-8.
 *
 * The table (struct es_norm) is built once and shared read-only between
 * threads; struct es_norm_out is per thread and reused across posts.
 */
#ifndef ES_NORM_H
#define ES_NORM_H

#include <stddef.h>
#include <stdint.h>

struct es_norm;

/*
 * es_norm_new builds the tables. opencc_config is the OpenCC config to take
 * the traditional-to-simplified mapping from (NULL: "t2s.json"). When OpenCC
 * or its data is missing, *warn (if not NULL) gets a static message and the
 * table is built without Chinese conversion. NULL only on ES_ENOMEM.
 */
struct es_norm *es_norm_new(const char *opencc_config, const char **warn);
void es_norm_free(struct es_norm *n);

struct es_norm_out {
    char *text;        /* normalised, NUL-terminated; owned */
    size_t len;
    uint32_t *map;     /* len + 1 entries: map[i] = original byte offset; map[len] = original length */
    size_t alloc;
    size_t cap;        /* max input length accepted (ES_ELIMIT past it) */
};

void es_norm_out_init(struct es_norm_out *o, size_t cap);
void es_norm_out_cleanup(struct es_norm_out *o);

/* es_norm_text normalises n bytes of s into o. 0, ES_ENOMEM or ES_ELIMIT. */
int es_norm_text(const struct es_norm *n, const char *s, size_t len, struct es_norm_out *o);

/*
 * es_norm_span maps a normalised byte range [start, end) back to the
 * original: *ostart is the offset of the first contributing character,
 * *oend the end of the last one.
 */
void es_norm_span(const struct es_norm_out *o, size_t start, size_t end, size_t *ostart,
                  size_t *oend);

/* es_norm_string: normalise a NUL-terminated string into a new es_malloc'ed one (rules use it
 * on their entries); NULL on ES_ENOMEM. */
char *es_norm_string(const struct es_norm *n, const char *s);

#endif
