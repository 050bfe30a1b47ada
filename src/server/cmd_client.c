/*
 * cmd_client.c - CLIENT subcommands and the CLIENT LIST / INFO line.
 */
#include "server.h"
#include "alloc.h"
#include "cmds.h"
#include "multi.h"
#include "hrtime.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

void hr_conn_describe(const hr_conn *c, hr_buf *out)
{
    uint64_t now = hr_mono_ms();
    char flags[24];
    int nf = 0;
    if (c->flags & HR_CONN_MONITOR) flags[nf++] = 'O';
    if (hr_conn_subscriptions(c) > 0) flags[nf++] = 'P';
    if (c->flags & HR_CONN_MULTI) flags[nf++] = 'x';
    if (c->tflags & HR_TRACK_ON) {
        flags[nf++] = 't';
        if (c->tflags & HR_TRACK_BROKEN_REDIR) flags[nf++] = 'R';
        if (c->tflags & HR_TRACK_BCAST) flags[nf++] = 'B';
    }
    if (c->flags & HR_CONN_DIRTY_CAS) flags[nf++] = 'd';
    if (c->flags & HR_CONN_CLOSE_AFTER_REPLY) flags[nf++] = 'c';
    if (c->flags & HR_CONN_CLOSE_ASAP) flags[nf++] = 'A';
    if (c->flags & HR_CONN_UNIX) flags[nf++] = 'U';
    if (c->flags & HR_CONN_NO_EVICT) flags[nf++] = 'e';
    if (c->flags & HR_CONN_NO_TOUCH) flags[nf++] = 'T';
    if (nf == 0) flags[nf++] = 'N';
    flags[nf] = '\0';
    char cmd[96] = "NULL";
    if (c->last_cmd) hr_command_fullname(c->last_cmd, cmd, sizeof(cmd));
    int mask = hr_loop_fd_mask(c->srv->loop, c->fd);
    const char *events = (mask & HR_LOOP_READ) && (mask & HR_LOOP_WRITE) ? "rw"
                         : (mask & HR_LOOP_READ)                        ? "r"
                         : (mask & HR_LOOP_WRITE)                       ? "w"
                                                                        : "";
    size_t omem = hr_outq_memory(&c->out);
    size_t tot = sizeof(*c) + c->qbuf.cap + omem;
    hr_buf_appendf(out,
                   "id=%llu addr=%s laddr=%s fd=%d name=%s age=%llu idle=%llu flags=%s db=%d "
                   "sub=%zu psub=%zu ssub=%zu multi=%lld qbuf=%zu qbuf-free=%zu argv-mem=0 "
                   "multi-mem=0 rbs=%zu rbp=%zu obl=%zu oll=%zu omem=%zu tot-mem=%zu events=%s "
                   "cmd=%s user=default redir=%lld resp=%d lib-name=%s lib-ver=%s",
                   (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
                   (unsigned long long)((now - c->ctime_ms) / 1000),
                   (unsigned long long)((now - c->last_ms) / 1000), flags, c->db,
                   hr_dict_size(&c->channels), hr_dict_size(&c->patterns),
                   hr_dict_size(&c->shard_channels), hr_multi_queued(c), c->qbuf.len, c->qbuf.cap - c->qbuf.len,
                   c->out.rbuf.cap, c->qbuf_peak, c->out.rbuf.len, c->out.count, omem, tot, events,
                   cmd, (c->tflags & HR_TRACK_ON) ? (long long)c->tracking_redir : -1LL, c->resp,
                   c->lib_name ? c->lib_name : "", c->lib_ver ? c->lib_ver : "");
}

HR_CMD(client_id)
{
    hr_reply_int(c, (long long)c->id);
}

HR_CMD(client_setname)
{
    const char *err = hr_client_name_error(argv[2].ptr, argv[2].len);
    if (err) {
        hr_reply_error(c, err);
        return;
    }
    hr_free(c->name);
    c->name = argv[2].len ? hr_strndup(argv[2].ptr, argv[2].len) : NULL;
    hr_reply_ok(c);
}

HR_CMD(client_getname)
{
    if (c->name) hr_reply_bulk_str(c, c->name);
    else hr_reply_null(c);
}

HR_CMD(client_info)
{
    hr_buf b = HR_BUF_INIT;
    hr_conn_describe(c, &b);
    hr_buf_append_char(&b, '\n');
    hr_reply_verbatim(c, b.data, b.len);
    hr_buf_release(&b);
}

enum { TYPE_ANY = -1, TYPE_NORMAL = 0, TYPE_PUBSUB = 2, TYPE_REPLICA = 1, TYPE_MASTER = 3 };

static int parse_type(const hr_arg *a)
{
    if (hr_arg_eq(a, "normal")) return TYPE_NORMAL;
    if (hr_arg_eq(a, "pubsub")) return TYPE_PUBSUB;
    if (hr_arg_eq(a, "replica") || hr_arg_eq(a, "slave")) return TYPE_REPLICA;
    if (hr_arg_eq(a, "master")) return TYPE_MASTER;
    return -2;
}

static int conn_type(const hr_conn *c)
{
    return hr_conn_subscriptions(c) > 0 ? TYPE_PUBSUB : TYPE_NORMAL;
}

HR_CMD(client_list)
{
    int type = TYPE_ANY;
    long long *ids = NULL;
    int nids = 0;
    if (argc == 4 && hr_arg_eq(&argv[2], "type")) {
        type = parse_type(&argv[3]);
        if (type == -2) {
            hr_reply_errorf(c, "ERR Unknown client type '%.*s'", (int)argv[3].len, argv[3].ptr);
            return;
        }
    } else if (argc > 3 && hr_arg_eq(&argv[2], "id")) {
        ids = hr_malloc(sizeof(*ids) * (size_t)(argc - 3));
        for (int i = 3; i < argc; i++) {
            long long id;
            if (!hr_arg_ll(&argv[i], &id) || id <= 0) {
                hr_reply_error(c, "ERR Invalid client ID");
                hr_free(ids);
                return;
            }
            ids[nids++] = id;
        }
    } else if (argc != 2) {
        hr_reply_syntax_error(c);
        return;
    }
    hr_buf b = HR_BUF_INIT;
    if (ids) {
        for (int i = 0; i < nids; i++) {
            hr_conn *o = hr_conn_by_id(c->srv, (uint64_t)ids[i]);
            if (!o) continue;
            hr_conn_describe(o, &b);
            hr_buf_append_char(&b, '\n');
        }
    } else {
        for (hr_conn *o = c->srv->clients_head; o; o = o->next) {
            if (type != TYPE_ANY && conn_type(o) != type) continue;
            hr_conn_describe(o, &b);
            hr_buf_append_char(&b, '\n');
        }
    }
    hr_reply_verbatim(c, b.data ? b.data : "", b.len);
    hr_buf_release(&b);
    hr_free(ids);
}

/* CLIENT KILL addr:port (old form) or CLIENT KILL <filter> <value> ... */
HR_CMD(client_kill)
{
    hr_server *s = c->srv;
    if (argc == 3) {
        for (hr_conn *o = s->clients_head; o; o = o->next) {
            if (strlen(o->addr) == argv[2].len && !memcmp(o->addr, argv[2].ptr, argv[2].len)) {
                if (o == c) c->flags |= HR_CONN_CLOSE_AFTER_REPLY;
                else hr_conn_close_async(o);
                hr_reply_ok(c);
                return;
            }
        }
        hr_reply_error(c, "ERR No such client");
        return;
    }
    long long id = 0, maxage = 0;
    int type = TYPE_ANY, skipme = 1;
    const hr_arg *addr = NULL, *laddr = NULL, *user = NULL;
    if (argc % 2 != 0) {
        hr_reply_syntax_error(c);
        return;
    }
    for (int i = 2; i < argc; i += 2) {
        const hr_arg *k = &argv[i], *v = &argv[i + 1];
        if (hr_arg_eq(k, "id")) {
            if (!hr_arg_ll(v, &id) || id <= 0) {
                hr_reply_error(c, "ERR client-id should be greater than 0");
                return;
            }
        } else if (hr_arg_eq(k, "type")) {
            type = parse_type(v);
            if (type == -2) {
                hr_reply_errorf(c, "ERR Unknown client type '%.*s'", (int)v->len, v->ptr);
                return;
            }
        } else if (hr_arg_eq(k, "addr")) {
            addr = v;
        } else if (hr_arg_eq(k, "laddr")) {
            laddr = v;
        } else if (hr_arg_eq(k, "user")) {
            user = v;
        } else if (hr_arg_eq(k, "skipme")) {
            if (hr_arg_eq(v, "yes")) skipme = 1;
            else if (hr_arg_eq(v, "no")) skipme = 0;
            else {
                hr_reply_syntax_error(c);
                return;
            }
        } else if (hr_arg_eq(k, "maxage")) {
            if (!hr_arg_ll(v, &maxage) || maxage < 0) {
                hr_reply_syntax_error(c);
                return;
            }
        } else {
            hr_reply_syntax_error(c);
            return;
        }
    }
    if (user && !hr_arg_eq(user, "default")) {
        hr_reply_errorf(c, "ERR No such user '%.*s'", (int)user->len, user->ptr);
        return;
    }
    long long killed = 0;
    uint64_t now = hr_mono_ms();
    for (hr_conn *o = s->clients_head; o; o = o->next) {
        if (o->flags & HR_CONN_CLOSE_ASAP) continue;
        if (id && o->id != (uint64_t)id) continue;
        if (type != TYPE_ANY && conn_type(o) != type) continue;
        if (addr && (strlen(o->addr) != addr->len || memcmp(o->addr, addr->ptr, addr->len)))
            continue;
        if (laddr && (strlen(o->laddr) != laddr->len || memcmp(o->laddr, laddr->ptr, laddr->len)))
            continue;
        if (maxage && (long long)((now - o->ctime_ms) / 1000) < maxage) continue;
        if (o == c && skipme) continue;
        if (o == c) c->flags |= HR_CONN_CLOSE_AFTER_REPLY;
        else hr_conn_close_async(o);
        killed++;
    }
    hr_reply_int(c, killed);
}

HR_CMD(client_reply)
{
    if (hr_arg_eq(&argv[2], "on")) {
        c->flags &= ~(HR_CONN_REPLY_OFF | HR_CONN_REPLY_SKIP | HR_CONN_REPLY_SKIP_NEXT);
        hr_reply_ok(c);
    } else if (hr_arg_eq(&argv[2], "off")) {
        c->flags |= HR_CONN_REPLY_OFF;
    } else if (hr_arg_eq(&argv[2], "skip")) {
        if (!(c->flags & HR_CONN_REPLY_OFF)) c->flags |= HR_CONN_REPLY_SKIP_NEXT;
    } else {
        hr_reply_syntax_error(c);
    }
}

HR_CMD(client_setinfo)
{
    const hr_arg *attr = &argv[2], *val = &argv[3];
    char **dst;
    const char *what;
    if (hr_arg_eq(attr, "lib-name")) {
        dst = &c->lib_name;
        what = "lib-name";
    } else if (hr_arg_eq(attr, "lib-ver")) {
        dst = &c->lib_ver;
        what = "lib-ver";
    } else {
        hr_reply_errorf(c, "ERR Unrecognized option '%.*s'", hr_arg_preview(attr), attr->ptr);
        return;
    }
    for (size_t i = 0; i < val->len; i++) {
        if (val->ptr[i] < '!' || val->ptr[i] > '~') {
            hr_reply_errorf(c, "ERR %s cannot contain spaces, newlines or special characters.",
                            what);
            return;
        }
    }
    hr_free(*dst);
    *dst = val->len ? hr_strndup(val->ptr, val->len) : NULL;
    hr_reply_ok(c);
}

HR_CMD(client_no_evict)
{
    if (hr_arg_eq(&argv[2], "on")) c->flags |= HR_CONN_NO_EVICT;
    else if (hr_arg_eq(&argv[2], "off")) c->flags &= ~HR_CONN_NO_EVICT;
    else {
        hr_reply_syntax_error(c);
        return;
    }
    hr_reply_ok(c);
}

HR_CMD(client_no_touch)
{
    if (hr_arg_eq(&argv[2], "on")) c->flags |= HR_CONN_NO_TOUCH;
    else if (hr_arg_eq(&argv[2], "off")) c->flags &= ~HR_CONN_NO_TOUCH;
    else {
        hr_reply_syntax_error(c);
        return;
    }
    hr_reply_ok(c);
}

HR_CMD(client_help)
{
    static const char *help[] = {
        "CACHING yes|no",
        "    With tracking in OPTIN / OPTOUT mode: track (or not) the keys of the next command.",
        "GETNAME",
        "    Return the name of this connection.",
        "GETREDIR",
        "    Return the id tracking invalidations are redirected to (0: none, -1: tracking off).",
        "ID",
        "    Return the id of this connection.",
        "INFO",
        "    Return information about this connection.",
        "KILL <ip:port> | <option> <value> [<option> <value> ...]",
        "    Close matching connections. Options: ID <id>, TYPE normal|pubsub, ADDR <ip:port>,",
        "    LADDR <ip:port>, USER <name>, SKIPME yes|no, MAXAGE <seconds>.",
        "LIST [TYPE normal|pubsub] [ID <id> ...]",
        "    Return information about connections.",
        "NO-EVICT on|off",
        "    Exempt this connection from client eviction.",
        "NO-TOUCH on|off",
        "    Keep this connection's reads from changing keys' access times (TOUCH still does).",
        "REPLY on|off|skip",
        "    Turn replies to this connection on or off, or skip the next one.",
        "SETINFO lib-name|lib-ver <value>",
        "    Record the client library's name or version.",
        "SETNAME <name>",
        "    Name this connection.",
        "TRACKING on|off [REDIRECT <id>] [BCAST] [PREFIX <prefix> ...] [OPTIN] [OPTOUT] [NOLOOP]",
        "    Turn server-assisted client-side caching on or off for this connection.",
        "TRACKINGINFO",
        "    Return this connection's client-side caching state.",
        NULL};
    hr_reply_help(c, "CLIENT", help);
}
