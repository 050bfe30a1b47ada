/* outq.c - connection output queue; see outq.h. */
#include "outq.h"
#include "alloc.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>

#define OUTQ_IOV_MAX 256
/* rbuf capacity kept across flushes; larger buffers are freed when empty. */
#define OUTQ_RBUF_KEEP (16 * 1024)
/* Slab capacity a queue may hold beyond twice its slab bytes before its
 * slab ranges are copied out (see unpin). */
#define OUTQ_PIN_SLACK (64 * 1024)

hr_frame *hr_frame_alloc(size_t len)
{
    hr_frame *f = hr_malloc(sizeof(*f) + len);
    f->refcnt = 1;
    f->cap = 0;
    f->len = len;
    return f;
}

hr_frame *hr_slab_new(uint32_t cap)
{
    hr_frame *f = hr_malloc(sizeof(*f) + cap);
    f->refcnt = 1;
    f->cap = cap;
    f->len = 0;
    return f;
}

hr_frame *hr_frame_new(const void *data, size_t len)
{
    hr_frame *f = hr_frame_alloc(len);
    memcpy(f->data, data, len);
    return f;
}

void hr_frame_decref(hr_frame *f)
{
    if (f && --f->refcnt == 0) hr_free(f);
}

void hr_outq_init(hr_outq *q)
{
    memset(q, 0, sizeof(*q));
}

static hr_outq_entry *entry_at(hr_outq *q, size_t i)
{
    return &q->ring[(q->head + i) & (q->cap - 1)];
}

void hr_outq_release(hr_outq *q)
{
    for (size_t i = 0; i < q->count; i++) hr_frame_decref(entry_at(q, i)->frame);
    hr_free(q->ring);
    hr_buf_release(&q->rbuf);
    hr_outq_init(q);
}

static hr_outq_entry *push_entry(hr_outq *q)
{
    if (q->count == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 4;
        hr_outq_entry *nr = hr_malloc(sizeof(*nr) * ncap);
        for (size_t i = 0; i < q->count; i++) nr[i] = *entry_at(q, i);
        hr_free(q->ring);
        q->ring = nr;
        q->head = 0;
        q->cap = ncap;
    }
    hr_outq_entry *e = entry_at(q, q->count);
    q->count++;
    return e;
}

void hr_outq_commit(hr_outq *q, size_t len_before)
{
    size_t n = q->rbuf.len - len_before;
    if (n == 0) return;
    q->bytes += n;
    if (q->count > 0) {
        hr_outq_entry *tail = entry_at(q, q->count - 1);
        if (!tail->frame && tail->off + tail->len == len_before) {
            tail->len += n;
            return;
        }
    }
    hr_outq_entry *e = push_entry(q);
    e->frame = NULL;
    e->off = len_before;
    e->len = n;
    q->rbuf_entries++;
}

/* Replaces every slab range by a private copy, releasing the slabs. Called
 * when the queue keeps far more slab memory alive than it has bytes in it
 * (a subscriber that falls behind on a channel sharing slabs with busier
 * ones): without it, each of its messages could pin a whole slab. Every
 * slab byte is copied at most once, so the cost is amortised over the
 * pushes that caused it. */
static void unpin(hr_outq *q)
{
    for (size_t i = 0; i < q->count; i++) {
        hr_outq_entry *e = entry_at(q, i);
        if (!e->frame || !e->frame->cap) continue;
        hr_frame *copy = hr_frame_new(e->frame->data + e->off, e->len);
        hr_frame_decref(e->frame);
        e->frame = copy;
        e->off = 0;
    }
    q->slab_bytes = 0;
    q->slab_pinned = 0;
}

void hr_outq_push_range(hr_outq *q, hr_frame *f, size_t off, size_t len)
{
    if (len == 0) return;
    q->bytes += len;
    hr_outq_entry *tail = q->count > 0 ? entry_at(q, q->count - 1) : NULL;
    if (f->cap) {
        q->slab_bytes += len;
        if (tail && tail->frame == f && tail->off + tail->len == off) {
            tail->len += len;
            return;
        }
        if (!tail || tail->frame != f) q->slab_pinned += f->cap; /* a new run */
    }
    hr_outq_entry *e = push_entry(q);
    e->frame = hr_frame_incref(f);
    e->off = off;
    e->len = len;
    if (q->slab_pinned > OUTQ_PIN_SLACK && q->slab_pinned > 2 * q->slab_bytes) unpin(q);
}

void hr_outq_push_frame(hr_outq *q, hr_frame *f)
{
    hr_outq_push_range(q, f, 0, f->len);
}

static void pop_head(hr_outq *q)
{
    hr_outq_entry *e = entry_at(q, 0);
    if (e->frame) {
        /* The end of a run of one slab: it is no longer held through here. */
        if (e->frame->cap && (q->count == 1 || entry_at(q, 1)->frame != e->frame))
            q->slab_pinned -= e->frame->cap;
        hr_frame_decref(e->frame);
    } else if (--q->rbuf_entries == 0) {
        q->rbuf.len = 0;
    }
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
}

static void shrink_when_idle(hr_outq *q)
{
    if (q->count) return;
    q->head = 0;
    hr_buf_trim(&q->rbuf, OUTQ_RBUF_KEEP);
}

void hr_outq_trim(hr_outq *q)
{
    if (q->count) return;
    hr_free(q->ring);
    q->ring = NULL;
    q->cap = q->head = 0;
    hr_buf_release(&q->rbuf);
}

ssize_t hr_outq_write(hr_outq *q, int fd, size_t max_bytes)
{
    size_t total = 0;
    while (q->count > 0) {
        struct iovec iov[OUTQ_IOV_MAX];
        int n = 0;
        size_t batch = 0;
        for (size_t i = 0; i < q->count && n < OUTQ_IOV_MAX; i++) {
            hr_outq_entry *e = entry_at(q, i);
            const char *base = e->frame ? e->frame->data : q->rbuf.data;
            iov[n].iov_base = (void *)(base + e->off);
            iov[n].iov_len = e->len;
            batch += e->len;
            n++;
            if (batch >= (size_t)SSIZE_MAX / 2) break;
        }
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return -1;
        }
        size_t left = (size_t)w;
        total += left;
        q->bytes -= left;
        while (left > 0) {
            hr_outq_entry *e = entry_at(q, 0);
            size_t done = left < e->len ? left : e->len;
            if (e->frame && e->frame->cap) q->slab_bytes -= done;
            left -= done;
            if (done == e->len) {
                pop_head(q);
            } else {
                e->off += done;
                e->len -= done;
            }
        }
        if ((size_t)w < batch) break; /* socket buffer full */
        if (max_bytes && total >= max_bytes) break;
    }
    shrink_when_idle(q);
    return (ssize_t)total;
}

size_t hr_outq_memory(const hr_outq *q)
{
    size_t m = q->cap * sizeof(hr_outq_entry) + q->rbuf.cap + q->slab_pinned;
    for (size_t i = 0; i < q->count; i++) {
        const hr_outq_entry *e = &q->ring[(q->head + i) & (q->cap - 1)];
        if (e->frame && !e->frame->cap) m += e->len;
    }
    return m;
}
