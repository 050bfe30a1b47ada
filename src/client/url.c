/*
 * url.c - connection URLs:
 *   redis://[[user]:password@]host[:port][/db]
 *   redis://[user@]host...                      (user without password: ignored
 *                                                 unless a password follows)
 *   unix://[[user]:password@]/path/to/socket[?db=N]
 *   rediss://...                                (TLS: parsed, refused for now)
 * host may be a name, an IPv4 address or an IPv6 address in brackets. User
 * and password may contain %XX escapes. Every number is strict (no sign, no
 * spaces, in range).
 */
#include "client_int.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "util.h"

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new string; NULL on a bad escape or an
 * escaped NUL. */
static char *decode(const char *s, size_t n)
{
    char *out = hr_malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int a = i + 1 < n ? hexval(s[i + 1]) : -1;
            int b = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (a < 0 || b < 0 || (a == 0 && b == 0)) goto bad;
            out[o++] = (char)(a * 16 + b);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = 0;
    return out;
bad:
    hr_free(out);
    return NULL;
}

static bool parse_int(const char *s, size_t n, long long lo, long long hi, long long *out)
{
    long long v;
    if (n == 0 || n > 20 || s[0] == '-' || !hr_str2ll(s, n, &v) || v < lo || v > hi) return false;
    *out = v;
    return true;
}

void hc_endpoint_release(hc_endpoint *ep)
{
    hr_free(ep->host);
    hr_free(ep->path);
    hr_free(ep->display);
    memset(ep, 0, sizeof(*ep));
}

void hc_url_release(hc_url *u)
{
    hc_endpoint_release(&u->ep);
    hr_free(u->user);
    hr_free(u->pass);
    memset(u, 0, sizeof(*u));
}

/* Parses "[[user]:pass@]" at the start of s[0..n); returns bytes used or -1. */
static long parse_userinfo(const char *s, size_t n, hc_url *u)
{
    const char *at = memchr(s, '@', n);
    if (!at) return 0;
    /* the last '@' ends the userinfo (a password may contain '@' if escaped only) */
    const char *p = at;
    for (const char *q = at + 1; q < s + n; q++)
        if (*q == '@') p = q;
    at = p;
    const char *colon = memchr(s, ':', (size_t)(at - s));
    if (colon) {
        if (colon > s) {
            u->user = decode(s, (size_t)(colon - s));
            if (!u->user) return -1;
        }
        u->pass = decode(colon + 1, (size_t)(at - colon - 1));
        if (!u->pass) return -1;
    } else if (at > s) {
        /* "redis://password@host" is accepted by several clients; take it as
         * a password, like redis-cli does for "-u redis://pass@host". */
        u->pass = decode(s, (size_t)(at - s));
        if (!u->pass) return -1;
    }
    return (long)(at - s) + 1;
}

static int parse_redis(const char *s, hc_url *u)
{
    size_t n = strlen(s);
    /* authority ends at the first '/' or '?' */
    size_t alen = strcspn(s, "/?");
    long used = parse_userinfo(s, alen, u);
    if (used < 0) return HERALD_EURL;
    const char *h = s + used;
    size_t hlen = alen - (size_t)used;
    const char *port = NULL;
    size_t portlen = 0;
    if (hlen > 0 && h[0] == '[') {
        const char *close = memchr(h, ']', hlen);
        if (!close || close == h + 1) return HERALD_EURL;
        u->ep.host = hr_strndup(h + 1, (size_t)(close - h - 1));
        const char *rest = close + 1;
        size_t rlen = hlen - (size_t)(rest - h);
        if (rlen > 0) {
            if (rest[0] != ':') return HERALD_EURL;
            port = rest + 1;
            portlen = rlen - 1;
        }
    } else {
        const char *colon = memchr(h, ':', hlen);
        size_t l = colon ? (size_t)(colon - h) : hlen;
        if (l == 0) return HERALD_EURL;
        for (size_t i = 0; i < l; i++)
            if (h[i] == '@' || h[i] == ' ' || h[i] == '[' || h[i] == ']') return HERALD_EURL;
        u->ep.host = hr_strndup(h, l);
        if (colon) {
            port = colon + 1;
            portlen = hlen - l - 1;
        }
    }
    long long v = 6379;
    if (port && !parse_int(port, portlen, 1, 65535, &v)) return HERALD_EURL;
    u->ep.port = (int)v;
    const char *rest = s + alen;
    size_t rlen = n - alen;
    if (rlen > 0 && rest[0] == '/') {
        size_t dlen = strcspn(rest + 1, "?");
        if (dlen > 0) {
            if (!parse_int(rest + 1, dlen, 0, 1000000, &v)) return HERALD_EURL;
            u->db = (int)v;
        }
        rest += 1 + dlen;
        rlen -= 1 + dlen;
    }
    if (rlen > 0) return HERALD_EURL; /* no query options for TCP URLs yet */
    u->ep.kind = HC_EP_TCP;
    bool v6 = strchr(u->ep.host, ':') != NULL;
    size_t dl = strlen(u->ep.host) + 16;
    u->ep.display = hr_malloc(dl);
    snprintf(u->ep.display, dl, v6 ? "[%s]:%d" : "%s:%d", u->ep.host, u->ep.port);
    return HERALD_OK;
}

static int parse_unix(const char *s, hc_url *u)
{
    /* unix://[userinfo@]/path[?db=N] */
    size_t n = strlen(s);
    size_t plen = strcspn(s, "?");
    const char *slash = memchr(s, '/', plen);
    if (!slash) return HERALD_EURL;
    if (slash > s) {
        long used = parse_userinfo(s, (size_t)(slash - s), u);
        if (used < 0 || s + used != slash) return HERALD_EURL;
    }
    size_t len = plen - (size_t)(slash - s);
    if (len < 2 || len > 107) return HERALD_EURL; /* sun_path */
    u->ep.path = hr_strndup(slash, len);
    if (plen < n) {
        const char *q = s + plen + 1;
        if (strncmp(q, "db=", 3) != 0) return HERALD_EURL;
        long long v;
        if (!parse_int(q + 3, strlen(q + 3), 0, 1000000, &v)) return HERALD_EURL;
        u->db = (int)v;
    }
    u->ep.kind = HC_EP_UNIX;
    size_t dl = len + 8;
    u->ep.display = hr_malloc(dl);
    snprintf(u->ep.display, dl, "unix:%s", u->ep.path);
    return HERALD_OK;
}

int hc_url_parse(const char *url, hc_url *u)
{
    memset(u, 0, sizeof(*u));
    if (!url) return HERALD_EINVAL;
    int rc;
    if (strncmp(url, "redis://", 8) == 0) {
        rc = parse_redis(url + 8, u);
    } else if (strncmp(url, "rediss://", 9) == 0) {
        rc = parse_redis(url + 9, u);
        if (rc == HERALD_OK) rc = HERALD_ENOTSUP;
    } else if (strncmp(url, "unix://", 7) == 0) {
        rc = parse_unix(url + 7, u);
    } else {
        rc = HERALD_EURL;
    }
    if (rc != HERALD_OK) hc_url_release(u);
    return rc;
}
