/* test_server_conn.c - connection input: a read that fills its buffer makes
 * the next one larger (32 KiB doubling up to 256 KiB), a read that does not
 * brings it back, and every command still runs once and in order. Runs a
 * real in-process server on a private unix socket, driven one loop
 * iteration at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"
#include "server.h"

typedef struct fixture {
    hr_server *s;
    char path[64];
    int fd; /* the client's end */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    hr_config cfg;
    hr_config_defaults(&cfg);
    cfg.port = 0;
    snprintf(f->path, sizeof(f->path), "/tmp/herald-test-conn-%d.sock", (int)getpid());
    cfg.unixsocket = hr_strdup(f->path);
    char err[256];
    f->s = hr_server_new(&cfg, err, sizeof(err));
    if (!f->s) fprintf(stderr, "server: %s\n", err);
    assert_non_null(f->s);
    f->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    assert_int_equal(connect(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) | O_NONBLOCK);
    for (int i = 0; i < 100 && !f->s->clients_head; i++) hr_loop_run_once(f->s->loop, 10);
    assert_non_null(f->s->clients_head);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    close(f->fd);
    hr_server_free(f->s);
    free(f);
    return 0;
}

/* Reads whatever the server has written back; returns the count of ":"
 * integer replies in it (PUBLISH answers :0 here). */
static size_t read_replies(int fd)
{
    static char buf[1 << 16];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r <= 0) break;
        for (ssize_t i = 0; i < r; i++) n += buf[i] == ':';
    }
    return n;
}

static void test_reads_grow_and_shrink(void **state)
{
    fixture *f = *state;
    hr_conn *c = f->s->clients_head;
    /* 40,000 PUBLISHes with no subscriber: 1.8 MB of input */
    static const char cmd[] = "*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$15\r\nmessage-payload\r\n";
    enum { N = 40000, LEN = sizeof(cmd) - 1 };
    char *input = malloc((size_t)N * LEN);
    for (int i = 0; i < N; i++) memcpy(input + (size_t)i * LEN, cmd, LEN);
    size_t sent = 0, replies = 0;
    uint32_t largest = 0;
    for (int iter = 0; iter < 100000 && replies < N; iter++) {
        if (sent < (size_t)N * LEN) {
            ssize_t w = write(f->fd, input + sent, (size_t)N * LEN - sent);
            if (w > 0) sent += (size_t)w;
            else assert_true(errno == EAGAIN);
        }
        hr_loop_run_once(f->s->loop, 0);
        if (c->read_chunk > largest) largest = c->read_chunk;
        replies += read_replies(f->fd);
    }
    assert_int_equal(replies, N);
    /* the socket kept more than 32 KiB waiting: reads grew to the cap */
    assert_int_equal(largest, 256 * 1024);
    /* a short command afterwards: the read does not fill, back to 32 KiB */
    assert_int_equal(write(f->fd, cmd, LEN), LEN);
    for (int i = 0; i < 100 && read_replies(f->fd) == 0; i++) hr_loop_run_once(f->s->loop, 10);
    assert_int_equal(c->read_chunk, 32 * 1024);
    assert_int_equal(c->qbuf.len, 0);
    free(input);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads_grow_and_shrink, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
