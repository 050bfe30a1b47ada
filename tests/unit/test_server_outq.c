/* test_server_outq.c - the output queue: ordering of private replies and
 * shared frames, byte accounting, partial writes and reference counts. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
