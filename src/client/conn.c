/*
 * conn.c - one client connection: connect, handshake, request FIFO, reply
 * and push dispatch, health check, backoff. Every function here runs with
 * c->mu held (see client_int.h).
 *
 * Replies are matched to requests by order: each command appended to wbuf
 * gets an hc_req at the tail of the FIFO, each reply completes the head.
 * Pushes are not replies: with RESP3 they are the '>' type; on a RESP2
 * subscriber connection they are arrays whose first element is one of the
 * pub/sub words (the only other replies there are +PONG / ["pong", ""] and
 * handshake replies). A (p|s)(un)subscribe command is answered by one
 * confirmation push per name (or by one error reply), so its request stays at
 * the head until `confirms` confirmations came; a confirmation that does not
 * match the head is unsolicited (e.g. a server-side sunsubscribe) and ignored.
 *
 * Health: while a reply is due, a connection that receives nothing for
 * health_timeout_ms is declared dead (half-open socket, frozen server,
 * black-holed route); a connection idle for health_interval_ms is sent a PING
 * so that the first rule can apply. A connection whose reading is paused by
 * backpressure is exempt (the silence is ours).
 */
#include "client_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "alloc.h"
#include "hrtime.h"

#define HC_READ_CHUNK (64 * 1024)
#define HC_READ_BUDGET 16 /* chunks per readiness event, for fairness */

/* ---- requests ------------------------------------------------------------ */

hc_req *hc_req_new(int kind)
{
    hc_req *r = hr_calloc(1, sizeof(*r));
    r->kind = kind;
    return r;
}

void hc_req_free(hc_req *r)
{
    if (!r) return;
    for (int i = 0; i < r->nsubs; i++)
        hc_sub_unref(r->subs[i]);
    hr_free(r->subs);
    hr_free(r->gens);
    hr_free(r);
}

static hc_req *fifo_pop(hc_conn *conn)
{
    hc_req *r = conn->head;
    if (!r) return NULL;
    conn->head = r->next;
    if (!conn->head) conn->tail = NULL;
    conn->nreqs--;
    if (conn->due == r) conn->due = r->next;
    if (r->kind == HC_REQ_CB) conn->ncb--;
    r->next = NULL;
    return r;
}

/* ---- life cycle ---------------------------------------------------------- */

hc_conn *hc_conn_new(herald_client_t *c, hc_node *node, herald_conn_role_t role)
{
    hc_conn *conn = hr_calloc(1, sizeof(*conn));
    conn->c = c;
    conn->node = node;
    conn->role = role;
    conn->state = HC_IDLE;
    conn->t.ops = &hc_transport_socket;
    conn->t.fd = -1;
    conn->reader = hr_reader_new(NULL);
    hr_buf_init(&conn->wbuf);
    return conn;
}

void hc_conn_free(hc_conn *conn)
{
    if (!conn) return;
    for (hc_req *r; (r = fifo_pop(conn));)
        hc_req_free(r);
    if (conn->t.fd >= 0) conn->t.ops->close(&conn->t);
    hr_reader_free(conn->reader);
    hr_buf_release(&conn->wbuf);
    hr_free(conn);
}

static bool paused(const hc_conn *conn)
{
    return conn->c->bp_paused && hc_conn_is_sub(conn);
}

/* Recomputes the epoll interest of conn from its state. */
static void update_events(hc_conn *conn)
{
    if (conn->t.fd < 0) return;
    uint32_t ev = 0;
    if (conn->state == HC_CONNECTING) {
        ev = EPOLLOUT;
    } else {
        if (!paused(conn)) ev |= EPOLLIN;
        if (conn->wpos < conn->wbuf.len) ev |= EPOLLOUT;
    }
    hc_epoll_update(conn, ev);
}

static const char *role_name(herald_conn_role_t role)
{
    switch (role) {
    case HERALD_ROLE_COMMAND: return "command";
    case HERALD_ROLE_SUBSCRIBER: return "subscriber";
    default: return "command+subscriber";
    }
}

static uint64_t backoff_ms(hc_conn *conn)
{
    herald_client_t *c = conn->c;
    double d = c->opts.reconnect_initial_ms;
    for (int i = 0; i < conn->attempts && d < c->opts.reconnect_max_ms; i++)
        d *= 2;
    if (d > c->opts.reconnect_max_ms) d = c->opts.reconnect_max_ms;
    double j = c->opts.reconnect_jitter;
    if (j > 0) d *= 1.0 + j * (2.0 * hc_random01(c) - 1.0);
    if (d < 1) d = 1;
    return (uint64_t)d;
}

/* Closes the socket and forgets everything tied to it. */
static void close_socket(hc_conn *conn, int req_err)
{
    herald_client_t *c = conn->c;
    if (conn->t.fd >= 0) {
        hc_epoll_del(conn);
        conn->t.ops->close(&conn->t);
    }
    hr_reader_free(conn->reader);
    conn->reader = hr_reader_new(NULL);
    conn->wbuf.len = 0;
    conn->wpos = 0;
    hr_buf_trim(&conn->wbuf, 64 * 1024);
    for (hc_req *r; (r = fifo_pop(conn));)
        hc_req_complete(conn, r, req_err, NULL);
    conn->subs_pending = 0;
    if (hc_conn_is_sub(conn)) {
        for (int k = 0; k < 3; k++) {
            hr_dict_iter it;
            hr_dict_iter_init(&it, &c->subs[k]);
            for (hr_dict_entry *e; (e = hr_dict_next(&it));)
                ((hc_sub *)e->val)->confirmed = false;
            hr_dict_iter_done(&it);
        }
    }
}

void hc_conn_fail(hc_conn *conn, int err, const char *detail)
{
    herald_client_t *c = conn->c;
    if (conn->state == HC_DOWN || conn->state == HC_IDLE || conn->state == HC_BACKOFF) return;
    bool was_ready = conn->state == HC_READY;
    conn->state = HC_BACKOFF; /* before completing requests: no re-entry */
    close_socket(conn, c->stopping ? HERALD_ECLOSED : HERALD_EIO);
    conn->last_err = err;
    snprintf(conn->last_detail, sizeof(conn->last_detail), "%s", detail ? detail : "");
    conn->failures++;
    if (was_ready) {
        c->stats.disconnects++;
        hc_deliver_event(c, HERALD_EVENT_DISCONNECTED, conn->role, err, conn->last_detail, 0);
    }
    if (c->stopping || !c->opts.reconnect) {
        conn->state = HC_DOWN;
    } else {
        conn->state = HC_BACKOFF;
        conn->next_attempt_ms = hr_mono_ms() + backoff_ms(conn);
        if (conn->attempts < 64) conn->attempts++;
        hc_wake_io(c);
    }
    hc_notify(c);
}

void hc_conn_shutdown(hc_conn *conn)
{
    if (conn->state == HC_HANDSHAKE || conn->state == HC_READY || conn->state == HC_CONNECTING)
        hc_conn_fail(conn, HERALD_ECLOSED, "client closed");
    close_socket(conn, HERALD_ECLOSED);
    conn->state = HC_DOWN;
}

/* ---- sending ------------------------------------------------------------- */

void hc_conn_append(hc_conn *conn, int argc, const char *const *argv, const size_t *lens,
                    hc_req *req)
{
    herald_client_t *c = conn->c;
    hr_resp_w_command(&conn->wbuf, argc, argv, lens);
    uint64_t now = hr_mono_ms();
    req->sent_ms = now;
    req->deadline_ms = now + (uint64_t)c->opts.command_timeout_ms;
    req->next = NULL;
    if (conn->tail)
        conn->tail->next = req;
    else
        conn->head = req;
    conn->tail = req;
    conn->nreqs++;
    if (!conn->due) conn->due = req;
    if (req->kind == HC_REQ_CB) conn->ncb++;
    c->stats.commands_sent++;
}

void hc_conn_flush(hc_conn *conn)
{
    if (conn->t.fd < 0 || conn->state < HC_HANDSHAKE || conn->state > HC_READY) return;
    while (conn->wpos < conn->wbuf.len) {
        struct iovec iov = {conn->wbuf.data + conn->wpos, conn->wbuf.len - conn->wpos};
        ssize_t n = conn->t.ops->writev(&conn->t, &iov, 1);
        if (n > 0) {
            conn->wpos += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            char d[128];
            snprintf(d, sizeof(d), "write: %s", n < 0 ? strerror(errno) : "closed");
            hc_conn_fail(conn, HERALD_EIO, d);
            return;
        }
    }
    if (conn->wpos == conn->wbuf.len) {
        conn->wbuf.len = 0;
        conn->wpos = 0;
        hr_buf_trim(&conn->wbuf, 256 * 1024);
    } else if (conn->wpos > 1024 * 1024 && conn->wpos > conn->wbuf.len / 2) {
        hr_buf_consume(&conn->wbuf, conn->wpos);
        conn->wpos = 0;
    }
    update_events(conn);
}

static const char *const sub_words[3][2] = {
    {"subscribe", "unsubscribe"},
    {"psubscribe", "punsubscribe"},
    {"ssubscribe", "sunsubscribe"},
};
static const char *const sub_cmds[3][2] = {
    {"SUBSCRIBE", "UNSUBSCRIBE"},
    {"PSUBSCRIBE", "PUNSUBSCRIBE"},
    {"SSUBSCRIBE", "SUNSUBSCRIBE"},
};

void hc_conn_send_subs(hc_conn *conn, herald_sub_kind_t kind, bool unsub, hc_sub **subs, size_t n)
{
    if (n == 0) return;
    const char **argv = hr_malloc((n + 1) * sizeof(*argv));
    size_t *lens = hr_malloc((n + 1) * sizeof(*lens));
    argv[0] = sub_cmds[kind][unsub];
    lens[0] = strlen(argv[0]);
    for (size_t i = 0; i < n; i++) {
        argv[i + 1] = subs[i]->name;
        lens[i + 1] = subs[i]->len;
    }
    hc_req *r = hc_req_new(HC_REQ_SUB);
    r->confirm_word = sub_words[kind][unsub];
    r->confirms = (long long)n;
    if (!unsub) {
        r->nsubs = (int)n;
        r->subs = hr_malloc(n * sizeof(*r->subs));
        r->gens = hr_malloc(n * sizeof(*r->gens));
        for (size_t i = 0; i < n; i++) {
            subs[i]->refs++;
            subs[i]->confirmed = false;
            r->subs[i] = subs[i];
            r->gens[i] = ++subs[i]->gen;
        }
    }
    conn->subs_pending++;
    hc_conn_append(conn, (int)n + 1, argv, lens, r);
    hr_free(argv);
    hr_free(lens);
}

/* ---- handshake ----------------------------------------------------------- */

static void append_handshake(hc_conn *conn, int argc, const char *const *argv)
{
    size_t lens[12];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    hc_conn_append(conn, argc, argv, lens, hc_req_new(HC_REQ_HANDSHAKE));
}

static void on_connected(hc_conn *conn)
{
    herald_client_t *c = conn->c;
    conn->state = HC_HANDSHAKE;
    conn->last_rx_ms = hr_mono_ms();
    const char *user = c->url.user, *pass = c->url.pass, *name = c->client_name;
    if (c->opts.protocol == 3) {
        const char *argv[8];
        int argc = 0;
        argv[argc++] = "HELLO";
        argv[argc++] = "3";
        if (pass) {
            argv[argc++] = "AUTH";
            argv[argc++] = user ? user : "default";
            argv[argc++] = pass;
        }
        if (name) {
            argv[argc++] = "SETNAME";
            argv[argc++] = name;
        }
        append_handshake(conn, argc, argv);
    } else {
        if (pass) {
            const char *argv[3] = {"AUTH", user ? user : pass, pass};
            append_handshake(conn, user ? 3 : 2, argv);
        }
        if (name) {
            const char *argv[3] = {"CLIENT", "SETNAME", name};
            append_handshake(conn, 3, argv);
        }
    }
    if (c->url.db != 0 && (conn->role & HERALD_ROLE_COMMAND)) {
        char db[24];
        snprintf(db, sizeof(db), "%d", c->url.db);
        const char *argv[2] = {"SELECT", db};
        append_handshake(conn, 2, argv);
    }
    if (!conn->tail) {
        /* Nothing to negotiate: still make sure the server answers. */
        const char *argv[1] = {"PING"};
        append_handshake(conn, 1, argv);
    }
    conn->tail->last_handshake = true;
    conn->resub_armed = hc_conn_is_sub(conn);
    if (hc_conn_is_sub(conn)) hc_replay_subs(conn);
    hc_conn_flush(conn);
}

/* Reports RESUBSCRIBED once per connection: when it is ready, at least one
 * subscription is registered and every (un)subscribe sent on it so far has
 * been answered - i.e. everything registered until then is in force. */
static void check_resubscribed(hc_conn *conn)
{
    herald_client_t *c = conn->c;
    if (!conn->resub_armed || conn->state != HC_READY || conn->subs_pending > 0) return;
    size_t confirmed = 0, total = 0;
    for (int k = 0; k < 3; k++) {
        hr_dict_iter it;
        hr_dict_iter_init(&it, &c->subs[k]);
        for (hr_dict_entry *e; (e = hr_dict_next(&it));) {
            total++;
            if (((hc_sub *)e->val)->confirmed) confirmed++;
        }
        hr_dict_iter_done(&it);
    }
    if (total == 0) return;
    conn->resub_armed = false;
    hc_deliver_event(c, HERALD_EVENT_RESUBSCRIBED, conn->role, HERALD_OK,
                     confirmed == total ? "subscriptions in force" : "some subscriptions refused",
                     confirmed);
}

static void on_ready(hc_conn *conn)
{
    herald_client_t *c = conn->c;
    conn->state = HC_READY;
    if (conn->ever_ready) c->stats.reconnects++;
    conn->ever_ready = true;
    conn->attempts = 0;
    char d[200];
    snprintf(d, sizeof(d), "%s connection to %s ready", role_name(conn->role),
             conn->node->ep.display);
    hc_deliver_event(c, HERALD_EVENT_CONNECTED, conn->role, HERALD_OK, d, 0);
    check_resubscribed(conn);
    hc_notify(c);
}

void hc_conn_start(hc_conn *conn)
{
    herald_client_t *c = conn->c;
    if (c->stopping) {
        conn->state = HC_DOWN;
        return;
    }
    char err[160] = "";
    conn->connect_deadline_ms = hr_mono_ms() + (uint64_t)c->opts.connect_timeout_ms;
    conn->state = HC_CONNECTING;
    int rc = conn->t.ops->connect(&conn->t, &conn->node->ep, err, sizeof(err));
    if (rc < 0) {
        char d[220];
        snprintf(d, sizeof(d), "%s: %s", conn->node->ep.display, err);
        hc_conn_fail(conn, rc, d);
        return;
    }
    if (rc == 0) {
        update_events(conn);
        on_connected(conn);
    } else {
        update_events(conn);
    }
}

/* ---- receiving ----------------------------------------------------------- */

static bool is_str(const hr_reply *r)
{
    return r && (r->type == HR_RESP_BULK || r->type == HR_RESP_STRING) && r->str;
}

static int push_word(const hr_reply *r)
{
    /* 0 message, 1 pmessage, 2 smessage, 3..8 confirmations, -1 other */
    static const char *const words[] = {"message",      "pmessage",    "smessage",
                                        "subscribe",    "unsubscribe", "psubscribe",
                                        "punsubscribe", "ssubscribe",  "sunsubscribe"};
    if (r->elements < 1 || !is_str(r->element[0])) return -1;
    for (int i = 0; i < 9; i++)
        if (strcmp(r->element[0]->str, words[i]) == 0) return i;
    return -1;
}

static bool is_push(const hc_conn *conn, const hr_reply *r)
{
    if (r->type == HR_RESP_PUSH) return true;
    if (conn->c->opts.protocol == 2 && conn->role == HERALD_ROLE_SUBSCRIBER &&
        r->type == HR_RESP_ARRAY && r->elements >= 3)
        return push_word(r) >= 0;
    return false;
}

static void on_confirm(hc_conn *conn, const char *word)
{
    hc_req *h = conn->head;
    if (h && h->kind == HC_REQ_SUB && strcmp(h->confirm_word, word) == 0) {
        if (--h->confirms <= 0) hc_req_complete(conn, fifo_pop(conn), HERALD_OK, NULL);
    }
    /* else: unsolicited (e.g. a shard channel moved away); nothing waits */
}

static void on_push(hc_conn *conn, hr_reply *r)
{
    herald_client_t *c = conn->c;
    int w = push_word(r);
    herald_sub_kind_t kind = HERALD_SUB_CHANNEL;
    int off = 1;
    switch (w) {
    case 0:
    case 2:
        if (r->elements != 3) w = -1;
        kind = w == 2 ? HERALD_SUB_SHARD : HERALD_SUB_CHANNEL;
        break;
    case 1:
        if (r->elements != 4 || !is_str(r->element[1])) w = -1;
        kind = HERALD_SUB_PATTERN;
        off = 2;
        break;
    default: break;
    }
    if (w >= 0 && w <= 2 && is_str(r->element[off]) && is_str(r->element[off + 1])) {
        hc_item *it = hr_calloc(1, sizeof(*it));
        it->type = HC_ITEM_MSG;
        it->reply = r;
        it->msg.kind = kind;
        if (kind == HERALD_SUB_PATTERN) {
            it->msg.pattern = r->element[1]->str;
            it->msg.pattern_len = r->element[1]->len;
        }
        it->msg.channel = r->element[off]->str;
        it->msg.channel_len = r->element[off]->len;
        it->msg.payload = r->element[off + 1]->str;
        it->msg.payload_len = r->element[off + 1]->len;
        c->stats.messages_received++;
        hc_deliver_push(c, it);
        return;
    }
    if (w >= 3) {
        on_confirm(conn, r->element[0]->str);
        hr_reply_free(r);
        return;
    }
    c->stats.pushes_received++;
    if (!c->opts.on_push) {
        hr_reply_free(r);
        return;
    }
    hc_item *it = hr_calloc(1, sizeof(*it));
    it->type = HC_ITEM_PUSH;
    it->reply = r;
    hc_deliver_push(c, it);
}

static void on_reply(hc_conn *conn, hr_reply *r)
{
    hc_req *h = fifo_pop(conn);
    if (!h) {
        hr_reply_free(r);
        hc_conn_fail(conn, HERALD_EPROTO, "reply without a request");
        return;
    }
    hc_req_complete(conn, h, r->type == HR_RESP_ERROR ? HERALD_ESERVER : HERALD_OK, r);
}

/* Parses and dispatches buffered replies until none is complete or the
 * connection is paused or closed. */
static void process_replies(hc_conn *conn)
{
    while (conn->t.fd >= 0 && !paused(conn)) {
        void *obj = NULL;
        if (hr_reader_get(conn->reader, &obj) != 0) {
            char d[200];
            snprintf(d, sizeof(d), "protocol error: %s", hr_reader_error(conn->reader));
            hc_conn_fail(conn, HERALD_EPROTO, d);
            return;
        }
        if (!obj) break;
        hr_reply *r = obj;
        if (r->type == HR_RESP_ATTR) {
            hr_reply_free(r);
            continue;
        }
        if (is_push(conn, r))
            on_push(conn, r);
        else
            on_reply(conn, r);
    }
}

static void conn_read(hc_conn *conn)
{
    char buf[HC_READ_CHUNK];
    for (int i = 0; i < HC_READ_BUDGET && !paused(conn); i++) {
        ssize_t n = conn->t.ops->read(&conn->t, buf, sizeof(buf));
        if (n > 0) {
            conn->last_rx_ms = hr_mono_ms();
            if (hr_reader_feed(conn->reader, buf, (size_t)n) != 0) {
                hc_conn_fail(conn, HERALD_EPROTO, "protocol error");
                return;
            }
            process_replies(conn);
            if (conn->t.fd < 0) return;
            if ((size_t)n < sizeof(buf)) break;
        } else if (n == 0) {
            hc_conn_fail(conn, HERALD_EIO, "connection closed by the server");
            return;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            char d[128];
            snprintf(d, sizeof(d), "read: %s", strerror(errno));
            hc_conn_fail(conn, HERALD_EIO, d);
            return;
        }
    }
    update_events(conn);
}

void hc_conn_resume(hc_conn *conn)
{
    if (conn->t.fd < 0) return;
    process_replies(conn);
    update_events(conn);
}

void hc_conn_on_events(hc_conn *conn, uint32_t events)
{
    if (conn->t.fd < 0) return;
    if (conn->state == HC_CONNECTING) {
        char err[160] = "";
        int rc = conn->t.ops->finish(&conn->t, err, sizeof(err));
        if (rc < 0) {
            char d[220];
            snprintf(d, sizeof(d), "%s: %s", conn->node->ep.display, err);
            hc_conn_fail(conn, rc, d);
        } else if (rc == 0) {
            update_events(conn);
            on_connected(conn);
        }
        return;
    }
    if (events & EPOLLIN) {
        conn_read(conn);
    } else if (events & (EPOLLERR | EPOLLHUP)) {
        if (paused(conn)) {
            hc_conn_fail(conn, HERALD_EIO, "connection lost");
            return;
        }
        conn_read(conn); /* reports EOF or the socket error */
    }
    if (conn->t.fd >= 0 && (events & EPOLLOUT)) hc_conn_flush(conn);
}

/* ---- request completion -------------------------------------------------- */

void hc_req_complete(hc_conn *conn, hc_req *req, int status, hr_reply *reply)
{
    herald_client_t *c = conn->c;
    switch (req->kind) {
    case HC_REQ_WAIT:
    case HC_REQ_FLUSH:
        if (req->w) {
            req->w->done = true;
            req->w->status = status;
            req->w->reply = reply;
            req->w->req = NULL;
            pthread_cond_signal(&req->w->cond);
            reply = NULL;
        }
        break;
    case HC_REQ_CB:
        hc_deliver_reply(c, req, status, reply);
        reply = NULL;
        break;
    case HC_REQ_HANDSHAKE:
        if (status == HERALD_ESERVER) {
            char d[240];
            snprintf(d, sizeof(d), "handshake refused by %s: %s", conn->node->ep.display,
                     reply && reply->str ? reply->str : "error");
            hr_reply_free(reply);
            hc_req_free(req);
            hc_conn_fail(conn, HERALD_EAUTH, d);
            return;
        }
        if (status == HERALD_OK && req->last_handshake) on_ready(conn);
        break;
    case HC_REQ_SUB:
        if (status == HERALD_OK) {
            for (int i = 0; i < req->nsubs; i++) {
                hc_sub *s = req->subs[i];
                if (!s->removed && s->gen == req->gens[i]) s->confirmed = true;
            }
            hc_notify(c);
        } else if (status == HERALD_ESERVER) {
            char d[240];
            snprintf(d, sizeof(d), "%s refused: %s", req->confirm_word,
                     reply && reply->str ? reply->str : "error");
            hc_deliver_event(c, HERALD_EVENT_ERROR, conn->role, HERALD_ESERVER, d, 0);
        }
        if ((status == HERALD_OK || status == HERALD_ESERVER) && conn->subs_pending > 0) {
            conn->subs_pending--;
            check_resubscribed(conn);
        }
        break;
    default: /* FORGET, PING */ break;
    }
    hr_reply_free(reply);
    hc_req_free(req);
}

/* ---- timers -------------------------------------------------------------- */

uint64_t hc_conn_next_deadline(const hc_conn *conn)
{
    const herald_client_t *c = conn->c;
    uint64_t d = UINT64_MAX;
    switch (conn->state) {
    case HC_BACKOFF: return conn->next_attempt_ms;
    case HC_CONNECTING: return conn->connect_deadline_ms;
    case HC_HANDSHAKE:
    case HC_READY:
        if (paused(conn)) return UINT64_MAX;
        if (conn->state == HC_HANDSHAKE) d = conn->connect_deadline_ms;
        if (conn->head) {
            if (c->opts.health_interval_ms > 0) {
                uint64_t ref =
                    conn->last_rx_ms > conn->head->sent_ms ? conn->last_rx_ms : conn->head->sent_ms;
                uint64_t t = ref + (uint64_t)c->opts.health_timeout_ms;
                if (t < d) d = t;
            }
            if (conn->ncb > 0 && conn->due && conn->due->deadline_ms < d)
                d = conn->due->deadline_ms;
        } else if (conn->state == HC_READY && c->opts.health_interval_ms > 0) {
            uint64_t t = conn->last_rx_ms + (uint64_t)c->opts.health_interval_ms;
            if (t < d) d = t;
        }
        return d;
    default: return UINT64_MAX;
    }
}

uint64_t hc_conn_timers(hc_conn *conn, uint64_t now)
{
    herald_client_t *c = conn->c;
    if (conn->state == HC_BACKOFF && now >= conn->next_attempt_ms) hc_conn_start(conn);
    if (conn->state == HC_CONNECTING && now >= conn->connect_deadline_ms) {
        char d[200];
        snprintf(d, sizeof(d), "%s: connect timed out", conn->node->ep.display);
        hc_conn_fail(conn, HERALD_ETIMEOUT, d);
    }
    if ((conn->state == HC_HANDSHAKE || conn->state == HC_READY) && !paused(conn)) {
        if (conn->state == HC_HANDSHAKE && now >= conn->connect_deadline_ms) {
            char d[200];
            snprintf(d, sizeof(d), "%s: handshake timed out", conn->node->ep.display);
            hc_conn_fail(conn, HERALD_ETIMEOUT, d);
            return hc_conn_next_deadline(conn);
        }
        /* Asynchronous calls past their deadline: report the timeout now; the
         * request stays in the FIFO to absorb its late reply. Deadlines grow
         * along the FIFO, so the scan stops at the first one not due. */
        for (hc_req *r; (r = conn->due) && r->deadline_ms <= now; conn->due = r->next) {
            if (r->kind == HC_REQ_CB) {
                hc_deliver_reply(c, r, HERALD_ETIMEOUT, NULL);
                r->kind = HC_REQ_FORGET;
                conn->ncb--;
            }
        }
        if (c->opts.health_interval_ms > 0) {
            if (conn->head) {
                uint64_t ref =
                    conn->last_rx_ms > conn->head->sent_ms ? conn->last_rx_ms : conn->head->sent_ms;
                if (now >= ref + (uint64_t)c->opts.health_timeout_ms) {
                    char d[200];
                    snprintf(d, sizeof(d), "%s: no reply for %d ms (health check)",
                             conn->node->ep.display, c->opts.health_timeout_ms);
                    hc_conn_fail(conn, HERALD_ETIMEOUT, d);
                    return hc_conn_next_deadline(conn);
                }
            } else if (conn->state == HC_READY &&
                       now >= conn->last_rx_ms + (uint64_t)c->opts.health_interval_ms) {
                const char *argv[1] = {"PING"};
                size_t lens[1] = {4};
                hc_conn_append(conn, 1, argv, lens, hc_req_new(HC_REQ_PING));
                hc_conn_flush(conn);
            }
        }
    }
    return hc_conn_next_deadline(conn);
}
