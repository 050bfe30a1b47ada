/*
 * monitor.c - MONITOR: every command the server runs, as one status line to
 * each monitoring connection.
 *
 * A line is "+<unix time>.<microseconds> [<db> <client address>] "arg" ...":
 * written after the command ran (so a command EXEC runs comes before the
 * EXEC), with the database the client is in afterwards, and arguments quoted
 * with C-style escapes. Commands flagged admin (CONFIG, MONITOR itself...)
 * are not shown, nor are commands refused before running; the arguments of
 * AUTH and the credentials of HELLO ... AUTH are replaced by "(redacted)".
 * The line is encoded once and shared by every monitor.
 *
 * A monitoring connection may still run commands that do not touch the
 * keyspace (PING, SUBSCRIBE, CLIENT ...); RESET ends monitoring.
 */
#include "server.h"
#include "alloc.h"
#include "cmds.h"
#include "hrtime.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static void remove_at(hr_server *s, size_t i)
{
    memmove(&s->monitors[i], &s->monitors[i + 1], (s->nmonitors - i - 1) * sizeof(*s->monitors));
    s->nmonitors--;
}

void hr_monitor_remove(hr_conn *c)
{
    if (!(c->flags & HR_CONN_MONITOR)) return;
    c->flags &= ~HR_CONN_MONITOR;
    hr_server *s = c->srv;
    for (size_t i = 0; i < s->nmonitors; i++)
        if (s->monitors[i] == c) {
            remove_at(s, i);
            return;
        }
}

HR_CMD(monitor)
{
    /* Inside EXEC the connection cannot start streaming (Redis's rule for
     * clients that may not block). */
    if (c->flags & HR_CONN_IN_EXEC) {
        hr_reply_error(c, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    if (c->flags & HR_CONN_MONITOR) return; /* already monitoring: no reply, as Redis */
    hr_server *s = c->srv;
    if (s->nmonitors == s->monitors_cap) {
        s->monitors_cap = s->monitors_cap ? s->monitors_cap * 2 : 4;
        s->monitors = hr_realloc(s->monitors, s->monitors_cap * sizeof(*s->monitors));
    }
    s->monitors[s->nmonitors++] = c;
    c->flags |= HR_CONN_MONITOR;
    hr_reply_ok(c);
}

/* Appends s quoted: printable bytes as they are, \\ \" \n \r \t \a \b, and
 * any other byte as \xHH. */
static void append_repr(hr_buf *b, const char *p, size_t len)
{
    hr_buf_append_char(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '\\': hr_buf_append(b, "\\\\", 2); break;
        case '"': hr_buf_append(b, "\\\"", 2); break;
        case '\n': hr_buf_append(b, "\\n", 2); break;
        case '\r': hr_buf_append(b, "\\r", 2); break;
        case '\t': hr_buf_append(b, "\\t", 2); break;
        case '\a': hr_buf_append(b, "\\a", 2); break;
        case '\b': hr_buf_append(b, "\\b", 2); break;
        default:
            if (ch >= 0x20 && ch < 0x7f) {
                hr_buf_append_char(b, (char)ch);
            } else {
                char hex[5];
                snprintf(hex, sizeof(hex), "\\x%02x", ch);
                hr_buf_append(b, hex, 4);
            }
        }
    }
    hr_buf_append_char(b, '"');
}

/* The arguments that are credentials and must not be shown: [*from, *to).
 * AUTH: all of them; HELLO [protover [AUTH username password] ...]: the two
 * after AUTH. */
static void redacted_range(const hr_command *cmd, int argc, hr_arg *argv, int *from, int *to)
{
    *from = *to = 0;
    if (!strcmp(cmd->name, "auth")) {
        *from = 1;
        *to = argc;
    } else if (!strcmp(cmd->name, "hello")) {
        for (int j = 2; j + 2 < argc; j++)
            if (hr_arg_eq(&argv[j], "auth")) {
                *from = j + 1;
                *to = j + 3;
                return;
            }
    }
}

void hr_monitor_feed(hr_conn *c, const hr_command *cmd, int argc, hr_arg *argv)
{
    hr_server *s = c->srv;
    hr_buf line = HR_BUF_INIT;
    int64_t now = hr_wall_us();
    char head[160];
    int n;
    if (c->flags & HR_CONN_UNIX)
        n = snprintf(head, sizeof(head), "+%lld.%06lld [%d unix:%s]", (long long)(now / 1000000),
                     (long long)(now % 1000000), c->db, s->cfg.unixsocket ? s->cfg.unixsocket : "");
    else
        n = snprintf(head, sizeof(head), "+%lld.%06lld [%d %s]", (long long)(now / 1000000),
                     (long long)(now % 1000000), c->db, c->addr);
    if (n > 0) hr_buf_append(&line, head, (size_t)n < sizeof(head) ? (size_t)n : sizeof(head) - 1);
    int from, to;
    redacted_range(cmd, argc, argv, &from, &to);
    for (int i = 0; i < argc; i++) {
        hr_buf_append_char(&line, ' ');
        if (i >= from && i < to)
            hr_buf_append_str(&line, "\"(redacted)\"");
        else
            append_repr(&line, argv[i].ptr, argv[i].len);
    }
    hr_buf_append(&line, "\r\n", 2);
    hr_frame *f = hr_frame_new(line.data, line.len);
    hr_buf_release(&line);
    for (size_t i = 0; i < s->nmonitors; i++)
        hr_conn_push(s->monitors[i], f); /* a push: CLIENT REPLY OFF does not apply */
    hr_frame_decref(f);
}
