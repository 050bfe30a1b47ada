/*
 * proto.c - herald-bench's wire formats: RESP (our codec: hr_resp_frame_len
 * cuts the stream, hr_resp_w_command encodes) and the NATS text protocol.
 *
 * RESP frames a subscriber cares about are "message" / "smessage" (payload
 * is element 3) and "pmessage" (element 4), as arrays (RESP2) or pushes
 * (RESP3). Any other frame - subscribe confirmations, +PONG, the HELLO map -
 * counts as a setup confirmation. Publishers count every ':' reply as one
 * acknowledged PUBLISH. Frames are only walked after hr_resp_frame_len has
 * vouched that they are complete and well formed.
 *
 * NATS: lines end in CRLF and are at most HB_NATS_LINE_MAX bytes; MSG lines
 * are followed by <#bytes> of payload and CRLF. PING is answered with PONG;
 * PONG acknowledges a publisher's oldest outstanding PING (or confirms
 * setup).
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "bench.h"
#include "resp.h"
#include "util.h"

#define HB_NATS_LINE_MAX 4096
#define HB_RESP_CHUNK 1000 /* names per SUBSCRIBE / PSUBSCRIBE command */

void hb_conn_error(hb_conn *c, const char *s, size_t n)
{
    if (n > 200) n = 200;
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    hb_worker *w = c->w;
    if (g.t_start == 0 || w == NULL) {
        if (!c->setup_err) c->setup_err = hr_strndup(s, n);
        return;
    }
    if (w->errors++ == 0) snprintf(w->first_err, sizeof w->first_err, "%.*s", (int)n, s);
}

/* ---- delivery ---- */

static inline void on_payload(hb_conn *c, const char *p, size_t n, int64_t now)
{
    hb_worker *w = c->w;
    if (c->role != HB_SUB || w == NULL || g.t_start == 0) {
        if (w) w->unexpected++;
        return;
    }
    if (n < 8) {
        hb_conn_error(c, "payload shorter than 8 bytes", 28);
        return;
    }
    int64_t ts;
    memcpy(&ts, p, 8);
    uint64_t lat = now > ts ? (uint64_t)(now - ts) : 0;
    w->deliv_total++;
    if (n >= 12 && g.npubs > 0) {
        uint32_t id;
        memcpy(&id, p + 8, 4);
        if (id < (uint32_t)g.npubs)
            atomic_fetch_add_explicit(&g.pubs[id].delivered, 1, memory_order_relaxed);
    }
    if (now >= g.t_warm && now < g.t_end) {
        w->deliv_win++;
        hr_hist_record(&w->hist, lat);
    }
    if (lat > w->lat_max) w->lat_max = lat;
}

/* ---- RESP ---- */

/* Reads a decimal (possibly negative) up to CR at *p; moves past CRLF. */
static long long rd_num(const char **p, const char *end)
{
    const char *s = *p;
    bool neg = false;
    long long v = 0;
    if (s < end && *s == '-') {
        neg = true;
        s++;
    }
    while (s < end && *s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    *p = s + 2 <= end ? s + 2 : end;
    return neg ? -v : v;
}

/* Reads one bulk string at *p into (*s, *n); false when it is not a bulk. */
static bool rd_bulk(const char **p, const char *end, const char **s, size_t *n)
{
    const char *q = *p;
    if (q >= end || (*q != '$' && *q != '+')) return false;
    if (*q == '+') { /* simple string element (never for messages) */
        const char *e = memchr(q, '\r', (size_t)(end - q));
        if (!e) return false;
        *s = q + 1;
        *n = (size_t)(e - q - 1);
        *p = e + 2;
        return true;
    }
    q++;
    long long len = rd_num(&q, end);
    if (len < 0 || len > end - q) return false;
    *s = q;
    *n = (size_t)len;
    *p = q + len + 2;
    return true;
}

static void resp_sub_frame(hb_conn *c, const char *f, size_t flen, int64_t now)
{
    const char *p = f, *end = f + flen;
    if (*p == '-' || *p == '!') {
        hb_conn_error(c, f + 1, flen - 1);
        c->confirms++;
        return;
    }
    if (*p != '*' && *p != '>') {
        c->confirms++;
        return;
    }
    p++;
    long long n = rd_num(&p, end);
    const char *k;
    size_t kl;
    if (n < 3 || !rd_bulk(&p, end, &k, &kl)) {
        c->confirms++;
        return;
    }
    int skip;
    if (kl == 7 && memcmp(k, "message", 7) == 0)
        skip = 1;
    else if (kl == 8 && memcmp(k, "smessage", 8) == 0)
        skip = 1;
    else if (kl == 8 && memcmp(k, "pmessage", 8) == 0 && n >= 4)
        skip = 2;
    else {
        c->confirms++;
        return;
    }
    const char *s;
    size_t sl;
    for (int i = 0; i < skip; i++)
        if (!rd_bulk(&p, end, &s, &sl)) return;
    if (!rd_bulk(&p, end, &s, &sl)) return;
    on_payload(c, s, sl, now);
}

static void resp_pub_frame(hb_conn *c, const char *f, size_t flen)
{
    c->confirms++;
    if (g.t_start == 0) {
        if (*f == '-') hb_conn_error(c, f + 1, flen - 1);
        return;
    }
    if (*f == ':') {
        const char *p = f + 1;
        c->pub->receivers += rd_num(&p, f + flen);
        c->pub->acked++;
    } else if (*f == '-') {
        hb_conn_error(c, f + 1, flen - 1);
        c->pub->acked++;
    }
}

static ssize_t resp_parse(hb_conn *c, const char *buf, size_t len, int64_t now)
{
    size_t off = 0;
    while (off < len) {
        ssize_t fl = hr_resp_frame_len(buf + off, len - off);
        if (fl == 0) break;
        if (fl < 0) {
            hb_conn_error(c, "RESP protocol error from server", 31);
            return -1;
        }
        if (c->role == HB_PUB)
            resp_pub_frame(c, buf + off, (size_t)fl);
        else
            resp_sub_frame(c, buf + off, (size_t)fl, now);
        off += (size_t)fl;
    }
    return (ssize_t)off;
}

/* ---- NATS ---- */

static void nats_pong(hb_conn *c)
{
    hb_pub *ps = c->pub;
    if (ps && ps->mcount > 0) {
        ps->acked = ps->marks[ps->mhead];
        ps->mhead = (ps->mhead + 1) % ps->mcap;
        ps->mcount--;
    } else {
        c->confirms++;
    }
}

static ssize_t nats_parse(hb_conn *c, const char *buf, size_t len, int64_t now)
{
    size_t off = 0;
    while (off < len) {
        const char *line = buf + off;
        size_t avail = len - off;
        const char *nl = memchr(line, '\n', avail < HB_NATS_LINE_MAX ? avail : HB_NATS_LINE_MAX);
        if (!nl) {
            if (avail >= HB_NATS_LINE_MAX) {
                hb_conn_error(c, "NATS control line too long", 26);
                return -1;
            }
            break;
        }
        size_t ll = (size_t)(nl - line); /* without \n */
        size_t next = off + ll + 1;
        if (ll > 0 && line[ll - 1] == '\r') ll--;
        if (ll >= 4 && memcmp(line, "MSG ", 4) == 0) {
            /* MSG <subject> <sid> [reply-to] <#bytes> */
            size_t i = ll;
            while (i > 4 && line[i - 1] != ' ')
                i--;
            long long nb;
            if (!hr_str2ll(line + i, ll - i, &nb) || nb < 0 || nb > (1LL << 30)) {
                hb_conn_error(c, "bad NATS MSG line", 17);
                return -1;
            }
            if (len - next < (size_t)nb + 2) break; /* payload incomplete */
            on_payload(c, buf + next, (size_t)nb, now);
            off = next + (size_t)nb + 2;
            continue;
        }
        if (ll == 4 && memcmp(line, "PING", 4) == 0)
            hr_buf_append(&c->out, "PONG\r\n", 6);
        else if (ll == 4 && memcmp(line, "PONG", 4) == 0)
            nats_pong(c);
        else if (ll >= 4 && memcmp(line, "-ERR", 4) == 0)
            hb_conn_error(c, line + 1, ll - 1);
        /* INFO, +OK: nothing to do */
        off = next;
    }
    return (ssize_t)off;
}

ssize_t hb_parse(hb_conn *c, const char *buf, size_t len, int64_t now)
{
    return g.o.proto == HB_PROTO_NATS ? nats_parse(c, buf, len, now) : resp_parse(c, buf, len, now);
}

/* ---- setup commands ---- */

static const char *sub_verb(void)
{
    switch (g.o.mode) {
    case HB_SUB_PATTERN: return "PSUBSCRIBE";
    case HB_SUB_SHARDED: return "SSUBSCRIBE";
    default: return "SUBSCRIBE";
    }
}

/* Appends a RESP (P|S)SUBSCRIBE of names[0..n) in chunks. */
static void resp_subscribe(hr_buf *b, const char *verb, char **names, int n)
{
    const char *argv[HB_RESP_CHUNK + 1];
    size_t lens[HB_RESP_CHUNK + 1];
    for (int i = 0; i < n; i += HB_RESP_CHUNK) {
        int m = n - i < HB_RESP_CHUNK ? n - i : HB_RESP_CHUNK;
        argv[0] = verb;
        lens[0] = strlen(verb);
        for (int j = 0; j < m; j++) {
            argv[j + 1] = names[i + j];
            lens[j + 1] = strlen(names[i + j]);
        }
        hr_resp_w_command(b, m + 1, argv, lens);
    }
}

void hb_build_setup(hb_conn *c)
{
    bool nats = g.o.proto == HB_PROTO_NATS;
    hr_buf *b = &c->out;
    c->want_confirms = 0;
    if (nats) {
        hr_buf_append_str(b, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
    } else if (g.o.resp3) {
        const char *argv[2] = {"HELLO", "3"};
        size_t lens[2] = {5, 1};
        hr_resp_w_command(b, 2, argv, lens);
        c->want_confirms++;
    }
    /* the names this connection subscribes to */
    int n = 0;
    char **names = NULL;
    const char *verb = sub_verb();
    char tmp[160];
    switch (c->role) {
    case HB_SUB:
    case HB_STALL:
        n = c->nchans;
        names = hr_calloc((size_t)(n ? n : 1), sizeof(char *));
        for (int i = 0; i < n; i++) {
            hb_chan *ch = &g.chans[c->chans[i]];
            names[i] = hr_strdup(g.o.mode == HB_SUB_PATTERN ? ch->pat : ch->name);
        }
        break;
    case HB_IDLE:
        n = 1;
        names = hr_calloc(1, sizeof(char *));
        snprintf(tmp, sizeof tmp, "%s.idle.%d", g.o.prefix, c->idx);
        names[0] = hr_strdup(tmp);
        verb = "SUBSCRIBE";
        break;
    case HB_NOISE: {
        int nc = g.o.noise_conns;
        n = g.o.noise_patterns / nc + (c->idx < g.o.noise_patterns % nc);
        names = hr_calloc((size_t)(n ? n : 1), sizeof(char *));
        for (int i = 0; i < n; i++) {
            int pi = c->idx + i * nc;
            if (g.o.noise_wild)
                snprintf(tmp, sizeof tmp, "*.noise.%d", pi);
            else
                snprintf(tmp, sizeof tmp, "noise.%d.*", pi);
            names[i] = hr_strdup(tmp);
        }
        verb = "PSUBSCRIBE";
        break;
    }
    default: break;
    }
    if (nats) {
        for (int i = 0; i < n; i++)
            hr_buf_appendf(b, "SUB %s %d\r\n", names[i], i + 1);
        hr_buf_append_str(b, "PING\r\n");
        c->want_confirms = 1;
    } else if (n > 0) {
        resp_subscribe(b, verb, names, n);
        c->want_confirms += n;
    } else {
        const char *argv[1] = {"PING"};
        size_t lens[1] = {4};
        hr_resp_w_command(b, 1, argv, lens);
        c->want_confirms++;
    }
    for (int i = 0; i < n; i++)
        hr_free(names[i]);
    hr_free(names);
}

void hb_build_templates(void)
{
    size_t B = (size_t)g.o.payload;
    char *payload = hr_malloc(B);
    memset(payload, 'x', B);
    for (int j = 0; j < g.o.channels; j++) {
        hb_chan *ch = &g.chans[j];
        hr_buf_init(&ch->tmpl);
        if (g.o.proto == HB_PROTO_NATS) {
            hr_buf_appendf(&ch->tmpl, "PUB %s %zu\r\n", ch->name, B);
            ch->pay_off = ch->tmpl.len;
            hr_buf_append(&ch->tmpl, payload, B);
            hr_buf_append(&ch->tmpl, "\r\n", 2);
        } else {
            const char *verb = g.o.mode == HB_SUB_SHARDED ? "SPUBLISH" : "PUBLISH";
            const char *argv[3] = {verb, ch->name, payload};
            size_t lens[3] = {strlen(verb), ch->nlen, B};
            hr_resp_w_command(&ch->tmpl, 3, argv, lens);
            ch->pay_off = ch->tmpl.len - 2 - B;
        }
    }
    hr_free(payload);
}
