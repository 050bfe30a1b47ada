/*
 * reply.c - the reply API of server.h: encodes values with the RESP writers
 * into the connection's private reply buffer and queues them.
 *
 * CLIENT REPLY OFF/SKIP: when replies are suppressed, nothing is queued.
 * Pushes are never suppressed, as in Redis: published messages bypass this
 * file (shared frames), and (un)subscribe confirmations are written with
 * HR_CONN_PUSHING set.
 */
#include "server.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static inline bool replies_off(const hr_conn *c)
{
    if (c->flags & HR_CONN_CLOSE_ASAP) return true;
    return (c->flags & (HR_CONN_REPLY_OFF | HR_CONN_REPLY_SKIP)) && !(c->flags & HR_CONN_PUSHING);
}

/* client-output-buffer-limit applies to replies as to pushes (a huge KEYS
 * or GET reply to a client that does not read); skipped while the queue is
 * below every configured limit. */
static inline void check_limits(hr_conn *c)
{
    if (c->srv->obl_floor && hr_conn_output_size(c) >= c->srv->obl_floor) hr_conn_check_obl(c);
}

#define BEGIN(c)                                                                                   \
    if (replies_off(c)) return;                                                                    \
    hr_buf *b = hr_outq_rbuf(&(c)->out);                                                           \
    size_t before = b->len
#define END(c)                                                                                     \
    hr_outq_commit(&(c)->out, before);                                                             \
    (c)->flags |= HR_CONN_URGENT;                                                                  \
    hr_conn_want_write(c);                                                                         \
    check_limits(c)

void hr_reply_raw(hr_conn *c, const char *s, size_t len)
{
    BEGIN(c);
    hr_buf_append(b, s, len);
    END(c);
}

void hr_reply_simple(hr_conn *c, const char *s)
{
    BEGIN(c);
    hr_resp_w_simple(b, s, strlen(s));
    END(c);
}

void hr_reply_ok(hr_conn *c)
{
    hr_reply_raw(c, "+OK\r\n", 5);
}

void hr_reply_error(hr_conn *c, const char *msg)
{
    hr_server *s = c->srv;
    s->stats.total_error_replies++;
    s->call_errors++;
    /* An error code is an upper-case word followed by a space. */
    const char *p = msg;
    while (*p && isupper((unsigned char)*p)) p++;
    bool has_code = p != msg && *p == ' ';
    if (has_code) hr_errorstats_count(s, msg, (size_t)(p - msg));
    else hr_errorstats_count(s, "ERR", 3);
    BEGIN(c);
    if (!has_code) hr_buf_append(b, "-ERR ", 5);
    else hr_buf_append_char(b, '-');
    /* Newlines would break the protocol: Redis replaces them with spaces. */
    size_t start = b->len;
    hr_buf_append_str(b, msg);
    for (size_t i = start; i < b->len; i++)
        if (b->data[i] == '\r' || b->data[i] == '\n') b->data[i] = ' ';
    hr_buf_append(b, "\r\n", 2);
    END(c);
}

void hr_reply_errorf(hr_conn *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hr_reply_error(c, msg);
}

void hr_reply_int(hr_conn *c, long long v)
{
    BEGIN(c);
    hr_resp_w_int(b, v);
    END(c);
}

void hr_reply_bulk(hr_conn *c, const char *s, size_t len)
{
    BEGIN(c);
    hr_resp_w_bulk(b, s, len);
    END(c);
}

void hr_reply_bulk_str(hr_conn *c, const char *s)
{
    hr_reply_bulk(c, s, strlen(s));
}

void hr_reply_bulk_ll(hr_conn *c, long long v)
{
    BEGIN(c);
    hr_resp_w_bulk_ll(b, v);
    END(c);
}

void hr_reply_null(hr_conn *c)
{
    BEGIN(c);
    hr_resp_w_null(b, c->resp);
    END(c);
}

void hr_reply_null_array(hr_conn *c)
{
    BEGIN(c);
    hr_resp_w_null_array(b, c->resp);
    END(c);
}

void hr_reply_array(hr_conn *c, long long n)
{
    BEGIN(c);
    hr_resp_w_array_hdr(b, n);
    END(c);
}

void hr_reply_map(hr_conn *c, long long pairs)
{
    BEGIN(c);
    hr_resp_w_map_hdr(b, c->resp, pairs);
    END(c);
}

void hr_reply_set(hr_conn *c, long long n)
{
    BEGIN(c);
    hr_resp_w_set_hdr(b, c->resp, n);
    END(c);
}

void hr_reply_push(hr_conn *c, long long n)
{
    BEGIN(c);
    hr_resp_w_push_hdr(b, c->resp, n);
    END(c);
}

void hr_reply_double(hr_conn *c, double v)
{
    BEGIN(c);
    hr_resp_w_double(b, c->resp, v);
    END(c);
}

void hr_reply_bool(hr_conn *c, bool v)
{
    BEGIN(c);
    hr_resp_w_bool(b, c->resp, v);
    END(c);
}

void hr_reply_verbatim(hr_conn *c, const char *s, size_t len)
{
    BEGIN(c);
    hr_resp_w_verbatim(b, c->resp, s, len);
    END(c);
}

void hr_reply_wrong_arity(hr_conn *c, const char *cmdname)
{
    hr_reply_errorf(c, "ERR wrong number of arguments for '%s' command", cmdname);
}

void hr_reply_syntax_error(hr_conn *c)
{
    hr_reply_error(c, "ERR syntax error");
}

int hr_arg_preview(const hr_arg *a)
{
    size_t n = strnlen(a->ptr, a->len);
    return (int)(n > 128 ? 128 : n);
}

void hr_reply_unknown_subcommand(hr_conn *c, const char *cmd, const hr_arg *sub)
{
    hr_reply_errorf(c, "ERR unknown subcommand '%.*s'. Try %s HELP.", hr_arg_preview(sub),
                    sub->ptr, cmd);
}

void hr_reply_subcommand_error(hr_conn *c, const char *cmd, const hr_arg *sub)
{
    hr_reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s "
                       "HELP.",
                    hr_arg_preview(sub), sub->ptr, cmd);
}

void hr_reply_help(hr_conn *c, const char *cmd, const char *const *lines)
{
    long long n = 0;
    while (lines[n]) n++;
    hr_reply_array(c, n + 3);
    char head[128];
    snprintf(head, sizeof(head), "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
             cmd);
    hr_reply_simple(c, head);
    for (long long i = 0; i < n; i++) hr_reply_simple(c, lines[i]);
    hr_reply_simple(c, "HELP");
    hr_reply_simple(c, "    Print this help.");
}

/* Deferred lengths: a placeholder of fixed width is reserved and later
 * overwritten; unused width is filled by rewriting the reply tail. Simple
 * approach: remember the offset and splice the header in at the end. */
size_t hr_reply_defer(hr_conn *c)
{
    if (replies_off(c)) return (size_t)-1;
    return hr_outq_rbuf(&c->out)->len;
}

void hr_reply_deferred_len(hr_conn *c, size_t token, char type, long long n)
{
    if (token == (size_t)-1 || replies_off(c)) return;
    hr_buf *b = hr_outq_rbuf(&c->out);
    char hdr[32];
    if (c->resp == 2 && type == '%') {
        type = '*';
        n *= 2;
    } else if (c->resp == 2 && (type == '~' || type == '>')) {
        type = '*';
    }
    int hl = snprintf(hdr, sizeof(hdr), "%c%lld\r\n", type, n);
    size_t before = b->len;
    hr_buf_reserve(b, (size_t)hl);
    memmove(b->data + token + hl, b->data + token, b->len - token);
    memcpy(b->data + token, hdr, (size_t)hl);
    b->len += (size_t)hl;
    /* The bytes since token were already committed; commit only the header. */
    hr_outq_commit(&c->out, before);
    c->flags |= HR_CONN_URGENT;
    hr_conn_want_write(c);
    check_limits(c);
}

bool hr_arg_eq(const hr_arg *a, const char *lit)
{
    return hr_streq_nocase(a->ptr, a->len, lit);
}

bool hr_arg_ll(const hr_arg *a, long long *v)
{
    return hr_str2ll(a->ptr, a->len, v);
}
