/*
 * conn.c - client connections: reading and parsing input, running commands,
 * flushing output, output-buffer limits and closing.
 *
 * Output is never written from inside a command: replies and published
 * messages are queued, the connection is put on the server's pending-write
 * list, and the before-sleep hook (server.c) writes everything pending for
 * each connection with writev once per loop iteration. Only when the socket
 * is full is a write handler installed.
 *
 * Input: a connection with no partial command reads into the server's shared
 * read buffer and parses straight from it; only the bytes of an incomplete
 * command are copied into a private query buffer, which is freed as soon as
 * it is consumed. Idle connections therefore hold no input memory.
 *
 * Closing: a connection on the pending-write list (or one that must not be
 * freed right now, e.g. a command killed it) is marked CLOSE_ASAP and freed by
 * the before-sleep hook, so no list ever holds a dangling pointer.
 */
#include "server.h"
#include "alloc.h"
#include "hrtime.h"
#include "log.h"
#include "pubsub.h"
#include "multi.h"
#include "server_int.h"
#include "tracking.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Bytes asked of one read(): several pipelined commands arrive together, so
 * one loop iteration processes them all and each subscriber's writev then
 * carries all their messages. */
#define READ_CHUNK (32 * 1024)
#define READ_CHUNK_MAX (256 * 1024)
/* Largest single read while a big bulk argument is arriving. */
#define READ_BIG_MAX (1024 * 1024)

size_t hr_conn_subscriptions(const hr_conn *c)
{
    return hr_dict_size(&c->channels) + hr_dict_size(&c->patterns) +
           hr_dict_size(&c->shard_channels);
}

int hr_conn_obl_class(const hr_conn *c)
{
    return hr_conn_subscriptions(c) > 0 ? HR_OBL_PUBSUB : HR_OBL_NORMAL;
}

static const char *obl_class_name(int cls)
{
    return cls == HR_OBL_PUBSUB ? "pubsub" : cls == HR_OBL_REPLICA ? "slave" : "normal";
}

void hr_conn_want_write(hr_conn *c)
{
    if (c->flags & HR_CONN_PENDING_WRITE) return;
    c->flags |= HR_CONN_PENDING_WRITE;
    c->pending_next = c->srv->pending_writes;
    c->srv->pending_writes = c;
}

void hr_conn_close_async(hr_conn *c)
{
    if (c->flags & HR_CONN_CLOSE_ASAP) return;
    c->flags |= HR_CONN_CLOSE_ASAP;
    hr_loop_del_fd(c->srv->loop, c->fd, HR_LOOP_READ | HR_LOOP_WRITE);
    c->flags &= ~HR_CONN_WRITE_HANDLER;
    hr_conn_want_write(c); /* the before-sleep hook frees it */
}

static void conn_free(hr_conn *c)
{
    hr_server *s = c->srv;
    /* A large backlog freed: let the cron hand the memory back to the OS. */
    if (c->out.bytes > (1u << 20)) s->trim_heap = 1;
    hr_pubsub_unsubscribe_all(s, c);
    hr_multi_reset(c);
    hr_tracking_disable(c);
    hr_dict_delete(&s->clients_by_id, (const char *)&c->id, sizeof(c->id));
    hr_loop_del_fd(s->loop, c->fd, HR_LOOP_READ | HR_LOOP_WRITE);
    close(c->fd);
    if (c->prev) c->prev->next = c->next;
    else s->clients_head = c->next;
    if (c->next) c->next->prev = c->prev;
    else s->clients_tail = c->prev;
    s->nclients--;
    hr_monitor_remove(c);
    hr_buf_release(&c->qbuf);
    hr_reqparser_release(&c->parser);
    hr_outq_release(&c->out);
    for (uint32_t i = 0; i < c->ndeferred; i++) hr_frame_decref(c->deferred[i].frame);
    hr_free(c->deferred);
    hr_dict_release(&c->channels);
    hr_dict_release(&c->patterns);
    hr_dict_release(&c->shard_channels);
    hr_free(c->name);
    hr_free(c->lib_name);
    hr_free(c->lib_ver);
    hr_free(c);
}

void hr_conn_close(hr_conn *c)
{
    /* Freed now unless a list or a running command still refers to it. */
    if (c->flags & (HR_CONN_PENDING_WRITE | HR_CONN_IN_CALL)) hr_conn_close_async(c);
    else conn_free(c);
}

/* The limit check, skipped while the queue is below every configured limit
 * (the common case on the fan-out path). */
static void check_obl_if_near(hr_conn *c)
{
    if (c->srv->obl_floor && hr_conn_output_size(c) >= c->srv->obl_floor) hr_conn_check_obl(c);
}

void hr_conn_push_range(hr_conn *c, hr_frame *f, size_t off, size_t len)
{
    if (c->flags & HR_CONN_CLOSE_ASAP) return;
    if (c == c->srv->current) {
        if (c->ndeferred == c->deferred_cap) {
            c->deferred_cap = c->deferred_cap ? c->deferred_cap * 2 : 4;
            c->deferred = hr_realloc(c->deferred, c->deferred_cap * sizeof(*c->deferred));
        }
        c->deferred[c->ndeferred++] = (hr_outq_entry){hr_frame_incref(f), off, len};
        return;
    }
    hr_outq_push_range(&c->out, f, off, len);
    hr_conn_want_write(c);
    check_obl_if_near(c);
}

void hr_conn_push(hr_conn *c, hr_frame *f)
{
    hr_conn_push_range(c, f, 0, f->len);
}

/* Moves pushes deferred during a command behind its reply. */
void hr_conn_flush_deferred(hr_conn *c)
{
    for (uint32_t i = 0; i < c->ndeferred; i++) {
        hr_outq_entry *d = &c->deferred[i];
        if (!(c->flags & HR_CONN_CLOSE_ASAP)) {
            hr_outq_push_range(&c->out, d->frame, d->off, d->len);
            hr_conn_want_write(c);
        }
        hr_frame_decref(d->frame);
    }
    c->ndeferred = 0;
    check_obl_if_near(c);
}

bool hr_conn_check_obl(hr_conn *c)
{
    if (c->flags & HR_CONN_CLOSE_ASAP) return false;
    int cls = hr_conn_obl_class(c);
    const hr_obl *l = &c->srv->cfg.obl[cls];
    size_t used = hr_conn_output_size(c);
    bool hard = l->hard && used >= (size_t)l->hard;
    bool soft = false;
    if (l->soft && used >= (size_t)l->soft) {
        uint64_t now = hr_mono_ms();
        if (c->obl_soft_since_ms == 0) c->obl_soft_since_ms = now;
        else if (now - c->obl_soft_since_ms > (uint64_t)l->soft_seconds * 1000) soft = true;
    } else {
        c->obl_soft_since_ms = 0;
    }
    if (!hard && !soft) return true;
    hr_buf d = HR_BUF_INIT;
    hr_conn_describe(c, &d);
    hr_buf_append_char(&d, '\0');
    hr_log_warning("Client %s scheduled to be closed ASAP for overcoming of output buffer "
                   "limits (%s class, %zu bytes queued, %s limit).",
                   d.data, obl_class_name(cls), used, hard ? "hard" : "soft");
    hr_buf_release(&d);
    c->srv->stats.client_obl_disconnections++;
    hr_conn_close_async(c);
    return false;
}

/* Runs every complete command in the query buffer. */
static void process_input(hr_conn *c)
{
    size_t pos = 0;
    while (pos < c->qbuf.len && !(c->flags & (HR_CONN_CLOSE_AFTER_REPLY | HR_CONN_CLOSE_ASAP))) {
        ssize_t r = hr_reqparser_parse(&c->parser, c->qbuf.data + pos, c->qbuf.len - pos);
        if (r == HR_REQ_AGAIN) break;
        if (r == HR_REQ_ERR) {
            hr_log_verbose("Protocol error (%s) from client id=%llu addr=%s", c->parser.err,
                           (unsigned long long)c->id, c->addr);
            hr_reply_error(c, c->parser.err);
            c->flags |= HR_CONN_CLOSE_AFTER_REPLY;
            pos = c->qbuf.len;
            break;
        }
        pos += (size_t)r;
        if (c->parser.argc > 0) hr_command_execute(c, c->parser.argc, c->parser.argv);
    }
    hr_buf_consume(&c->qbuf, pos);
}

static void read_handler(hr_loop *loop, int fd, void *data, int mask)
{
    hr_conn *c = data;
    hr_server *s = c->srv;
    size_t want = c->read_chunk ? c->read_chunk : READ_CHUNK;
    /* A large bulk is being received: read it in bigger pieces into the
     * connection's own buffer. The declared length is only a claim, so the
     * buffer grows with the data that actually arrives (at most
     * READ_BIG_MAX more per read; the buffer doubles), never by the
     * declared size up front. */
    bool big = c->parser.want > c->qbuf.len && c->parser.want - c->qbuf.len > want;
    if (big) {
        want = c->parser.want - c->qbuf.len;
        if (want > READ_BIG_MAX) want = READ_BIG_MAX;
    }
    /* No partial command pending: borrow the shared read buffer. */
    bool shared = c->qbuf.len == 0 && !big;
    if (shared) {
        hr_buf_release(&c->qbuf);
        c->qbuf = s->readbuf;
        hr_buf_init(&s->readbuf);
    }
    char *dst = hr_buf_reserve(&c->qbuf, want);
    ssize_t n = read(fd, dst, want);
    if (n <= 0 && shared) {
        s->readbuf = c->qbuf;
        hr_buf_init(&c->qbuf);
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        hr_log_verbose("Reading from client: %s", strerror(errno));
        hr_conn_close(c);
        return;
    }
    if (n == 0) {
        hr_conn_close(c);
        return;
    }
    /* A read that filled its buffer left more waiting: read more next time
     * (a larger batch per loop iteration); back to the base size when not. */
    if (!big) {
        if ((size_t)n == want && want < READ_CHUNK_MAX) c->read_chunk = (uint32_t)want * 2;
        else if ((size_t)n < want) c->read_chunk = READ_CHUNK;
    }
    c->qbuf.len += (size_t)n;
    s->stats.net_input_bytes += n;
    c->last_ms = s->now_ms;
    if (c->qbuf.len > c->qbuf_peak) c->qbuf_peak = c->qbuf.len;
    if (s->cfg.client_query_buffer_limit && c->qbuf.len > (size_t)s->cfg.client_query_buffer_limit) {
        hr_log_warning("Closing client that reached max query buffer length: id=%llu addr=%s "
                       "(qbuf %zu bytes)",
                       (unsigned long long)c->id, c->addr, c->qbuf.len);
        s->stats.client_qbl_disconnections++;
        hr_conn_close(c);
        return;
    }
    c->flags |= HR_CONN_IN_CALL;
    process_input(c);
    c->flags &= ~HR_CONN_IN_CALL;
    if (shared) {
        /* Keep only an incomplete command's bytes, in a private buffer. */
        hr_buf rest = HR_BUF_INIT;
        hr_buf_append(&rest, c->qbuf.data, c->qbuf.len);
        c->qbuf.len = 0;
        s->readbuf = c->qbuf;
        c->qbuf = rest;
    } else if (c->qbuf.len == 0) {
        hr_buf_release(&c->qbuf);
    }
    /* After QUIT or a protocol error nothing more is read. */
    if (c->flags & HR_CONN_CLOSE_AFTER_REPLY) {
        hr_loop_del_fd(s->loop, fd, HR_LOOP_READ);
        hr_conn_want_write(c);
    }
}

static void write_handler(hr_loop *loop, int fd, void *data, int mask);

/* Writes c's pending output. Returns false when c was closed. */
static bool flush_conn(hr_conn *c)
{
    hr_server *s = c->srv;
    /* The socket was full: the write handler runs when it has room. */
    if (c->flags & HR_CONN_WRITE_HANDLER) return true;
    if (!hr_outq_empty(&c->out)) {
        ssize_t n = hr_outq_write(&c->out, c->fd, 0);
        if (n < 0) {
            hr_log_verbose("Error writing to client: %s", strerror(errno));
            conn_free(c);
            return false;
        }
        s->stats.net_output_bytes += n;
        if (n > 0) c->last_ms = s->now_ms;
    }
    if (hr_outq_empty(&c->out)) {
        c->obl_soft_since_ms = 0;
        if (c->flags & HR_CONN_CLOSE_AFTER_REPLY) {
            conn_free(c);
            return false;
        }
    } else if (!(c->flags & HR_CONN_WRITE_HANDLER)) {
        if (hr_loop_add_fd(s->loop, c->fd, HR_LOOP_WRITE, write_handler, c) == 0)
            c->flags |= HR_CONN_WRITE_HANDLER;
    }
    return true;
}

static void write_handler(hr_loop *loop, int fd, void *data, int mask)
{
    hr_conn *c = data;
    /* The socket has room again. */
    hr_loop_del_fd(c->srv->loop, c->fd, HR_LOOP_WRITE);
    c->flags &= ~HR_CONN_WRITE_HANDLER;
    /* On the pending list, the before-sleep pass flushes it (and may free
     * it safely); otherwise flush here. */
    if (!(c->flags & HR_CONN_PENDING_WRITE)) flush_conn(c);
}

/* May c's output wait for more to batch with? Only queues holding nothing
 * but pushes (no command reply, no pending close), below the byte cap, and
 * not held back longer than the age cap. */
static bool may_defer(const hr_conn *c, uint64_t now_us)
{
    if (c->flags & (HR_CONN_URGENT | HR_CONN_CLOSE_AFTER_REPLY | HR_CONN_CLOSE_ASAP)) return false;
    if (c->out.bytes >= HR_DEFER_MAX_BYTES) return false;
    return c->defer_since_us == 0 || now_us - c->defer_since_us < HR_DEFER_MAX_US;
}

size_t hr_server_flush_pending(hr_server *s, bool allow_defer)
{
    hr_conn *c = s->pending_writes;
    s->pending_writes = NULL;
    uint64_t now_us = allow_defer ? hr_mono_us() : 0;
    size_t deferred = 0;
    while (c) {
        hr_conn *next = c->pending_next;
        c->flags &= ~HR_CONN_PENDING_WRITE;
        c->pending_next = NULL;
        if (c->flags & HR_CONN_CLOSE_ASAP) {
            conn_free(c);
        } else if (allow_defer && may_defer(c, now_us)) {
            if (!c->defer_since_us) c->defer_since_us = now_us;
            hr_conn_want_write(c); /* stays pending */
            deferred++;
        } else {
            c->flags &= ~HR_CONN_URGENT;
            c->defer_since_us = 0;
            flush_conn(c);
        }
        c = next;
    }
    return deferred;
}

hr_conn *hr_conn_new(hr_server *s, int fd, int is_unix)
{
    hr_conn *c = hr_calloc(1, sizeof(*c));
    c->srv = s;
    c->fd = fd;
    c->id = ++s->next_client_id;
    c->resp = 2;
    if (is_unix) c->flags |= HR_CONN_UNIX;
    hr_reqparser_init(&c->parser, s->cfg.proto_max_bulk_len);
    hr_outq_init(&c->out);
    hr_dict_init(&c->channels);
    hr_dict_init(&c->patterns);
    hr_dict_init(&c->shard_channels);
    c->ctime_ms = c->last_ms = hr_mono_ms();
    if (hr_loop_add_fd(s->loop, fd, HR_LOOP_READ, read_handler, c) < 0) {
        hr_reqparser_release(&c->parser);
        hr_free(c);
        return NULL;
    }
    c->prev = s->clients_tail;
    if (s->clients_tail) s->clients_tail->next = c;
    else s->clients_head = c;
    s->clients_tail = c;
    s->nclients++;
    hr_dict_upsert(&s->clients_by_id, (const char *)&c->id, sizeof(c->id), NULL)->val = c;
    return c;
}

hr_conn *hr_conn_by_id(hr_server *s, uint64_t id)
{
    return hr_dict_get(&s->clients_by_id, (const char *)&id, sizeof(id));
}
