/*
 * io.c - herald-bench sockets: connect (TCP on loopback or a unix socket),
 * read-and-parse, flush, close.
 *
 * Input: a connection keeps only its unparsed tail (c->pend, normally a
 * fraction of one frame); each read copies that tail to the front of the
 * worker's shared read buffer and reads behind it, so ten thousand idle
 * connections cost no buffer memory. The shared buffer grows when one frame
 * is larger than it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"
#include "bench.h"

#define HB_READ_CHUNK (256 * 1024)

int hb_connect(int timeout_ms, char *err, size_t errlen)
{
    int fd = -1;
    int rc;
    if (g.o.unix_path) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        if (strlen(g.o.unix_path) >= sizeof sa.sun_path) {
            snprintf(err, errlen, "unix socket path too long");
            return -1;
        }
        strcpy(sa.sun_path, g.o.unix_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) goto fail;
        rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    } else {
        struct sockaddr_storage ss;
        socklen_t sl;
        memset(&ss, 0, sizeof ss);
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, g.o.host, &s4->sin_addr) == 1) {
            s4->sin_family = AF_INET;
            s4->sin_port = htons((uint16_t)g.o.port);
            sl = sizeof *s4;
        } else if (inet_pton(AF_INET6, g.o.host, &s6->sin6_addr) == 1) {
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons((uint16_t)g.o.port);
            sl = sizeof *s6;
        } else {
            snprintf(err, errlen, "bad address %s", g.o.host);
            return -1;
        }
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) goto fail;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        rc = connect(fd, (struct sockaddr *)&ss, sl);
    }
    if (rc < 0 && errno != EINPROGRESS && errno != EAGAIN) goto fail;
    if (rc < 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int pr;
        do
            pr = poll(&pfd, 1, timeout_ms);
        while (pr < 0 && errno == EINTR);
        if (pr == 0) {
            close(fd);
            snprintf(err, errlen, "connect timed out");
            return -1;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr) {
            errno = soerr;
            goto fail;
        }
    }
    return fd;
fail:
    snprintf(err, errlen, "connect: %s", strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
}

int hb_conn_read(hb_conn *c, hb_rbuf *rb, int max_reads)
{
    for (int i = 0; i < max_reads; i++) {
        size_t have = c->pend.len;
        if (rb->cap < have + HB_READ_CHUNK) {
            size_t cap = rb->cap ? rb->cap : HB_READ_CHUNK;
            while (cap < have + HB_READ_CHUNK)
                cap *= 2;
            rb->data = hr_realloc(rb->data, cap);
            rb->cap = cap;
        }
        if (have) memcpy(rb->data, c->pend.data, have);
        size_t room = rb->cap - have;
        ssize_t n = read(c->fd, rb->data + have, room);
        if (n == 0) return -1;
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            return -1;
        }
        int64_t now = hb_now_ns();
        size_t total = have + (size_t)n;
        ssize_t used = hb_parse(c, rb->data, total, now);
        if (used < 0) return -1;
        c->pend.len = 0;
        if ((size_t)used < total)
            hr_buf_append(&c->pend, rb->data + used, total - (size_t)used);
        else if (c->pend.cap > 64 * 1024)
            hr_buf_release(&c->pend);
        if ((size_t)n < room) return 0; /* the socket is most likely drained */
    }
    return 0;
}

int hb_conn_flush(hb_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return -1;
    }
    if (c->out_off == c->out.len) {
        c->out.len = 0;
        c->out_off = 0;
    } else if (c->out_off > (1u << 20) && c->out_off * 2 > c->out.len) {
        memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
        c->out.len -= c->out_off;
        c->out_off = 0;
    }
    return 0;
}

void hb_conn_close(hb_conn *c)
{
    if (c->fd >= 0) {
        /* reset instead of FIN: no TIME_WAIT left behind by 10k connections */
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c->fd);
        c->fd = -1;
    }
}
