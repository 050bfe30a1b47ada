/*
 * transport.c - the plain socket transport (TCP and UNIX domain) behind the
 * hc_transport_ops vtable. Sockets are non-blocking and close-on-exec; TCP
 * sockets get TCP_NODELAY and SO_KEEPALIVE. Writes use sendmsg(MSG_NOSIGNAL)
 * so a dead peer never raises SIGPIPE in the application.
 *
 * Name resolution (getaddrinfo) is synchronous and runs on the I/O thread;
 * each attempt takes the next resolved address (t->cursor), so a host with
 * several addresses is tried round-robin across reconnect attempts.
 */
#include "client_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int sock_open(int family, char *err, size_t errlen)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) snprintf(err, errlen, "socket: %s", strerror(errno));
    return fd;
}

static int sock_connect(hc_transport *t, const hc_endpoint *ep, char *err, size_t errlen)
{
    t->fd = -1;
    int fd, rc;
    if (ep->kind == HC_EP_UNIX) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        if (strlen(ep->path) >= sizeof(sa.sun_path)) {
            snprintf(err, errlen, "socket path too long");
            return HERALD_EINVAL;
        }
        strcpy(sa.sun_path, ep->path);
        fd = sock_open(AF_UNIX, err, errlen);
        if (fd < 0) return HERALD_ECONNECT;
        rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    } else {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        char port[16];
        snprintf(port, sizeof(port), "%d", ep->port);
        int gai = getaddrinfo(ep->host, port, &hints, &res);
        if (gai != 0 || !res) {
            snprintf(err, errlen, "cannot resolve %s: %s", ep->host, gai_strerror(gai));
            return HERALD_ECONNECT;
        }
        unsigned count = 0;
        for (struct addrinfo *a = res; a; a = a->ai_next)
            count++;
        struct addrinfo *a = res;
        for (unsigned i = 0; i < t->cursor % count; i++)
            a = a->ai_next;
        t->cursor++;
        fd = sock_open(a->ai_family, err, errlen);
        if (fd < 0) {
            freeaddrinfo(res);
            return HERALD_ECONNECT;
        }
        int yes = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof(yes));
        rc = connect(fd, a->ai_addr, a->ai_addrlen);
        freeaddrinfo(res);
    }
    if (rc == 0) {
        t->fd = fd;
        return 0;
    }
    if (errno == EINPROGRESS || errno == EAGAIN) {
        t->fd = fd;
        return 1;
    }
    snprintf(err, errlen, "connect: %s", strerror(errno));
    close(fd);
    return HERALD_ECONNECT;
}

static int sock_finish(hc_transport *t, char *err, size_t errlen)
{
    int e = 0;
    socklen_t len = sizeof(e);
    if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) e = errno;
    if (e == 0) return 0;
    if (e == EINPROGRESS) return 1;
    snprintf(err, errlen, "connect: %s", strerror(e));
    return HERALD_ECONNECT;
}

static ssize_t sock_read(hc_transport *t, void *buf, size_t len)
{
    return recv(t->fd, buf, len, 0);
}

static ssize_t sock_writev(hc_transport *t, const struct iovec *iov, int iovcnt)
{
    struct msghdr m;
    memset(&m, 0, sizeof(m));
    m.msg_iov = (struct iovec *)iov;
    m.msg_iovlen = (size_t)iovcnt;
    return sendmsg(t->fd, &m, MSG_NOSIGNAL);
}

static void sock_close(hc_transport *t)
{
    if (t->fd >= 0) close(t->fd);
    t->fd = -1;
}

const hc_transport_ops hc_transport_socket = {
    .name = "socket",
    .connect = sock_connect,
    .finish = sock_finish,
    .read = sock_read,
    .writev = sock_writev,
    .close = sock_close,
};
