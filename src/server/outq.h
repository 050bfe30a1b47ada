/*
 * outq.h - a connection's output: a queue of byte ranges written with writev.
 *
 * Two kinds of ranges share one FIFO:
 *  - shared frames (hr_frame): reference-counted encoded bytes, e.g. one
 *    published message encoded once and queued on every subscriber. The
 *    queue holds one reference per entry.
 *  - private reply bytes: command replies are appended to the queue's own
 *    growable buffer (rbuf); an entry names an [off, off+len) range of it.
 *    rbuf is reset to empty whenever no queued entry refers to it, so its
 *    memory follows what is actually pending.
 *
 * A third kind is a range of a slab (see hr_slab_new): published messages
 * are appended to shared slabs, so a subscriber's consecutive messages form
 * one contiguous range and go out as one iovec.
 *
 * Invariants: `bytes` is the sum of the unwritten lengths of all entries;
 * `slab_bytes` the part of it in slab ranges. A slab is kept alive whole by
 * any range of it, so the queue also counts `slab_pinned`: the capacity of
 * each slab it refers to, once per run of consecutive entries of that slab.
 * hr_outq_charge() is what client-output-buffer-limit is checked against.
 */
#ifndef HR_OUTQ_H
#define HR_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

typedef struct hr_frame {
    uint32_t refcnt;
    uint32_t cap; /* slabs: bytes allocated for data (0: a plain frame) */
    size_t len;   /* bytes of data in use */
    char data[];
} hr_frame;

/* A new frame holding a copy of data[0..len), with one reference. */
hr_frame *hr_frame_new(const void *data, size_t len);
/* A new frame of len bytes to be filled by the caller, with one reference. */
hr_frame *hr_frame_alloc(size_t len);
/* A slab: a frame of cap bytes (len 0) that its owner fills from the front,
 * handing out [off, off+len) ranges of it. Ranges already handed out never
 * move or change, so they can be queued while the slab is still being
 * filled; consecutive ranges queued on one connection merge into one. */
hr_frame *hr_slab_new(uint32_t cap);
static inline hr_frame *hr_frame_incref(hr_frame *f)
{
    f->refcnt++;
    return f;
}
void hr_frame_decref(hr_frame *f);

typedef struct hr_outq_entry {
    hr_frame *frame; /* NULL: the range lives in rbuf */
    size_t off;
    size_t len;
} hr_outq_entry;

typedef struct hr_outq {
    hr_outq_entry *ring;
    size_t head, count, cap; /* cap is 0 or a power of two */
    size_t bytes;            /* unwritten bytes queued */
    size_t slab_bytes;       /* ... of which in slab ranges */
    size_t slab_pinned;      /* slab capacity held, see above */
    hr_buf rbuf;             /* private reply bytes */
    size_t rbuf_entries;     /* entries that refer to rbuf */
} hr_outq;

void hr_outq_init(hr_outq *q);
/* Drops everything queued (releases frame references) and frees memory. */
void hr_outq_release(hr_outq *q);
static inline int hr_outq_empty(const hr_outq *q)
{
    return q->count == 0;
}

/* Reply path: append bytes to the returned buffer, then call
 * hr_outq_commit(q, len_before) to queue what was appended. */
static inline hr_buf *hr_outq_rbuf(hr_outq *q)
{
    return &q->rbuf;
}
void hr_outq_commit(hr_outq *q, size_t len_before);
/* Queues a reference to f (the caller keeps its own reference). */
void hr_outq_push_frame(hr_outq *q, hr_frame *f);
/* Queues bytes [off, off+len) of f; when they directly follow the last
 * queued range of the same frame, that entry grows instead (one iovec). */
void hr_outq_push_range(hr_outq *q, hr_frame *f, size_t off, size_t len);

/* Frees the memory of an empty queue (the ring and reply buffer are kept
 * between flushes while a connection is busy; the server's cron calls this
 * for connections that have gone idle). No-op when anything is queued. */
void hr_outq_trim(hr_outq *q);

/* Memory the queued output holds: bytes outside slabs, the slabs it keeps
 * alive, and per entry the entry and a frame header (a shared frame may end
 * up held by this queue alone). */
static inline size_t hr_outq_charge(const hr_outq *q)
{
    return q->bytes - q->slab_bytes + q->slab_pinned +
           q->count * (sizeof(hr_outq_entry) + sizeof(hr_frame));
}

/* Writes as much as possible with writev (at most max_bytes, 0 = no limit).
 * Returns bytes written (>= 0; 0 also when the socket is full), or -1 with
 * errno set on a write error (not EAGAIN). */
ssize_t hr_outq_write(hr_outq *q, int fd, size_t max_bytes);
/* Bytes of memory held by the queue (entries, rbuf and frames it refers to;
 * a shared frame is counted whole, as each subscriber would need it). */
size_t hr_outq_memory(const hr_outq *q);

#endif
