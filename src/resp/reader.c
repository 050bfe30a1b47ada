/*
 * reader.c - incremental RESP2/RESP3 reply reader (hr_reader), the default
 * hr_reply builders and hr_resp_frame_len; see resp.h.
 *
 * Design (after hiredis's reader, own code): scan_item() recognises one
 * item - a scalar, or the header of an aggregate - at an offset and checks it
 * against the limits before anything is built; hr_reader_get() keeps an
 * explicit stack of open aggregates (no recursion) and hands each item to the
 * constructor callbacks; hr_resp_frame_len() walks the same items with a
 * counter of pending elements and builds nothing.
 *
 * Grammar accepted (strict; anything else is a sticky protocol error):
 *  - lines end with "\r\n"; the first '\r' must be followed by '\n'.
 *  - + - ( lines at most max_bulk bytes; '(' is -?[0-9]+.
 *  - : integers, and every length/count, are strict (hr_str2ll): no '+',
 *    no leading zeros, no "-0", no spaces, 64-bit range.
 *  - , doubles: [+-]?[0-9]+(.[0-9]+)?([eE][+-]?[0-9]+)?, or inf, +inf, -inf,
 *    nan, -nan; at most HR_DOUBLE_LINE_MAX bytes. Values beyond the double
 *    range become +-inf (strtod).
 *  - # is exactly 't' or 'f'; _ is an empty line.
 *  - $ = ! lengths 0..max_bulk, payload followed by "\r\n"; "$-1" is NIL (only
 *    '$'). '=' payloads are at least 4 bytes with ':' at offset 3.
 *  - * ~ % | > counts 0..max_elements (maps and attributes: pairs, and
 *    2*pairs <= max_elements); "*-1" is NIL (only '*'). Streamed RESP3
 *    aggregates and strings ("$?", "*?") are not supported.
 *  - an aggregate may be opened only when fewer than max_depth aggregates
 *    are open (max_depth 1: "*1\r\n:1\r\n" is fine, "*1\r\n*0\r\n" is not).
 *
 * Attributes ('|'): at the top level an attribute is delivered as a reply of
 * its own (type HR_RESP_ATTR, 2*n elements), and the value it annotates is
 * the next reply; callers that match replies to requests skip ATTR replies.
 * Inside an aggregate, an attribute is parsed and built like any value
 * (limits apply; its task has no parent) and then freed with free_obj: it is
 * not counted as an element of the aggregate. hr_resp_frame_len follows the
 * same rule, so it cuts a stream into exactly the replies the reader
 * delivers.
 *
 * Callbacks: create_string gets STRING, ERROR, BULK, VERB, BIGNUM and
 * BLOBERR (t->type tells which; for VERB, s is the whole "fmt:payload"),
 * create_array gets ARRAY, MAP, SET, ATTR and PUSH with the child count
 * (2*pairs for maps), create_nil gets "$-1", "*-1" and "_". A NULL callback
 * builds nothing: a non-NULL placeholder object is used instead (never passed
 * to free_obj). t->idx saturates at INT_MAX; t->privdata is always NULL.
 *
 * The default builders allocate an aggregate's element array for at most
 * HR_REPLY_PREALLOC entries and grow it as children arrive, so a declared
 * count costs memory only when the elements really come; while a reply is
 * being built, its `elements` is the number of children attached so far.
 */
#include "resp.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "util.h"

#define HR_DOUBLE_LINE_MAX 512
#define HR_REPLY_PREALLOC 1024
/* Longest numeric header line: "-9223372036854775808". */
#define HR_NUM_LINE_MAX 20

/* ---- item scanner ------------------------------------------------------------ */

typedef struct scan_lim {
    long long max_bulk;
    long long max_elements;
} scan_lim;

typedef struct item {
    hr_resp_type type;
    bool agg;      /* aggregate header (not a nil) */
    const char *s; /* line text / bulk payload */
    size_t slen;
    long long n; /* INTEGER value, BOOL 0/1, aggregate children (2*pairs) */
    double d;    /* DOUBLE */
    size_t next; /* offset just past the item (past the header: aggregates) */
} item;

enum { SCAN_ERR = -1, SCAN_AGAIN = 0, SCAN_OK = 1 };

static bool valid_bignum(const char *s, size_t n)
{
    size_t i = 0;
    if (n > 0 && s[0] == '-') i = 1;
    if (i == n) return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

static size_t digits(const char *s, size_t i, size_t n)
{
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

/* Parses a RESP3 double (see the grammar above) into *out. */
static bool parse_double(const char *s, size_t n, double *out)
{
    char tmp[HR_DOUBLE_LINE_MAX + 1];
    if (n == 0 || n > HR_DOUBLE_LINE_MAX) return false;
    size_t i = 0;
    bool neg = false;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    if (n - i == 3 && memcmp(s + i, "inf", 3) == 0) {
        *out = neg ? -HUGE_VAL : HUGE_VAL;
        return true;
    }
    if (n - i == 3 && memcmp(s + i, "nan", 3) == 0 && s[0] != '+') {
        *out = neg ? -NAN : NAN;
        return true;
    }
    size_t j = digits(s, i, n);
    if (j == i) return false;
    if (j < n && s[j] == '.') {
        size_t k = digits(s, j + 1, n);
        if (k == j + 1) return false;
        j = k;
    }
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        j++;
        if (j < n && (s[j] == '+' || s[j] == '-')) j++;
        size_t k = digits(s, j, n);
        if (k == j) return false;
        j = k;
    }
    if (j != n) return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    *out = strtod(tmp, NULL);
    return true;
}

static int scan_fail(char *err, size_t errlen, const char *msg, int c)
{
    if (err) {
        if (c < 0)
            snprintf(err, errlen, "Protocol error: %s", msg);
        else if (c >= 0x20 && c < 0x7f)
            snprintf(err, errlen, "Protocol error: got \"%c\" as reply type byte", c);
        else
            snprintf(err, errlen, "Protocol error: got \"\\x%02x\" as reply type byte", c);
    }
    return SCAN_ERR;
}
#define FAIL(msg) scan_fail(err, errlen, msg, -1)

/* Recognises the item at buf[pos..len). *scan (may be NULL) holds how many
 * bytes after the type byte were already searched for '\r' by an earlier,
 * incomplete call for the same item. Returns SCAN_OK (fills *it),
 * SCAN_AGAIN or SCAN_ERR (err receives the text when not NULL). */
static int scan_item(const char *buf, size_t len, size_t pos, size_t *scan, const scan_lim *lim,
                     item *it, char *err, size_t errlen)
{
    if (pos >= len) return SCAN_AGAIN;
    int c = (unsigned char)buf[pos];
    size_t maxline;
    const char *toolong;
    switch (c) {
    case '+':
    case '-':
    case '(':
        maxline = (size_t)lim->max_bulk;
        toolong = "line too long";
        break;
    case ',':
        maxline = HR_DOUBLE_LINE_MAX;
        toolong = "bad double value";
        break;
    case '#':
        maxline = 1;
        toolong = "bad bool value";
        break;
    case '_':
        maxline = 0;
        toolong = "bad nil value";
        break;
    case ':':
        maxline = HR_NUM_LINE_MAX;
        toolong = "bad integer value";
        break;
    case '$':
    case '=':
    case '!':
        maxline = HR_NUM_LINE_MAX;
        toolong = "bad bulk length";
        break;
    case '*':
    case '%':
    case '~':
    case '|':
    case '>':
        maxline = HR_NUM_LINE_MAX;
        toolong = "bad aggregate length";
        break;
    default: return scan_fail(err, errlen, NULL, c);
    }

    const char *line = buf + pos + 1;
    size_t avail = len - pos - 1;
    size_t from = scan && *scan <= avail ? *scan : 0;
    const char *cr = memchr(line + from, '\r', avail - from);
    if (!cr) {
        if (avail > maxline) return FAIL(toolong);
        if (scan) *scan = avail;
        return SCAN_AGAIN;
    }
    size_t ll = (size_t)(cr - line);
    if (ll > maxline) return FAIL(toolong);
    if (scan) *scan = ll;
    if (ll + 1 >= avail) return SCAN_AGAIN; /* the '\n' is not there yet */
    if (cr[1] != '\n') return FAIL("bad line terminator");
    size_t after = pos + 1 + ll + 2;

    it->agg = false;
    it->s = line;
    it->slen = ll;
    it->n = 0;
    it->next = after;
    long long n;
    switch (c) {
    case '+': it->type = HR_RESP_STRING; return SCAN_OK;
    case '-': it->type = HR_RESP_ERROR; return SCAN_OK;
    case '(':
        if (!valid_bignum(line, ll)) return FAIL("bad bignum value");
        it->type = HR_RESP_BIGNUM;
        return SCAN_OK;
    case ',':
        if (!parse_double(line, ll, &it->d)) return FAIL("bad double value");
        it->type = HR_RESP_DOUBLE;
        return SCAN_OK;
    case '#':
        if (ll != 1 || (line[0] != 't' && line[0] != 'f')) return FAIL("bad bool value");
        it->type = HR_RESP_BOOL;
        it->n = line[0] == 't';
        return SCAN_OK;
    case '_': it->type = HR_RESP_NIL; return SCAN_OK;
    case ':':
        if (!hr_str2ll(line, ll, &it->n)) return FAIL("bad integer value");
        it->type = HR_RESP_INTEGER;
        return SCAN_OK;
    case '$':
    case '=':
    case '!':
        if (!hr_str2ll(line, ll, &n)) return FAIL("bad bulk length");
        if (n == -1 && c == '$') {
            it->type = HR_RESP_NIL;
            return SCAN_OK;
        }
        if (n < 0 || n > lim->max_bulk) return FAIL("bulk length out of range");
        if (c == '=' && n < 4) return FAIL("verbatim string too short");
        if ((size_t)n > len - after || len - after - (size_t)n < 2) return SCAN_AGAIN;
        if (buf[after + n] != '\r' || buf[after + n + 1] != '\n')
            return FAIL("bad bulk string terminator");
        if (c == '=' && buf[after + 3] != ':') return FAIL("bad verbatim string format");
        it->type = c == '$' ? HR_RESP_BULK : c == '=' ? HR_RESP_VERB : HR_RESP_BLOBERR;
        it->s = buf + after;
        it->slen = (size_t)n;
        it->next = after + (size_t)n + 2;
        return SCAN_OK;
    default: /* aggregates */
        if (!hr_str2ll(line, ll, &n)) return FAIL("bad aggregate length");
        if (n == -1 && c == '*') {
            it->type = HR_RESP_NIL;
            return SCAN_OK;
        }
        if (c == '%' || c == '|') {
            if (n < 0 || n > lim->max_elements / 2) return FAIL("aggregate length out of range");
            n *= 2;
        } else if (n < 0 || n > lim->max_elements) {
            return FAIL("aggregate length out of range");
        }
        it->type = c == '*'   ? HR_RESP_ARRAY
                   : c == '%' ? HR_RESP_MAP
                   : c == '~' ? HR_RESP_SET
                   : c == '|' ? HR_RESP_ATTR
                              : HR_RESP_PUSH;
        it->agg = true;
        it->n = n;
        return SCAN_OK;
    }
}

/* ---- frame length ------------------------------------------------------------- */

ssize_t hr_resp_frame_len(const char *buf, size_t len)
{
    static const scan_lim lim = {HR_RESP_MAX_BULK_DEFAULT, HR_RESP_MAX_ELEMENTS_DEFAULT};
    /* Values still to read. Saturates at PENDING_MAX: every value takes at
     * least 3 bytes, so a saturated count never completes and fewer than
     * len/3 items can be decremented from it. */
    const unsigned long long PENDING_MAX = 1ULL << 62;
    unsigned long long pending = 1;
    size_t pos = 0;
    bool top = true;
    while (pending > 0) {
        item it;
        int rc = scan_item(buf, len, pos, NULL, &lim, &it, NULL, 0);
        if (rc != SCAN_OK) return rc == SCAN_AGAIN ? 0 : -1;
        pos = it.next;
        pending--;
        if (it.agg) {
            /* a nested attribute annotates a value that still has to come */
            unsigned long long add = (unsigned long long)it.n + (it.type == HR_RESP_ATTR && !top);
            pending = add > PENDING_MAX - pending ? PENDING_MAX : pending + add;
        }
        top = false;
    }
    return (ssize_t)pos;
}

/* ---- default builders ------------------------------------------------------------ */

static hr_reply *new_reply(const hr_reader_task *t)
{
    hr_reply *r = hr_calloc(1, sizeof(*r));
    r->type = t->type;
    return r;
}

/* Appends r to the parent aggregate (children arrive in order). */
static void *attach(const hr_reader_task *t, hr_reply *r)
{
    if (!t->parent) return r;
    hr_reply *p = t->parent->obj;
    size_t i = p->elements;
    if (i >= HR_REPLY_PREALLOC && (i & (i - 1)) == 0) {
        size_t cap = (size_t)t->parent->elements;
        if (cap > 2 * i) cap = 2 * i;
        p->element = hr_realloc(p->element, cap * sizeof(*p->element));
    }
    p->element[i] = r;
    p->elements = i + 1;
    return r;
}

static void *def_string(const hr_reader_task *t, const char *s, size_t len)
{
    hr_reply *r = new_reply(t);
    if (t->type == HR_RESP_VERB && len >= 4) {
        memcpy(r->vtype, s, 3);
        r->vtype[3] = '\0';
        s += 4;
        len -= 4;
    }
    r->str = hr_strndup(s, len);
    r->len = len;
    return attach(t, r);
}

static void *def_array(const hr_reader_task *t, size_t elements)
{
    hr_reply *r = new_reply(t);
    if (elements > 0) {
        size_t n = elements < HR_REPLY_PREALLOC ? elements : HR_REPLY_PREALLOC;
        r->element = hr_calloc(n, sizeof(*r->element));
    }
    return attach(t, r);
}

static void *def_integer(const hr_reader_task *t, long long v)
{
    hr_reply *r = new_reply(t);
    r->integer = v;
    return attach(t, r);
}

static void *def_double(const hr_reader_task *t, double v, const char *s, size_t len)
{
    hr_reply *r = new_reply(t);
    r->dval = v;
    r->str = hr_strndup(s, len);
    r->len = len;
    return attach(t, r);
}

static void *def_nil(const hr_reader_task *t)
{
    return attach(t, new_reply(t));
}

static void *def_bool(const hr_reader_task *t, int v)
{
    hr_reply *r = new_reply(t);
    r->integer = v != 0;
    return attach(t, r);
}

static bool is_aggregate(hr_resp_type t)
{
    return t == HR_RESP_ARRAY || t == HR_RESP_MAP || t == HR_RESP_SET || t == HR_RESP_ATTR ||
           t == HR_RESP_PUSH;
}

/* Frees a tree without recursion: aggregates waiting for their children are
 * chained through their (otherwise unused) str field. */
void hr_reply_free(hr_reply *r)
{
    hr_reply *waiting = NULL;
    while (r) {
        if (is_aggregate(r->type)) {
            r->str = (char *)waiting;
            waiting = r;
        } else {
            hr_free(r->str);
            hr_free(r);
        }
        r = NULL;
        while (!r && waiting) {
            hr_reply *a = waiting;
            if (a->elements > 0) {
                r = a->element[--a->elements];
            } else {
                waiting = (hr_reply *)a->str;
                hr_free(a->element);
                hr_free(a);
            }
        }
    }
}

static void def_free(void *obj)
{
    hr_reply_free(obj);
}

static const hr_reader_fns default_fns = {
    def_string, def_array, def_integer, def_double, def_nil, def_bool, def_free,
};

/* ---- reader ----------------------------------------------------------------------- */

typedef struct rtask {
    hr_reader_task t; /* first: callbacks see &rtask->t */
    long long done;   /* children complete so far */
    bool detached;    /* nested attribute: built apart, then freed */
} rtask;

struct hr_reader {
    hr_reader_fns fns;
    hr_buf buf;
    size_t pos;  /* start of the next item in buf */
    size_t scan; /* bytes of that item's line already searched */
    rtask **stack;
    int stack_cap;
    int depth; /* open aggregates */
    int max_depth;
    scan_lim lim;
    bool failed;
    char errstr[128];
};

static char placeholder; /* object "built" by a NULL callback */

hr_reader *hr_reader_new(const hr_reader_fns *fns)
{
    hr_reader *r = hr_calloc(1, sizeof(*r));
    r->fns = fns ? *fns : default_fns;
    hr_buf_init(&r->buf);
    r->max_depth = HR_RESP_MAX_DEPTH_DEFAULT;
    r->lim.max_bulk = HR_RESP_MAX_BULK_DEFAULT;
    r->lim.max_elements = HR_RESP_MAX_ELEMENTS_DEFAULT;
    return r;
}

static void free_obj(hr_reader *r, void *obj)
{
    if (obj && obj != &placeholder && r->fns.free_obj) r->fns.free_obj(obj);
}

/* Frees the partly built reply (and any nested attribute being built). */
static void drop_partial(hr_reader *r)
{
    for (int i = 0; i < r->depth; i++)
        if (i == 0 || r->stack[i]->detached) free_obj(r, r->stack[i]->t.obj);
    r->depth = 0;
}

void hr_reader_free(hr_reader *r)
{
    if (!r) return;
    drop_partial(r);
    for (int i = 0; i < r->stack_cap; i++)
        hr_free(r->stack[i]);
    hr_free(r->stack);
    hr_buf_release(&r->buf);
    hr_free(r);
}

/* Values <= 0 restore the defaults. */
void hr_reader_set_limits(hr_reader *r, int max_depth, long long max_elements, long long max_bulk)
{
    r->max_depth = max_depth > 0 ? max_depth : HR_RESP_MAX_DEPTH_DEFAULT;
    r->lim.max_elements = max_elements > 0 ? max_elements : HR_RESP_MAX_ELEMENTS_DEFAULT;
    r->lim.max_bulk = max_bulk > 0 ? max_bulk : HR_RESP_MAX_BULK_DEFAULT;
}

static int fail(hr_reader *r, const char *msg)
{
    if (msg) snprintf(r->errstr, sizeof(r->errstr), "%s", msg);
    r->failed = true;
    drop_partial(r);
    hr_buf_release(&r->buf);
    r->pos = r->scan = 0;
    return -1;
}

int hr_reader_feed(hr_reader *r, const char *buf, size_t len)
{
    if (r->failed) return -1;
    /* drop what was parsed already before the buffer grows */
    if (r->pos > 0 && (r->pos == r->buf.len || (r->pos >= 16384 && r->pos >= r->buf.len / 2))) {
        hr_buf_consume(&r->buf, r->pos);
        r->pos = 0;
        hr_buf_trim(&r->buf, 64 * 1024); /* after a large reply */
    }
    hr_buf_append(&r->buf, buf, len);
    return 0;
}

const char *hr_reader_error(const hr_reader *r)
{
    return r->failed ? r->errstr : NULL;
}

static rtask *task_at(hr_reader *r, int i)
{
    if (i >= r->stack_cap) {
        int cap = r->stack_cap ? r->stack_cap * 2 : 8;
        while (cap <= i)
            cap *= 2;
        r->stack = hr_realloc(r->stack, (size_t)cap * sizeof(*r->stack));
        for (int k = r->stack_cap; k < cap; k++)
            r->stack[k] = NULL;
        r->stack_cap = cap;
    }
    if (!r->stack[i]) r->stack[i] = hr_calloc(1, sizeof(rtask));
    return r->stack[i];
}

static void *build(hr_reader *r, const hr_reader_task *t, const item *it)
{
    const hr_reader_fns *f = &r->fns;
    void *obj;
    switch (it->type) {
    case HR_RESP_INTEGER:
        obj = f->create_integer ? f->create_integer(t, it->n) : &placeholder;
        break;
    case HR_RESP_DOUBLE:
        obj = f->create_double ? f->create_double(t, it->d, it->s, it->slen) : &placeholder;
        break;
    case HR_RESP_NIL: obj = f->create_nil ? f->create_nil(t) : &placeholder; break;
    case HR_RESP_BOOL: obj = f->create_bool ? f->create_bool(t, (int)it->n) : &placeholder; break;
    case HR_RESP_ARRAY:
    case HR_RESP_MAP:
    case HR_RESP_SET:
    case HR_RESP_ATTR:
    case HR_RESP_PUSH:
        obj = f->create_array ? f->create_array(t, (size_t)it->n) : &placeholder;
        break;
    default: obj = f->create_string ? f->create_string(t, it->s, it->slen) : &placeholder; break;
    }
    return obj;
}

int hr_reader_get(hr_reader *r, void **reply)
{
    if (reply) *reply = NULL;
    if (r->failed) return -1;
    for (;;) {
        item it;
        int rc = scan_item(r->buf.data, r->buf.len, r->pos, &r->scan, &r->lim, &it, r->errstr,
                           sizeof(r->errstr));
        if (rc == SCAN_AGAIN) return 0;
        if (rc == SCAN_ERR) return fail(r, NULL);
        if (it.agg && r->depth >= r->max_depth)
            return fail(r, "Protocol error: aggregate nesting too deep");

        rtask *parent = r->depth > 0 ? r->stack[r->depth - 1] : NULL;
        rtask *cur = task_at(r, r->depth);
        cur->t.type = it.type;
        cur->t.elements = it.agg ? it.n : 0;
        cur->t.obj = NULL;
        cur->t.privdata = NULL;
        cur->done = 0;
        cur->detached = it.type == HR_RESP_ATTR && parent;
        if (parent && !cur->detached) {
            cur->t.parent = &parent->t;
            cur->t.idx = parent->done > INT_MAX ? INT_MAX : (int)parent->done;
        } else {
            cur->t.parent = NULL;
            cur->t.idx = -1;
        }
        void *obj = build(r, &cur->t, &it);
        if (!obj) return fail(r, "Out of memory");
        r->pos = it.next;
        r->scan = 0;
        if (it.agg && it.n > 0) {
            cur->t.obj = obj;
            r->depth++;
            continue;
        }
        /* obj is a complete value: close every aggregate it completes */
        bool detached = cur->detached;
        for (;;) {
            if (detached) { /* nested attribute: not an element of its parent */
                free_obj(r, obj);
                break;
            }
            if (r->depth == 0) {
                if (reply)
                    *reply = obj;
                else
                    free_obj(r, obj);
                return 0;
            }
            rtask *p = r->stack[r->depth - 1];
            if (++p->done < p->t.elements) break;
            r->depth--;
            obj = p->t.obj;
            detached = p->detached;
        }
    }
}
