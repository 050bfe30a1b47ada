/*
 * server.c - herald-server lifecycle: listeners, accepting connections, the
 * periodic cron (timeouts, soft output limits), the before-sleep flush and
 * shutdown.
 *
 * One loop iteration (see loop.h): before-sleep flushes every connection with
 * pending output (one writev each), epoll waits, reads run commands that
 * queue replies and published frames, timers run the cron.
 */
#include "server.h"
#include "alloc.h"
#include "hrtime.h"
#include "log.h"
#include "pubsub.h"
#include "db.h"
#include "server_int.h"
#include "tracking.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_ACCEPTS_PER_CALL 1000

long long hr_server_uptime(const hr_server *s)
{
    return (long long)((hr_mono_ms() - s->stats.start_ms) / 1000);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void set_keepalive(int fd, int interval)
{
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof(yes));
    int idle = interval, intvl = interval / 3 ? interval / 3 : 1, cnt = 3;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
    }
    snprintf(out, outlen, "%s:%d", host, port);
}

static void accept_common(hr_server *s, int fd, int is_unix)
{
    if (s->nclients >= s->cfg.maxclients) {
        static const char err[] = "-ERR max number of clients reached\r\n";
        ssize_t w = write(fd, err, sizeof(err) - 1);
        (void)w;
        close(fd);
        s->stats.rejected_connections++;
        return;
    }
    set_nonblock(fd);
    if (!is_unix) {
        int yes = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
        if (s->cfg.tcp_keepalive > 0) set_keepalive(fd, (int)s->cfg.tcp_keepalive);
    }
    hr_conn *c = hr_conn_new(s, fd, is_unix);
    if (!c) {
        hr_log_warning("Error registering fd event for the new client: %s", strerror(errno));
        close(fd);
        return;
    }
    s->stats.total_connections_received++;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (is_unix) {
        snprintf(c->addr, sizeof(c->addr), "%s:0", s->cfg.unixsocket);
        snprintf(c->laddr, sizeof(c->laddr), "%s:0", s->cfg.unixsocket);
    } else {
        if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
            format_addr(&ss, c->addr, sizeof(c->addr));
        sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            format_addr(&ss, c->laddr, sizeof(c->laddr));
    }
    hr_log_verbose("Accepted %s", c->addr);
}

static void accept_handler(hr_loop *loop, int lfd, void *data, int mask)
{
    hr_server *s = data;
    int is_unix = lfd == s->unix_fd;
    for (int i = 0; i < MAX_ACCEPTS_PER_CALL; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                hr_log_warning("Accepting client connection: %s", strerror(errno));
            return;
        }
        accept_common(s, fd, is_unix);
    }
}

/* Binds one address; a leading '-' makes failure to bind non-fatal (as in
 * Redis's "bind 127.0.0.1 -::1"). Returns 0 on success or when optional. */
static int listen_one(hr_server *s, const char *spec, char *err, size_t errlen)
{
    int optional = spec[0] == '-';
    const char *host = optional ? spec + 1 : spec;
    if (!strcmp(host, "*")) host = "0.0.0.0";
    else if (!strcmp(host, "::*")) host = "::";
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
    struct addrinfo *res;
    char port[16];
    snprintf(port, sizeof(port), "%d", s->actual_port ? s->actual_port : s->cfg.port);
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        if (optional) return 0;
        snprintf(err, errlen, "Invalid bind address '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) goto fail;
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (res->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &yes, sizeof(yes));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) goto fail_fd;
    if (listen(fd, s->cfg.tcp_backlog) < 0) goto fail_fd;
    if (!s->actual_port) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        s->actual_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                       : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    freeaddrinfo(res);
    s->listen_fds[s->nlisten++] = fd;
    return 0;

fail_fd:
    close(fd);
fail:
    freeaddrinfo(res);
    if (optional && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT))
        return 0;
    snprintf(err, errlen, "Could not create server TCP listening socket %s:%d: %s", host,
             s->cfg.port, strerror(errno));
    return -1;
}

static int listen_unix(hr_server *s, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(s->cfg.unixsocket) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "unixsocket path too long");
        return -1;
    }
    strcpy(sa.sun_path, s->cfg.unixsocket);
    unlink(s->cfg.unixsocket);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, s->cfg.tcp_backlog) < 0) {
        snprintf(err, errlen, "Failed opening Unix socket: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (s->cfg.unixsocketperm) chmod(s->cfg.unixsocket, (mode_t)s->cfg.unixsocketperm);
    s->unix_fd = fd;
    return 0;
}

/* Raises RLIMIT_NOFILE for maxclients (+32 reserved), lowering maxclients
 * when the system refuses, as Redis does. */
static void adjust_open_files(hr_server *s)
{
    rlim_t want = (rlim_t)s->cfg.maxclients + 32;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want) return;
    rlim_t target = want;
    while (target > rl.rlim_cur) {
        struct rlimit nl = {target, rl.rlim_max > target ? rl.rlim_max : target};
        if (setrlimit(RLIMIT_NOFILE, &nl) == 0) break;
        nl.rlim_max = rl.rlim_max;
        if (nl.rlim_max >= target && setrlimit(RLIMIT_NOFILE, &nl) == 0) break;
        target -= target > 16 ? 16 : 1;
    }
    if (target < want) {
        long long old = s->cfg.maxclients;
        s->cfg.maxclients = (long long)target > 32 ? (long long)target - 32 : 1;
        hr_log_warning("You requested maxclients of %lld requiring at least %llu max file "
                       "descriptors. Server can't set maximum open files to %llu; maxclients "
                       "is now %lld.",
                       old, (unsigned long long)want, (unsigned long long)want,
                       s->cfg.maxclients);
    }
}


void hr_server_limits_changed(hr_server *s)
{
    size_t floor = 0;
    for (int i = 0; i < HR_OBL_COUNT; i++) {
        long long l[2] = {s->cfg.obl[i].hard, s->cfg.obl[i].soft};
        for (int k = 0; k < 2; k++)
            if (l[k] > 0 && (floor == 0 || (size_t)l[k] < floor)) floor = (size_t)l[k];
    }
    s->obl_floor = floor;
}

/* One pass over the clients per cron tick:
 *  - closes clients idle for longer than `timeout` (subscribed clients
 *    legitimately stay idle and are exempt, as in Redis);
 *  - re-checks soft output limits, which are time based;
 *  - with trim_outputs (once a second), releases the output memory of
 *    connections with nothing queued, so memory follows what is pending;
 *    busy connections keep theirs between flushes. */
static void clients_cron(hr_server *s, bool trim_outputs)
{
    uint64_t now = hr_mono_ms();
    uint64_t idle_ms = s->cfg.timeout > 0 ? (uint64_t)s->cfg.timeout * 1000 : 0;
    for (hr_conn *c = s->clients_head, *n; c; c = n) {
        n = c->next; /* hr_conn_close may free c */
        if (c->flags & HR_CONN_CLOSE_ASAP) continue;
        if (idle_ms && now - c->last_ms > idle_ms && hr_conn_subscriptions(c) == 0) {
            hr_log_verbose("Closing idle client id=%llu", (unsigned long long)c->id);
            hr_conn_close(c);
            continue;
        }
        if (c->obl_soft_since_ms && !hr_conn_check_obl(c)) continue;
        if (trim_outputs && hr_outq_empty(&c->out) && !(c->flags & HR_CONN_PENDING_WRITE))
            hr_outq_trim(&c->out);
    }
}

static long long cron(hr_loop *loop, long long id, void *data)
{
    hr_server *s = data;
    s->cron_loops++;
    clients_cron(s, s->cron_loops % (uint64_t)(s->cfg.hz > 0 ? s->cfg.hz : 10) == 0);
    hr_db_active_expire(s, false);
    hr_db_rehash(s, 1000);
    /* maxmemory lowered by CONFIG SET, or memory grown by something other
     * than a command: evict without waiting for the next command. */
    if (s->cfg.maxmemory > 0) hr_evict_perform(s);
    if (s->trim_heap) {
        s->trim_heap = 0;
        malloc_trim(0);
    }
    if (s->shutdown_asap) hr_loop_stop(loop);
    return 1000 / (s->cfg.hz > 0 ? s->cfg.hz : 10);
}

/* Flushes pending output before the loop sleeps. Queues that hold only
 * pushes are held back while more input is already waiting: that input is
 * processed first (hr_loop_poll), so each subscriber gets one larger writev
 * instead of many small ones. When nothing is waiting the server would go
 * idle, and everything is flushed at once, so light load adds no latency;
 * under load a queue waits at most HR_DEFER_MAX_US / HR_DEFER_MAX_BYTES. */
static void before_sleep(hr_loop *loop, void *data)
{
    hr_server *s = data;
    hr_db_active_expire(s, true); /* only when the last slow pass ran out of time */
    hr_tracking_before_sleep(s);
    for (int round = 0; round < HR_DEFER_MAX_ROUNDS; round++) {
        if (hr_server_flush_pending(s, true) == 0) break;
        if (hr_loop_poll(loop) == 0) break;
        hr_tracking_before_sleep(s); /* BCAST keys written by that input */
    }
    hr_server_flush_pending(s, false);
    s->now_ms = hr_mono_ms();
    if (s->shutdown_asap) hr_loop_stop(loop);
}

hr_server *hr_server_new(hr_config *cfg, char *err, size_t errlen)
{
    hr_server *s = hr_calloc(1, sizeof(*s));
    s->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg)); /* strings now belong to the server */
    s->unix_fd = -1;
    s->pid = getpid();
    s->stats.start_ms = hr_mono_ms();
    s->now_ms = s->stats.start_ms;
    unsigned char rnd[20];
    hr_random_bytes(rnd, sizeof(rnd));
    for (int i = 0; i < 20; i++) snprintf(s->run_id + 2 * i, 3, "%02x", rnd[i]);
    uint64_t seed;
    hr_random_bytes(&seed, sizeof(seed));
    hr_hash_seed(seed);

    adjust_open_files(s);
    s->loop = hr_loop_new((int)s->cfg.maxclients + 1024);
    if (!s->loop) {
        snprintf(err, errlen, "Failed creating the event loop: %s", strerror(errno));
        goto fail;
    }
    s->pubsub = hr_pubsub_new();
    hr_dict_init(&s->clients_by_id);
    hr_db_init_all(s);
    s->tracking = hr_tracking_new();
    hr_commands_register(s);
    hr_server_limits_changed(s);

    if (s->cfg.port != 0) { /* port 0: no TCP listener, as in Redis */
        for (int i = 0; i < s->cfg.nbind; i++)
            if (listen_one(s, s->cfg.bind[i], err, errlen) < 0) goto fail;
    }
    if (s->cfg.unixsocket && listen_unix(s, err, errlen) < 0) goto fail;
    if (s->nlisten == 0 && s->unix_fd < 0) {
        snprintf(err, errlen, "Configured to not listen anywhere, exiting.");
        goto fail;
    }
    for (int i = 0; i < s->nlisten; i++)
        hr_loop_add_fd(s->loop, s->listen_fds[i], HR_LOOP_READ, accept_handler, s);
    if (s->unix_fd >= 0) hr_loop_add_fd(s->loop, s->unix_fd, HR_LOOP_READ, accept_handler, s);
    hr_loop_set_before_sleep(s->loop, before_sleep, s);
    s->cron_timer = hr_loop_add_timer(s->loop, 1, cron, s);
    return s;

fail:
    hr_server_free(s);
    return NULL;
}

void hr_server_run(hr_server *s)
{
    hr_loop_run(s->loop);
    /* Shutting down: flush what is queued (best effort, non-blocking). */
    hr_server_flush_pending(s, false);
}

void hr_server_shutdown(hr_server *s)
{
    s->shutdown_asap = 1;
    if (s->loop) hr_loop_wakeup(s->loop);
}

void hr_server_free(hr_server *s)
{
    if (!s) return;
    while (s->clients_head) {
        hr_conn *c = s->clients_head;
        c->flags &= ~(HR_CONN_PENDING_WRITE | HR_CONN_IN_CALL);
        hr_conn_close(c);
    }
    for (int i = 0; i < s->nlisten; i++) close(s->listen_fds[i]);
    if (s->unix_fd >= 0) {
        close(s->unix_fd);
        unlink(s->cfg.unixsocket);
    }
    hr_pubsub_free(s->pubsub);
    hr_db_free_all(s);
    if (s->tracking) hr_tracking_free(s->tracking);
    hr_dict_release(&s->clients_by_id);
    hr_commands_unregister(s);
    hr_loop_free(s->loop);
    hr_buf_release(&s->readbuf);
    hr_config_release(&s->cfg);
    hr_free(s);
}
