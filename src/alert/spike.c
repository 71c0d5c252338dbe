/*
 * The spike detector: pure arithmetic on counts per minute, no I/O.
 *
 *   minutes ─> [ ......... baseline (12 h) ......... | recent (1 h) ]
 *                          base_sum, and an EWMA        win_sum
 *
 * Expected = max(baseline mean, EWMA of the minutes that left the recent
 * window) × window. A spike starts when the recent count is both ratio_min
 * times the expected one and exceeds it by excess_min (so a quiet series
 * going from 1 to 3 is no spike); it fires once, and the detector re-arms
 * only once the recent count fell below rearm_ratio × expected (hysteresis),
 * so a storm that stays high is one alert, not one per minute.
 */
#include <math.h>
#include <string.h>

#include "earshot/alert.h"
#include "earshot/alloc.h"

static void defaults(struct es_spike_opts *o, const struct es_spike_opts *in)
{
    if (in)
        *o = *in;
    else
        memset(o, 0, sizeof *o);
    if (o->window_min <= 0)
        o->window_min = 60;
    if (o->baseline_min <= 0)
        o->baseline_min = 720;
    if (o->sensitivity <= 0)
        o->sensitivity = 1.0;
    if (o->ewma_alpha <= 0 || o->ewma_alpha > 1)
        o->ewma_alpha = 0.005;
}

int es_spike_init(struct es_spike *sp, const struct es_spike_opts *o)
{
    memset(sp, 0, sizeof *sp);
    defaults(&sp->o, o);
    sp->ring_n = (size_t)sp->o.window_min + (size_t)sp->o.baseline_min;
    sp->ring = es_calloc(sp->ring_n, sizeof *sp->ring);
    if (!sp->ring)
        return ES_ENOMEM;
    sp->last_minute = -1;
    return 0;
}

void es_spike_cleanup(struct es_spike *sp)
{
    if (!sp)
        return;
    es_free(sp->ring);
    sp->ring = NULL;
}

/* push one minute: the oldest leaves the baseline, the minute window_min back moves from the
 * recent window into the baseline */
static void push(struct es_spike *sp, double c)
{
    size_t w = (size_t)sp->o.window_min;
    if (sp->filled == sp->ring_n)
        sp->base_sum -= sp->ring[sp->pos]; /* the oldest, about to be overwritten */
    if (sp->filled >= w) {
        size_t mv = (sp->pos + sp->ring_n - w) % sp->ring_n;
        double m = sp->ring[mv];
        sp->win_sum -= m;
        sp->base_sum += m;
        if (!sp->ewma_init) {
            sp->ewma = m;
            sp->ewma_init = true;
        } else {
            sp->ewma += sp->o.ewma_alpha * (m - sp->ewma);
        }
    }
    sp->ring[sp->pos] = c;
    sp->win_sum += c;
    sp->pos = (sp->pos + 1) % sp->ring_n;
    if (sp->filled < sp->ring_n)
        sp->filled++;
}

void es_spike_feed(struct es_spike *sp, int64_t minute, double count, struct es_spike_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (!sp->ring || (sp->last_minute >= 0 && minute <= sp->last_minute))
        return;
    if (count < 0 || !isfinite(count))
        count = 0;
    if (sp->last_minute >= 0) {
        int64_t gap = minute - sp->last_minute - 1;
        if (gap > (int64_t)sp->ring_n)
            gap = (int64_t)sp->ring_n;
        for (int64_t i = 0; i < gap; i++)
            push(sp, 0);
    }
    sp->last_minute = minute;
    push(sp, count);
    /* floating sums drift; clamp the tiny negatives */
    if (sp->win_sum < 0)
        sp->win_sum = 0;
    if (sp->base_sum < 0)
        sp->base_sum = 0;

    size_t w = (size_t)sp->o.window_min;
    size_t base_n = sp->filled > w ? sp->filled - w : 0;
    v->rate = sp->win_sum;
    if (base_n < w || sp->filled < w)
        return; /* not enough history to judge (at least one window of baseline) */
    double per_min = sp->base_sum / (double)base_n;
    if (sp->ewma_init && sp->ewma > per_min)
        per_min = sp->ewma;
    double expected = per_min * (double)w;
    v->baseline = expected;
    double floor_expected = expected < 1.0 ? 1.0 : expected;
    v->ratio = v->rate / floor_expected;
    double s = sp->o.sensitivity;
    double ratio_min = 1.0 + 1.0 / s;
    /* the excess must also be well outside Poisson noise: 4 sigma, and at least 20 */
    double excess_min = sp->o.min_excess > 0 ? sp->o.min_excess : 20.0 / s;
    double noise = 4.0 * sqrt(floor_expected) / s;
    if (noise > excess_min)
        excess_min = noise;
    double excess = v->rate - expected;
    if (!sp->fired) {
        if (v->ratio >= ratio_min && excess >= excess_min) {
            sp->fired = true;
            v->fire = true;
        }
    } else {
        /* re-arm halfway between "normal" and the firing ratio, never at or above it */
        double rearm = 1.0 + (ratio_min - 1.0) / 2.0;
        if (sp->o.rearm_ratio > 1.0 && sp->o.rearm_ratio < ratio_min)
            rearm = sp->o.rearm_ratio;
        if (v->rate < rearm * expected || v->rate < 1.0)
            sp->fired = false;
    }
}
