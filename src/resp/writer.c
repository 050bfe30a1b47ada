/*
 * writer.c - RESP2/RESP3 encoders (hr_resp_w_*); see resp.h.
 *
 * Bytes are those a Redis 7 server sends. Where RESP2 has no such type the
 * RESP2 form Redis uses is written (proto is 3 for RESP3, anything else is
 * RESP2). Simple strings and errors are single lines: a '\r' or '\n' inside
 * them is written as a space (as Redis does for its formatted errors), so a
 * caller can never break the framing.
 *
 * Doubles: the shortest digit string that strtod() reads back as the same
 * value, laid out the way printf("%.17g") lays out a number (exponent form
 * when the decimal exponent is < -4 or >= 17, at least two exponent digits,
 * no trailing zeros): "0.1", "3", "1e+20", "1.5e-07", "1000000000000000".
 * Values that need 17 digits come out exactly as "%.17g" (what Redis 7.0
 * sends); values with a shorter exact form are shorter than 7.0's text
 * (0.1: "0.1" where 7.0 sends "0.10000000000000001"). Infinities are "inf"
 * and "-inf", every NaN is "nan".
 */
#include "resp.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* "<t><n>\r\n" */
static void w_hdr(hr_buf *b, char t, long long n)
{
    char *d = hr_buf_reserve(b, 24);
    d[0] = t;
    size_t k = hr_ll2str(d + 1, n);
    d[k + 1] = '\r';
    d[k + 2] = '\n';
    b->len += k + 3;
}

static void w_lit(hr_buf *b, const char *s, size_t len)
{
    hr_buf_append(b, s, len);
}
#define W_LIT(b, s) w_lit(b, s, sizeof(s) - 1)

/* "<t><s>\r\n" with CR and LF in s turned into spaces. */
static void w_line(hr_buf *b, char t, const char *s, size_t len)
{
    char *d = hr_buf_reserve(b, len + 3);
    d[0] = t;
    if (len) {
        memcpy(d + 1, s, len);
        if (memchr(s, '\r', len) || memchr(s, '\n', len))
            for (size_t i = 1; i <= len; i++)
                if (d[i] == '\r' || d[i] == '\n') d[i] = ' ';
    }
    d[len + 1] = '\r';
    d[len + 2] = '\n';
    b->len += len + 3;
}

void hr_resp_w_simple(hr_buf *b, const char *s, size_t len)
{
    w_line(b, '+', s, len);
}

void hr_resp_w_error(hr_buf *b, const char *s, size_t len)
{
    w_line(b, '-', s, len);
}

void hr_resp_w_int(hr_buf *b, long long v)
{
    w_hdr(b, ':', v);
}

/* "<t><len>\r\n<s>\r\n", with an optional 4-byte prefix counted in len. */
static void w_blob(hr_buf *b, char t, const char *pre, const char *s, size_t len)
{
    size_t plen = pre ? 4 : 0;
    char *d = hr_buf_reserve(b, len + plen + 27);
    d[0] = t;
    size_t k = hr_ull2str(d + 1, (unsigned long long)(len + plen)) + 1;
    d[k++] = '\r';
    d[k++] = '\n';
    if (plen) {
        memcpy(d + k, pre, 4);
        k += 4;
    }
    if (len) memcpy(d + k, s, len);
    k += len;
    d[k++] = '\r';
    d[k++] = '\n';
    b->len += k;
}

void hr_resp_w_bulk(hr_buf *b, const char *s, size_t len)
{
    w_blob(b, '$', NULL, s, len);
}

void hr_resp_w_bulk_str(hr_buf *b, const char *s)
{
    w_blob(b, '$', NULL, s, strlen(s));
}

void hr_resp_w_bulk_ll(hr_buf *b, long long v)
{
    char tmp[24];
    size_t n = hr_ll2str(tmp, v);
    w_blob(b, '$', NULL, tmp, n);
}

void hr_resp_w_array_hdr(hr_buf *b, long long n)
{
    w_hdr(b, '*', n);
}

void hr_resp_w_map_hdr(hr_buf *b, int proto, long long pairs)
{
    if (proto == 3)
        w_hdr(b, '%', pairs);
    else
        w_hdr(b, '*', pairs * 2);
}

void hr_resp_w_set_hdr(hr_buf *b, int proto, long long n)
{
    w_hdr(b, proto == 3 ? '~' : '*', n);
}

void hr_resp_w_push_hdr(hr_buf *b, int proto, long long n)
{
    w_hdr(b, proto == 3 ? '>' : '*', n);
}

void hr_resp_w_null(hr_buf *b, int proto)
{
    if (proto == 3)
        W_LIT(b, "_\r\n");
    else
        W_LIT(b, "$-1\r\n");
}

void hr_resp_w_null_array(hr_buf *b, int proto)
{
    if (proto == 3)
        W_LIT(b, "_\r\n");
    else
        W_LIT(b, "*-1\r\n");
}

size_t hr_resp_fmt_double(char *dst, double v)
{
    if (isnan(v)) {
        memcpy(dst, "nan", 4);
        return 3;
    }
    if (isinf(v)) {
        const char *s = v > 0 ? "inf" : "-inf";
        size_t n = strlen(s);
        memcpy(dst, s, n + 1);
        return n;
    }
    /* Shortest round-tripping precision. A decimal of at most 15 (DBL_DIG)
     * significant digits survives decimal -> double -> 15 digits, so for a
     * normal double whose shortest form has <= 15 digits, 15-digit rounding
     * gives that form (plus trailing zeros): 15, 16 and 17 are the only
     * candidates. Subnormals carry fewer bits: try every precision. */
    char e[48];
    int prec = fabs(v) < DBL_MIN ? 1 : 15;
    for (; prec < 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v) break;
    }
    if (prec == 17) snprintf(e, sizeof(e), "%.16e", v);

    /* e is "[-]D.DDDDe[+-]XX": collect sign, digits and exponent */
    const char *q = e;
    bool neg = *q == '-';
    if (neg) q++;
    char dig[20];
    int nd = 0;
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9' && nd < (int)sizeof(dig)) dig[nd++] = *q;
    int x = *q == 'e' ? atoi(q + 1) : 0;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;

    char *o = dst;
    if (neg) *o++ = '-';
    if (x < -4 || x >= 17) {
        *o++ = dig[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        o += sprintf(o, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    } else if (x >= 0) {
        for (int i = 0; i <= x; i++)
            *o++ = i < nd ? dig[i] : '0';
        if (nd > x + 1) {
            *o++ = '.';
            memcpy(o, dig + x + 1, (size_t)(nd - x - 1));
            o += nd - x - 1;
        }
    } else {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -x - 1; i++)
            *o++ = '0';
        memcpy(o, dig, (size_t)nd);
        o += nd;
    }
    *o = '\0';
    return (size_t)(o - dst);
}

void hr_resp_w_double(hr_buf *b, int proto, double v)
{
    char tmp[HR_RESP_DOUBLE_MAX];
    size_t n = hr_resp_fmt_double(tmp, v);
    if (proto == 3) {
        char *d = hr_buf_reserve(b, n + 3);
        d[0] = ',';
        memcpy(d + 1, tmp, n);
        d[n + 1] = '\r';
        d[n + 2] = '\n';
        b->len += n + 3;
    } else {
        w_blob(b, '$', NULL, tmp, n);
    }
}

void hr_resp_w_bool(hr_buf *b, int proto, bool v)
{
    if (proto == 3)
        w_lit(b, v ? "#t\r\n" : "#f\r\n", 4);
    else
        w_lit(b, v ? ":1\r\n" : ":0\r\n", 4);
}

void hr_resp_w_verbatim(hr_buf *b, int proto, const char *s, size_t len)
{
    if (proto == 3)
        w_blob(b, '=', "txt:", s, len);
    else
        w_blob(b, '$', NULL, s, len);
}

void hr_resp_w_command(hr_buf *b, int argc, const char *const *argv, const size_t *lens)
{
    w_hdr(b, '*', argc);
    for (int i = 0; i < argc; i++)
        w_blob(b, '$', NULL, argv[i], lens[i]);
}
