/* test_server_outq.c - the output queue: ordering of private replies,
 * shared frames and slab ranges, byte accounting, partial writes and
 * reference counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "outq.h"

static void reply(hr_outq *q, const char *s)
{
    size_t before = q->rbuf.len;
    hr_buf_append_str(hr_outq_rbuf(q), s);
    hr_outq_commit(q, before);
}

static size_t drain(int fd, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, out + n, cap - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    return n;
}

static void test_order_and_accounting(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    hr_outq q;
    hr_outq_init(&q);
    hr_frame *f = hr_frame_new("FRAME", 5);
    reply(&q, "a");
    reply(&q, "b"); /* coalesces with "a" */
    assert_int_equal(q.count, 1);
    hr_outq_push_frame(&q, f);
    assert_int_equal(f->refcnt, 2);
    reply(&q, "c");
    hr_outq_push_frame(&q, f);
    assert_int_equal(q.count, 4);
    assert_int_equal(q.bytes, 2 + 5 + 1 + 5);
    assert_int_equal(q.rbuf_entries, 2);

    ssize_t w = hr_outq_write(&q, sv[0], 0);
    assert_int_equal(w, 13);
    assert_true(hr_outq_empty(&q));
    assert_int_equal(q.bytes, 0);
    assert_int_equal(q.rbuf.len, 0); /* reset once nothing refers to it */
    assert_int_equal(f->refcnt, 1);
    char buf[64];
    size_t n = drain(sv[1], buf, sizeof(buf));
    assert_int_equal(n, 13);
    assert_memory_equal(buf, "abFRAMEcFRAME", 13);
    hr_frame_decref(f);
    hr_outq_release(&q);
    close(sv[0]);
    close(sv[1]);
}

/* A peer that does not read: writes stop at the socket buffer, resume where
 * they stopped, and nothing is lost or reordered. */
static void test_partial_writes(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    hr_outq q;
    hr_outq_init(&q);
    enum { N = 2000 };
    char msg[64];
    size_t expect = 0;
    hr_frame *shared = hr_frame_new("0123456789", 10);
    for (int i = 0; i < N; i++) {
        snprintf(msg, sizeof(msg), "<%d>", i);
        reply(&q, msg);
        expect += strlen(msg);
        if (i % 3 == 0) {
            hr_outq_push_frame(&q, shared);
            expect += 10;
        }
    }
    assert_int_equal(q.bytes, expect);
    char *got = malloc(expect + 1);
    size_t have = 0;
    int rounds = 0;
    while (!hr_outq_empty(&q) && rounds++ < 100000) {
        ssize_t w = hr_outq_write(&q, sv[0], 0);
        assert_true(w >= 0);
        have += drain(sv[1], got + have, expect - have);
    }
    assert_true(hr_outq_empty(&q));
    have += drain(sv[1], got + have, expect - have);
    assert_int_equal(have, expect);
    /* Rebuild the expected stream and compare. */
    char *want = malloc(expect + 1);
    size_t off = 0;
    for (int i = 0; i < N; i++) {
        off += (size_t)sprintf(want + off, "<%d>", i);
        if (i % 3 == 0) {
            memcpy(want + off, "0123456789", 10);
            off += 10;
        }
    }
    assert_memory_equal(got, want, expect);
    assert_int_equal(shared->refcnt, 1);
    hr_frame_decref(shared);
    free(got);
    free(want);
    hr_outq_release(&q);
    close(sv[0]);
    close(sv[1]);
}

/* Releasing a queue drops its frame references. */
static void test_release_drops_refs(void **state)
{
    hr_outq q;
    hr_outq_init(&q);
    hr_frame *f = hr_frame_new("x", 1);
    for (int i = 0; i < 100; i++) hr_outq_push_frame(&q, f);
    assert_int_equal(f->refcnt, 101);
    assert_true(hr_outq_memory(&q) >= 100);
    hr_outq_release(&q);
    assert_int_equal(f->refcnt, 1);
    hr_frame_decref(f);
}

/* Recomputes the queue's counters from its entries. */
static void check_counters(hr_outq *q)
{
    size_t bytes = 0, slab_bytes = 0, pinned = 0;
    hr_frame *prev = NULL;
    for (size_t i = 0; i < q->count; i++) {
        hr_outq_entry *e = &q->ring[(q->head + i) & (q->cap - 1)];
        bytes += e->len;
        if (e->frame && e->frame->cap) {
            slab_bytes += e->len;
            if (e->frame != prev) pinned += e->frame->cap;
        }
        prev = e->frame;
    }
    assert_int_equal(q->bytes, bytes);
    assert_int_equal(q->slab_bytes, slab_bytes);
    assert_int_equal(q->slab_pinned, pinned);
}

/* Appends s to slab sl and queues the new range. */
static void slab_push(hr_outq *q, hr_frame *sl, const char *s)
{
    size_t n = strlen(s);
    assert_true(sl->len + n <= sl->cap);
    memcpy(sl->data + sl->len, s, n);
    hr_outq_push_range(q, sl, sl->len, n);
    sl->len += n;
}

/* Consecutive ranges of one slab become one entry (one iovec); the slab is
 * charged once per run of entries, and bytes come out in order. */
static void test_slab_ranges_merge(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    hr_outq q;
    hr_outq_init(&q);
    hr_frame *a = hr_slab_new(1024), *b = hr_slab_new(1024);
    slab_push(&q, a, "m1");
    slab_push(&q, a, "m2");
    slab_push(&q, a, "m3");
    assert_int_equal(q.count, 1);
    assert_int_equal(a->refcnt, 2);
    assert_int_equal(q.slab_pinned, 1024);
    a->len += 10; /* someone else's range: the next one is not contiguous */
    slab_push(&q, a, "m4");
    assert_int_equal(q.count, 2);
    assert_int_equal(q.slab_pinned, 1024); /* same run, same slab */
    reply(&q, "+r\r\n");
    slab_push(&q, b, "n1");
    slab_push(&q, a, "m5");
    assert_int_equal(q.count, 5);
    assert_int_equal(q.slab_pinned, 1024 * 3); /* runs: a, (reply), b, a */
    check_counters(&q);
    assert_int_equal(hr_outq_charge(&q),
                     q.bytes - q.slab_bytes + 3 * 1024 +
                         q.count * (sizeof(hr_outq_entry) + sizeof(hr_frame)));
    char out[64];
    assert_int_equal(hr_outq_write(&q, sv[0], 0), 16);
    assert_int_equal(drain(sv[1], out, sizeof(out)), 16);
    assert_memory_equal(out, "m1m2m3m4+r\r\nn1m5", 16);
    check_counters(&q);
    assert_int_equal(q.slab_pinned, 0);
    assert_int_equal(a->refcnt, 1);
    assert_int_equal(b->refcnt, 1);
    hr_frame_decref(a);
    hr_frame_decref(b);
    hr_outq_release(&q);
    close(sv[0]);
    close(sv[1]);
}

/* Random pushes of slab ranges, frames and replies through a small socket
 * buffer read in random amounts: the counters always match the entries and
 * the bytes arrive in order. */
static void test_slab_random_partial_writes(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    hr_outq q;
    hr_outq_init(&q);
    enum { NSLABS = 3, TOTAL = 1 << 20 };
    hr_frame *slabs[NSLABS];
    for (int i = 0; i < NSLABS; i++) slabs[i] = hr_slab_new(2048);
    hr_frame *plain = hr_frame_new("PLAIN", 5);
    char *want = malloc(TOTAL + 64), *got = malloc(TOTAL + 64);
    size_t nwant = 0, ngot = 0;
    srand(7);
    while (nwant < TOTAL) {
        int op = rand() % 10;
        char msg[40];
        int n = snprintf(msg, sizeof(msg), "<%zu>", nwant);
        if (op < 6) {
            hr_frame *sl = slabs[rand() % NSLABS];
            if (sl->refcnt == 1) sl->len = 0;
            if (sl->len + (size_t)n + 8 > sl->cap) {
                int i = (int)(rand() % NSLABS);
                hr_frame_decref(slabs[i]);
                sl = slabs[i] = hr_slab_new(2048);
            }
            if (rand() % 3 == 0) sl->len += 8; /* a range for someone else */
            slab_push(&q, sl, msg);
        } else if (op < 8) {
            reply(&q, msg);
        } else {
            hr_outq_push_frame(&q, plain);
            memcpy(msg, "PLAIN", 5);
            n = 5;
        }
        memcpy(want + nwant, msg, (size_t)n);
        nwant += (size_t)n;
        check_counters(&q);
        if (rand() % 4 == 0) {
            assert_true(hr_outq_write(&q, sv[0], 0) >= 0);
            check_counters(&q);
            size_t r = (size_t)(rand() % 6000);
            if (ngot + r > TOTAL + 64) r = TOTAL + 64 - ngot;
            ssize_t k = read(sv[1], got + ngot, r);
            if (k > 0) ngot += (size_t)k;
        }
    }
    while (!hr_outq_empty(&q)) {
        assert_true(hr_outq_write(&q, sv[0], 0) >= 0);
        check_counters(&q);
        ngot += drain(sv[1], got + ngot, TOTAL + 64 - ngot);
    }
    ngot += drain(sv[1], got + ngot, TOTAL + 64 - ngot);
    assert_int_equal(ngot, nwant);
    assert_memory_equal(got, want, nwant);
    assert_int_equal(q.slab_pinned, 0);
    for (int i = 0; i < NSLABS; i++) {
        assert_int_equal(slabs[i]->refcnt, 1);
        hr_frame_decref(slabs[i]);
    }
    hr_frame_decref(plain);
    free(want);
    free(got);
    hr_outq_release(&q);
    close(sv[0]);
    close(sv[1]);
}

/* A queue holding one small range in each of many slabs (a subscriber of a
 * quiet channel while busy channels fill the slabs) copies its ranges out
 * instead of keeping every slab alive; its bytes are unchanged. */
static void test_slab_unpin(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    hr_outq q;
    hr_outq_init(&q);
    enum { N = 40, CAP = 16 * 1024 };
    hr_frame *slabs[N];
    char want[N * 8];
    size_t nwant = 0;
    size_t max_pinned = 0;
    for (int i = 0; i < N; i++) {
        slabs[i] = hr_slab_new(CAP);
        slabs[i]->len = 1000; /* other subscribers' messages */
        char msg[8];
        int n = snprintf(msg, sizeof(msg), "[%d]", i);
        slab_push(&q, slabs[i], msg);
        memcpy(want + nwant, msg, (size_t)n);
        nwant += (size_t)n;
        check_counters(&q);
        if (q.slab_pinned > max_pinned) max_pinned = q.slab_pinned;
    }
    /* never more than the slack plus one slab, and at most one run left */
    assert_true(max_pinned <= 64 * 1024 + CAP);
    assert_true(q.slab_pinned <= 4 * CAP);
    int released = 0;
    for (int i = 0; i < N; i++) released += slabs[i]->refcnt == 1;
    assert_true(released >= N - 4);
    assert_true(hr_outq_charge(&q) < 4 * CAP + 8 * 1024);
    char got[N * 8];
    assert_int_equal(hr_outq_write(&q, sv[0], 0), (ssize_t)nwant);
    assert_int_equal(drain(sv[1], got, sizeof(got)), nwant);
    assert_memory_equal(got, want, nwant);
    for (int i = 0; i < N; i++) {
        assert_int_equal(slabs[i]->refcnt, 1);
        hr_frame_decref(slabs[i]);
    }
    hr_outq_release(&q);
    close(sv[0]);
    close(sv[1]);
}

/* A write error is reported, not swallowed. */
static void test_write_error(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    close(sv[1]);
    signal(SIGPIPE, SIG_IGN);
    hr_outq q;
    hr_outq_init(&q);
    reply(&q, "hello");
    assert_int_equal(hr_outq_write(&q, sv[0], 0), -1);
    assert_int_equal(errno, EPIPE);
    hr_outq_release(&q);
    close(sv[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_accounting),
        cmocka_unit_test(test_partial_writes),
        cmocka_unit_test(test_release_drops_refs),
        cmocka_unit_test(test_write_error),
        cmocka_unit_test(test_slab_ranges_merge),
        cmocka_unit_test(test_slab_random_partial_writes),
        cmocka_unit_test(test_slab_unpin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
