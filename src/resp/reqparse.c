/*
 * reqparse.c - server-side request parser (hr_reqparser_*) and the
 * inline/config line splitter (hr_resp_split_line); see resp.h.
 *
 * Written from Redis's documentation and from the replies of a real
 * redis-server 7.0 to raw byte sequences (no Redis code). Behaviours kept on
 * purpose because clients can observe them:
 *  - The first byte of a command decides: '*' is multibulk, anything else is
 *    an inline line.
 *  - A header line ("*<n>", "$<n>") ends at the first '\r'; the byte after it
 *    is not checked ("*1\rX$4\r\nPING\r\n" is PING). The two bytes after a
 *    bulk payload are skipped unchecked as well ("*1\r\n$4\r\nPINGXY" is
 *    PING).
 *  - Redis looks for line terminators with C string functions over its
 *    NUL-terminated query buffer, so a NUL byte before the terminator of a
 *    header or inline line hides the terminator: the command then waits until
 *    more than HR_RESP_INLINE_MAX bytes are buffered and fails as "too big".
 *    Replicated ("blocked" state).
 *  - The "too big" errors apply when more than HR_RESP_INLINE_MAX bytes,
 *    counted from the start of the line (the command start for "*<n>" and
 *    inline lines), are buffered and no terminator is found. A terminator
 *    that is present is used wherever it is, as Redis does for its buffer.
 *  - Counts: strict integers (hr_str2ll), a count <= 0 is an empty command,
 *    > INT_MAX is invalid. Bulk lengths: strict, 0..max_bulk_len.
 *  - In "expected '$', got 'X'", a '\r' or '\n' is shown as a space (Redis
 *    replaces newlines in error texts).
 *
 * State is kept as offsets from the command start (the caller may move its
 * buffer between calls) and every scan resumes where the previous call
 * stopped, so a command delivered byte by byte costs O(length). After
 * HR_REQ_ERR the parser is reset (the next call starts a new command). A
 * max_bulk_len <= 0 given to hr_reqparser_init means the default. Calling
 * with fewer bytes than a previous call already examined restarts the
 * command (as after hr_reqparser_reset).
 */
#include "resp.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "util.h"

enum { ST_START = 0, ST_INLINE, ST_MB_COUNT, ST_BULK_HDR, ST_BULK_DATA };

#define NOT_FOUND ((size_t)-1)

static const char ERR_MB_LEN[] = "ERR Protocol error: invalid multibulk length";
static const char ERR_BULK_LEN[] = "ERR Protocol error: invalid bulk length";
static const char ERR_MB_BIG[] = "ERR Protocol error: too big mbulk count string";
static const char ERR_BULK_BIG[] = "ERR Protocol error: too big bulk count string";
static const char ERR_INLINE_BIG[] = "ERR Protocol error: too big inline request";
static const char ERR_QUOTES[] = "ERR Protocol error: unbalanced quotes in request";

/* ---- line splitting -------------------------------------------------------- */

static inline bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static inline int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Resizes the argument arrays to exactly n entries (n > *cap). */
static void grow_args(hr_arg **argv, size_t **off, size_t *cap, size_t n)
{
    *argv = hr_realloc(*argv, n * sizeof(**argv));
    if (off) *off = hr_realloc(*off, n * sizeof(**off));
    *cap = n;
}

/* Splits s[0..len) (ending at the first NUL, like the C string Redis splits).
 * Appends each argument plus a NUL to out and stores its length in
 * (*argv)[i].len; ptr fields are left for the caller. With grow, *argv (and
 * *off when not NULL) are enlarged as needed; without, *cap is a hard limit.
 * Returns the count, -1 on unbalanced quotes, -2 when over the limit. */
static long split_core(const char *s, size_t len, hr_buf *out, hr_arg **argv, size_t **off,
                       size_t *cap, bool grow)
{
    const char *nul = memchr(s, '\0', len);
    if (nul) len = (size_t)(nul - s);
    size_t i = 0, argc = 0;
    for (;;) {
        while (i < len && is_space((unsigned char)s[i]))
            i++;
        if (i >= len) return (long)argc;
        if (argc >= *cap) {
            if (!grow || argc >= INT_MAX) return -2;
            grow_args(argv, off, cap, *cap < 8 ? 8 : *cap * 2);
        }
        size_t start = out->len;
        bool inq = false, insq = false, done = false;
        while (!done) {
            if (inq) {
                if (i >= len) return -1;
                unsigned char c = (unsigned char)s[i];
                if (c == '\\' && i + 3 < len && s[i + 1] == 'x' &&
                    hex_val((unsigned char)s[i + 2]) >= 0 &&
                    hex_val((unsigned char)s[i + 3]) >= 0) {
                    hr_buf_append_char(out, (char)(hex_val((unsigned char)s[i + 2]) * 16 +
                                                   hex_val((unsigned char)s[i + 3])));
                    i += 4;
                } else if (c == '\\' && i + 1 < len) {
                    char e = s[i + 1];
                    switch (e) {
                    case 'n': e = '\n'; break;
                    case 'r': e = '\r'; break;
                    case 't': e = '\t'; break;
                    case 'b': e = '\b'; break;
                    case 'a': e = '\a'; break;
                    default: break;
                    }
                    hr_buf_append_char(out, e);
                    i += 2;
                } else if (c == '"') {
                    /* the closing quote must be followed by a space or the end */
                    if (i + 1 < len && !is_space((unsigned char)s[i + 1])) return -1;
                    done = true;
                    i++;
                } else {
                    hr_buf_append_char(out, (char)c);
                    i++;
                }
            } else if (insq) {
                if (i >= len) return -1;
                char c = s[i];
                if (c == '\\' && i + 1 < len && s[i + 1] == '\'') {
                    hr_buf_append_char(out, '\'');
                    i += 2;
                } else if (c == '\'') {
                    if (i + 1 < len && !is_space((unsigned char)s[i + 1])) return -1;
                    done = true;
                    i++;
                } else {
                    hr_buf_append_char(out, c);
                    i++;
                }
            } else {
                if (i >= len) break;
                char c = s[i];
                switch (c) {
                case ' ':
                case '\n':
                case '\r':
                case '\t': done = true; break;
                case '"': inq = true; break;
                case '\'': insq = true; break;
                default: hr_buf_append_char(out, c); break;
                }
                i++;
            }
        }
        (*argv)[argc].len = out->len - start;
        hr_buf_append_char(out, '\0');
        argc++;
    }
}

/* Points argv[0..argc) into out->data, arguments laid out from base. */
static void fix_ptrs(hr_arg *argv, size_t argc, const hr_buf *out, size_t base)
{
    size_t off = base;
    for (size_t i = 0; i < argc; i++) {
        argv[i].ptr = out->data + off;
        off += argv[i].len + 1;
    }
}

int hr_resp_split_line(const char *line, size_t len, hr_buf *out, hr_arg *argv, int max_args)
{
    size_t base = out->len;
    size_t cap = max_args > 0 ? (size_t)max_args : 0;
    long n = split_core(line, len, out, &argv, NULL, &cap, false);
    if (n < 0) {
        out->len = base;
        return -1;
    }
    fix_ptrs(argv, (size_t)n, out, base);
    return (int)n;
}

/* ---- request parser ---------------------------------------------------------- */

void hr_reqparser_init(hr_reqparser *p, long long max_bulk_len)
{
    memset(p, 0, sizeof(*p));
    p->max_bulk_len = max_bulk_len > 0 ? max_bulk_len : HR_RESP_MAX_BULK_DEFAULT;
    p->bulk_len = -1;
    hr_buf_init(&p->scratch);
}

void hr_reqparser_release(hr_reqparser *p)
{
    hr_free(p->argv);
    hr_free(p->arg_off);
    hr_buf_release(&p->scratch);
    p->argv = NULL;
    p->arg_off = NULL;
    p->argv_cap = 0;
    p->argc = 0;
}

void hr_reqparser_reset(hr_reqparser *p)
{
    p->state = ST_START;
    p->blocked = false;
    p->mb_count = 0;
    p->bulk_len = -1;
    p->pos = p->scan = p->nargs = 0;
    p->want = 0;
    p->argc = 0;
}

static ssize_t fail(hr_reqparser *p, const char *msg)
{
    p->err = msg;
    hr_reqparser_reset(p);
    return HR_REQ_ERR;
}

/* Starts a new command: drops what the previous one left behind, keeping at
 * most a preallocation-sized argv and a small scratch buffer. */
static void begin(hr_reqparser *p)
{
    hr_reqparser_reset(p);
    if (p->argv_cap > HR_RESP_ARGV_PREALLOC_MAX) {
        hr_free(p->argv);
        hr_free(p->arg_off);
        p->argv = NULL;
        p->arg_off = NULL;
        p->argv_cap = 0;
    }
    p->scratch.len = 0;
    hr_buf_trim(&p->scratch, 4096);
}

/* Finds `c` in buf[from..len), giving up at a NUL byte the way a C string
 * search would (sets *nul). Returns its offset or NOT_FOUND. */
static size_t find_term(const char *buf, size_t from, size_t len, char c, bool *nul)
{
    if (from >= len) return NOT_FOUND;
    const char *s = buf + from;
    size_t n = len - from;
    const char *t = memchr(s, c, n);
    size_t lim = t ? (size_t)(t - s) : n;
    if (lim && memchr(s, '\0', lim)) {
        *nul = true;
        return NOT_FOUND;
    }
    return t ? from + lim : NOT_FOUND;
}

/* Line terminator search with resumption and the NUL rule. */
static size_t find_line(hr_reqparser *p, const char *buf, size_t len, char c)
{
    if (p->blocked) return NOT_FOUND;
    size_t at = find_term(buf, p->scan, len, c, &p->blocked);
    p->scan = at == NOT_FOUND ? (len > p->scan ? len : p->scan) : at;
    return at;
}

static ssize_t parse_inline(hr_reqparser *p, const char *buf, size_t len)
{
    size_t nl = find_line(p, buf, len, '\n');
    if (nl == NOT_FOUND) {
        if (len > HR_RESP_INLINE_MAX) return fail(p, ERR_INLINE_BIG);
        return HR_REQ_AGAIN;
    }
    size_t end = nl;
    if (end > 0 && buf[end - 1] == '\r') end--;
    p->scratch.len = 0;
    long n = split_core(buf, end, &p->scratch, &p->argv, &p->arg_off, &p->argv_cap, true);
    if (n == -1) return fail(p, ERR_QUOTES);
    if (n < 0) return fail(p, ERR_INLINE_BIG); /* > INT_MAX arguments */
    fix_ptrs(p->argv, (size_t)n, &p->scratch, 0);
    p->argc = (int)n;
    p->state = ST_START;
    return (ssize_t)(nl + 1);
}

static ssize_t parse_multibulk(hr_reqparser *p, const char *buf, size_t len)
{
    for (;;) {
        switch (p->state) {
        case ST_MB_COUNT: {
            size_t cr = find_line(p, buf, len, '\r');
            if (cr == NOT_FOUND) {
                if (len > HR_RESP_INLINE_MAX) return fail(p, ERR_MB_BIG);
                return HR_REQ_AGAIN;
            }
            if (cr + 2 > len) return HR_REQ_AGAIN; /* the byte after '\r' */
            long long n;
            if (!hr_str2ll(buf + 1, cr - 1, &n) || n > INT_MAX) return fail(p, ERR_MB_LEN);
            if (n <= 0) {
                p->state = ST_START;
                p->argc = 0;
                return (ssize_t)(cr + 2);
            }
            p->mb_count = n;
            size_t pre = n < HR_RESP_ARGV_PREALLOC_MAX ? (size_t)n : HR_RESP_ARGV_PREALLOC_MAX;
            if (p->argv_cap < pre) grow_args(&p->argv, &p->arg_off, &p->argv_cap, pre);
            p->nargs = 0;
            p->pos = p->scan = cr + 2;
            p->state = ST_BULK_HDR;
            break;
        }
        case ST_BULK_HDR: {
            size_t cr = find_line(p, buf, len, '\r');
            if (cr == NOT_FOUND) {
                if (len - p->pos > HR_RESP_INLINE_MAX) return fail(p, ERR_BULK_BIG);
                return HR_REQ_AGAIN;
            }
            if (cr + 2 > len) return HR_REQ_AGAIN;
            char c = buf[p->pos];
            if (c != '$') {
                if (c == '\r' || c == '\n') c = ' ';
                snprintf(p->errbuf, sizeof(p->errbuf), "ERR Protocol error: expected '$', got '%c'",
                         c);
                return fail(p, p->errbuf);
            }
            long long n;
            if (!hr_str2ll(buf + p->pos + 1, cr - p->pos - 1, &n) || n < 0 || n > p->max_bulk_len)
                return fail(p, ERR_BULK_LEN);
            p->bulk_len = n;
            p->pos = cr + 2;
            p->state = ST_BULK_DATA;
            break;
        }
        case ST_BULK_DATA: {
            size_t need = p->pos + (size_t)p->bulk_len + 2;
            if (len < need) {
                p->want = need;
                return HR_REQ_AGAIN;
            }
            if (p->nargs == p->argv_cap) {
                size_t n = p->argv_cap * 2;
                if (n > (size_t)p->mb_count) n = (size_t)p->mb_count;
                grow_args(&p->argv, &p->arg_off, &p->argv_cap, n);
            }
            p->arg_off[p->nargs] = p->pos;
            p->argv[p->nargs].len = (size_t)p->bulk_len;
            p->nargs++;
            p->pos = p->scan = need;
            p->bulk_len = -1;
            if (p->nargs < (size_t)p->mb_count) {
                p->state = ST_BULK_HDR;
                break;
            }
            for (size_t i = 0; i < p->nargs; i++)
                p->argv[i].ptr = buf + p->arg_off[i];
            p->argc = (int)p->nargs;
            p->state = ST_START;
            return (ssize_t)need;
        }
        default: return fail(p, ERR_MB_LEN); /* not reached */
        }
    }
}

ssize_t hr_reqparser_parse(hr_reqparser *p, const char *buf, size_t len)
{
    p->want = 0;
    p->err = NULL;
    /* Fewer bytes than already examined: the caller started over. */
    if (p->state != ST_START && (len < p->scan || len < p->pos)) hr_reqparser_reset(p);
    if (p->state == ST_START) {
        p->argc = 0;
        if (len == 0) return HR_REQ_AGAIN;
        begin(p);
        if (buf[0] == '*') {
            p->is_inline = false;
            p->state = ST_MB_COUNT;
            p->scan = 1;
        } else {
            p->is_inline = true;
            p->state = ST_INLINE;
        }
    }
    if (p->state == ST_INLINE) return parse_inline(p, buf, len);
    return parse_multibulk(p, buf, len);
}
