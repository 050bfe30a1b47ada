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
 * Invariant: `bytes` is the sum of the unwritten lengths of all entries, and
 * is what client-output-buffer-limit is checked against.
 */
#ifndef HR_OUTQ_H
#define HR_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

typedef struct hr_frame {
    uint32_t refcnt;
    uint32_t flags;
    size_t len;
    char data[];
} hr_frame;

/* A new frame holding a copy of data[0..len), with one reference. */
hr_frame *hr_frame_new(const void *data, size_t len);
/* A new frame of len bytes to be filled by the caller, with one reference. */
hr_frame *hr_frame_alloc(size_t len);
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

/* Frees the memory of an empty queue (the ring and reply buffer are kept
 * between flushes while a connection is busy; the server's cron calls this
 * for connections that have gone idle). No-op when anything is queued. */
void hr_outq_trim(hr_outq *q);

/* Writes as much as possible with writev (at most max_bytes, 0 = no limit).
 * Returns bytes written (>= 0; 0 also when the socket is full), or -1 with
 * errno set on a write error (not EAGAIN). */
ssize_t hr_outq_write(hr_outq *q, int fd, size_t max_bytes);
/* Bytes of memory held by the queue (entries, rbuf and frames it refers to;
 * a shared frame is counted whole, as each subscriber would need it). */
size_t hr_outq_memory(const hr_outq *q);

#endif
