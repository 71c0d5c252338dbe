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
 *
 * The Chinese step is per character: es_norm_new asks OpenCC to convert each
 * Han code point (U+3400..U+9FFF, U+F900..U+FAFF) on its own and keeps the
 * one-to-one answers. OpenCC's phrase rules are not applied to posts: every
 * output character must map back to one input character for the offsets, the
 * matcher needs the same per-character transform on rules and posts, and the
 * character table already gives the lexicon's simplified forms.
 */
struct es_norm *es_norm_new(const char *opencc_config, const char **warn);
void es_norm_free(struct es_norm *n);

/*
 * Per-thread output, reused across posts. For output byte i, the source
 * character that produced it spans [map[i], map_end[i]) of the input: for
 * "&amp;" that is the whole reference, for a full-width letter its 3 bytes,
 * for the single space that stands for a run of white space the whole run.
 * Both arrays are non-decreasing. Characters that produce nothing (zero-width,
 * collapsed or trimmed space) have no entry.
 */
struct es_norm_out {
    char *text; /* normalised, NUL-terminated; owned */
    size_t len;
    uint32_t *map; /* len + 1 entries: map[i] = original byte offset; map[len] = original length */
    size_t alloc;  /* bytes of room in text (and entries in the maps), not counting the last */
    size_t cap;    /* max input length accepted (ES_ELIMIT past it) */
    /* len + 1 entries: map_end[i] = original end offset of the character that produced byte i;
     * map_end[len] = original length. Owned. */
    uint32_t *map_end;
};

/* The cap es_norm_out_init uses when given 0. */
#define ES_NORM_DEFAULT_CAP ((size_t)1 << 20)

/* es_norm_out_init: an empty output that accepts inputs up to cap bytes (0: ES_NORM_DEFAULT_CAP;
 * never more than UINT32_MAX / 4, so offsets fit the maps). Allocates nothing. */
void es_norm_out_init(struct es_norm_out *o, size_t cap);
/* es_norm_out_cleanup frees the buffers; accepts a zeroed struct. */
void es_norm_out_cleanup(struct es_norm_out *o);

/*
 * es_norm_text normalises len bytes of s (any bytes) into o, replacing what o
 * held. 0, ES_ENOMEM or ES_ELIMIT (len > o->cap); on error o->len is 0. The
 * output is at most 3 times as long as the input (an invalid byte becomes
 * U+FFFD). A character decoded from an entity goes through the other steps
 * ("&#xFF21;" gives "a", "&nbsp;" a space) but is not decoded again ("&amp;lt;"
 * gives "&lt;"). Case folding is the simple lower-case mapping ("İ" gives "i")
 * plus final sigma to sigma. Text without '&' is a fixed point: normalising
 * the output again changes nothing.
 */
int es_norm_text(const struct es_norm *n, const char *s, size_t len, struct es_norm_out *o);

/*
 * es_norm_span maps a normalised byte range [start, end) back to the
 * original: *ostart is the offset of the first contributing character,
 * *oend the end of the last one (map_end[end - 1]). Offsets past o->len are
 * clamped and start > end is taken as end; an empty range maps to the empty
 * range at map[start].
 */
void es_norm_span(const struct es_norm_out *o, size_t start, size_t end, size_t *ostart,
                  size_t *oend);

/* es_norm_string: normalise a NUL-terminated string into a new es_malloc'ed one (rules use it
 * on their entries); NULL on ES_ENOMEM. */
char *es_norm_string(const struct es_norm *n, const char *s);

#endif
