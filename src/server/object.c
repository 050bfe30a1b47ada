/*
 * object.c - string objects in Redis's three encodings (see db.h), and the
 * access bookkeeping the eviction policies read: an LRU clock in seconds and
 * a logarithmic LFU counter that decays by one per lfu-decay-time minutes.
 */
#include "db.h"
#include "alloc.h"
#include "hrtime.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Clocks: the LRU clock counts seconds, the LFU one minutes (16 bits, wraps
 * about every 45 days, as Redis's does). */
static uint32_t lru_clock(void)
{
    return (uint32_t)(hr_mono_ms() / 1000);
}

static uint16_t lfu_minutes(void)
{
    return (uint16_t)((hr_mono_ms() / 60000) & 0xffff);
}

static hr_obj *obj_header(hr_server *s, size_t extra)
{
    hr_obj *o = hr_malloc(sizeof(*o) + extra);
    o->type = HR_OBJ_STRING;
    o->lfu = HR_LFU_INIT;
    o->lfu_min = lfu_minutes();
    o->atime = lru_clock();
    o->len = 0;
    o->cap = 0;
    (void)s;
    return o;
}

static hr_obj *new_embstr(hr_server *s, const char *p, size_t len)
{
    hr_obj *o = obj_header(s, len + 1);
    o->enc = HR_ENC_EMBSTR;
    o->v.ptr = (char *)(o + 1);
    if (len) memcpy(o->v.ptr, p, len);
    o->v.ptr[len] = '\0';
    o->len = len;
    return o;
}

hr_obj *hr_obj_raw(hr_server *s, const char *p, size_t len)
{
    hr_obj *o = obj_header(s, 0);
    o->enc = HR_ENC_RAW;
    o->cap = len + 1;
    o->v.ptr = hr_malloc(o->cap);
    if (len) memcpy(o->v.ptr, p, len);
    o->v.ptr[len] = '\0';
    o->len = len;
    return o;
}

hr_obj *hr_obj_string(hr_server *s, const char *p, size_t len)
{
    return len <= HR_EMBSTR_MAX ? new_embstr(s, p, len) : hr_obj_raw(s, p, len);
}

hr_obj *hr_obj_from_ll(hr_server *s, long long v)
{
    hr_obj *o = obj_header(s, 0);
    o->enc = HR_ENC_INT;
    o->v.ll = v;
    return o;
}

hr_obj *hr_obj_string_try_int(hr_server *s, const char *p, size_t len)
{
    long long v;
    if (len <= 20 && hr_str2ll(p, len, &v)) return hr_obj_from_ll(s, v);
    return hr_obj_string(s, p, len);
}

void hr_obj_free(hr_obj *o)
{
    if (!o) return;
    if (o->enc == HR_ENC_RAW) hr_free(o->v.ptr);
    hr_free(o);
}

const char *hr_obj_bytes(const hr_obj *o, char *buf, size_t *len)
{
    if (o->enc == HR_ENC_INT) {
        *len = hr_ll2str(buf, o->v.ll);
        return buf;
    }
    *len = o->len;
    return o->v.ptr;
}

size_t hr_obj_strlen(const hr_obj *o)
{
    if (o->enc == HR_ENC_INT) {
        char buf[24];
        return hr_ll2str(buf, o->v.ll);
    }
    return o->len;
}

char *hr_obj_make_raw(hr_obj *o, size_t min_cap)
{
    if (o->enc == HR_ENC_RAW) {
        if (o->cap < min_cap + 1) {
            /* Grow geometrically below 1 MB, then by 1 MB steps: appends in
             * a loop stay amortised O(1) without doubling huge values. */
            size_t want = min_cap + 1;
            size_t grown = o->cap < (1u << 20) ? o->cap * 2 : o->cap + (1u << 20);
            if (grown > want) want = grown;
            o->v.ptr = hr_realloc(o->v.ptr, want);
            o->cap = want;
        }
        return o->v.ptr;
    }
    char tmp[24];
    size_t len;
    const char *p = hr_obj_bytes(o, tmp, &len);
    size_t cap = (min_cap > len ? min_cap : len) + 1;
    char *buf = hr_malloc(cap);
    memcpy(buf, p, len);
    buf[len] = '\0';
    /* An EMBSTR's bytes stay allocated with the header (unused from now on);
     * they are released with the object. */
    o->enc = HR_ENC_RAW;
    o->v.ptr = buf;
    o->len = len;
    o->cap = cap;
    return buf;
}

bool hr_obj_get_ll(const hr_obj *o, long long *v)
{
    if (o->enc == HR_ENC_INT) {
        *v = o->v.ll;
        return true;
    }
    return hr_str2ll(o->v.ptr, o->len, v);
}

const char *hr_obj_encoding_name(const hr_obj *o)
{
    switch (o->enc) {
    case HR_ENC_INT: return "int";
    case HR_ENC_EMBSTR: return "embstr";
    default: return "raw";
    }
}

void hr_reply_obj(hr_conn *c, const hr_obj *o)
{
    if (o->enc == HR_ENC_INT)
        hr_reply_bulk_ll(c, o->v.ll);
    else
        hr_reply_bulk(c, o->v.ptr, o->len);
}

/* --- access bookkeeping ------------------------------------------------- */

/* Elapsed minutes on the 16-bit clock, wrap-around aware. */
static unsigned lfu_elapsed(uint16_t then)
{
    uint16_t now = lfu_minutes();
    return now >= then ? (unsigned)(now - then) : (unsigned)(65535 - then + now);
}

unsigned hr_obj_lfu_decayed(hr_server *s, hr_obj *o)
{
    unsigned counter = o->lfu;
    int period = s->cfg.lfu_decay_time;
    if (period > 0) {
        unsigned steps = lfu_elapsed(o->lfu_min) / (unsigned)period;
        counter = steps > counter ? 0 : counter - steps;
    }
    return counter;
}

/* The counter grows with probability 1 / ((counter - INIT) * factor + 1),
 * so it approximates the logarithm of the access count. */
static uint8_t lfu_increment(hr_server *s, uint8_t counter)
{
    if (counter == 255) return counter;
    double base = (double)counter - HR_LFU_INIT;
    if (base < 0) base = 0;
    double p = 1.0 / (base * s->cfg.lfu_log_factor + 1);
    double r = (double)random() / ((double)RAND_MAX + 1.0);
    return r < p ? (uint8_t)(counter + 1) : counter;
}

void hr_obj_touch(hr_server *s, hr_obj *o)
{
    if (hr_policy_is_lfu(s->cfg.maxmemory_policy)) {
        unsigned counter = hr_obj_lfu_decayed(s, o);
        o->lfu = lfu_increment(s, (uint8_t)counter);
        o->lfu_min = lfu_minutes();
    } else {
        o->atime = lru_clock();
    }
}

long long hr_obj_idle_seconds(const hr_server *s, const hr_obj *o)
{
    (void)s;
    uint32_t now = lru_clock();
    return now >= o->atime ? (long long)(now - o->atime) : 0;
}
