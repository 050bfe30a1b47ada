/* testlib.c - see testlib.h. */
#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int tl_passed, tl_failed;
char tl_context[128] = "";

uint64_t tl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void tl_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int tl_report(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, tl_passed, tl_failed);
    fflush(stdout);
    return tl_failed == 0 ? 0 : 1;
}

void tl_run_matrix(tl_suite_fn *suite, bool start_server)
{
    const char *kinds[2] = {"herald", "redis"};
    for (int k = 0; k < 2; k++) {
        if (k == 1 && !tl_have_redis()) {
            printf("redis-server not found: redis runs skipped\n");
            break;
        }
        tl_server s;
        if (start_server) {
            snprintf(tl_context, sizeof(tl_context), "%s", kinds[k]);
            if (tl_server_start(&s, kinds[k], 0, NULL) != 0) {
                CHECK(0, "start %s", kinds[k]);
                continue;
            }
        }
        for (int proto = 2; proto <= 3; proto++) {
            snprintf(tl_context, sizeof(tl_context), "%s resp%d", kinds[k], proto);
            int before = tl_failed;
            suite(start_server ? &s : NULL, kinds[k], proto);
            printf("%s: %s\n", tl_context, tl_failed == before ? "ok" : "FAILED");
            fflush(stdout);
        }
        if (start_server) tl_server_stop(&s);
    }
}

/* 127.0.0.1:port (0: any port). Tests only ever use loopback. */
static struct sockaddr_in loopback_addr(int port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

static bool port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = loopback_addr(port);
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* Ports are picked below the kernel's ephemeral range: no client socket of
 * a concurrent test can then hold the port when a server restarts on it,
 * and a reconnecting client can never connect to itself. */
int tl_free_port(void)
{
    int lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2) lo = 32768;
        fclose(f);
    }
    int base = 10000, span = lo - base;
    for (int i = 0; span > 1000 && i < 200; i++) {
        unsigned r = 0; /* from the OS: tests starting together must differ */
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) r = (unsigned)rand();
        int port = base + (int)(r % (unsigned)span);
        if (port_bindable(port)) return port;
    }
    /* fall back to any port the kernel gives */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = loopback_addr(0);
    socklen_t len = sizeof(sa);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static const char *redis_binary(void)
{
    const char *p = getenv("REDIS_SERVER");
    if (p && *p) return p;
    static const char *const cands[] = {"/usr/bin/redis-server", "/usr/local/bin/redis-server",
                                        NULL};
    for (int i = 0; cands[i]; i++)
        if (access(cands[i], X_OK) == 0) return cands[i];
    return NULL;
}

bool tl_have_redis(void)
{
    return redis_binary() != NULL;
}

static int connect_port(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = loopback_addr(port);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* true when the server on port answers a PING (any reply: +PONG or -NOAUTH). */
static bool answers(int port)
{
    int fd = connect_port(port, 500);
    if (fd < 0) return false;
    bool ok = false;
    if (write(fd, "PING\r\n", 6) == 6) {
        char buf[64];
        ssize_t n = read(fd, buf, sizeof(buf));
        ok = n > 0 && (buf[0] == '+' || buf[0] == '-');
    }
    close(fd);
    return ok;
}

static int spawn(tl_server *s)
{
    const char *argv[32];
    int argc = 0;
    char port[16];
    snprintf(port, sizeof(port), "%d", s->port);
    if (strcmp(s->kind, "herald") == 0) {
        const char *bin = getenv("HERALD_SERVER");
        if (!bin || !*bin) bin = "./herald-server";
        argv[argc++] = bin;
        argv[argc++] = "--port";
        argv[argc++] = port;
        argv[argc++] = "--bind";
        argv[argc++] = "127.0.0.1";
        argv[argc++] = "--unixsocket";
        argv[argc++] = s->sock;
    } else {
        argv[argc++] = redis_binary();
        argv[argc++] = "--port";
        argv[argc++] = port;
        argv[argc++] = "--bind";
        argv[argc++] = "127.0.0.1";
        argv[argc++] = "--unixsocket";
        argv[argc++] = s->sock;
        argv[argc++] = "--save";
        argv[argc++] = "";
        argv[argc++] = "--appendonly";
        argv[argc++] = "no";
        argv[argc++] = "--daemonize";
        argv[argc++] = "no";
        argv[argc++] = "--dir";
        argv[argc++] = s->dir;
    }
    for (int i = 0; i < s->nextra; i++)
        argv[argc++] = s->extra[i];
    argv[argc] = NULL;
    if (!argv[0]) return -1;
    char log[200];
    snprintf(log, sizeof(log), "%s/server.log", s->dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* The test blocks no signals, but make sure the child starts clean. */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    int rc = posix_spawn(&s->pid, argv[0], &fa, &attr, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        s->pid = 0;
        return -1;
    }
    uint64_t end = tl_now_ms() + 10000;
    while (tl_now_ms() < end) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            fprintf(stderr, "%s exited early (see %s)\n", s->kind, log);
            s->pid = 0;
            return -1;
        }
        if (answers(s->port)) return 0;
        tl_sleep_ms(10);
    }
    return -1;
}

int tl_server_start(tl_server *s, const char *kind, int port, const char *const *extra)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->kind, sizeof(s->kind), "%s", kind);
    s->port = port ? port : tl_free_port();
    snprintf(s->dir, sizeof(s->dir), "/tmp/herald-ctest-XXXXXX");
    if (!mkdtemp(s->dir)) return -1;
    snprintf(s->sock, sizeof(s->sock), "%s/s.sock", s->dir);
    snprintf(s->url, sizeof(s->url), "redis://127.0.0.1:%d", s->port);
    for (int i = 0; extra && extra[i] && i < 4; i++) {
        snprintf(s->extra[i], sizeof(s->extra[i]), "%s", extra[i]);
        s->nextra++;
    }
    return spawn(s);
}

int tl_server_restart(tl_server *s)
{
    return spawn(s);
}

static void reap(tl_server *s, int timeout_ms)
{
    uint64_t end = tl_now_ms() + (uint64_t)timeout_ms;
    while (s->pid > 0) {
        int st;
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid || (r < 0 && errno == ECHILD)) {
            s->pid = 0;
            break;
        }
        if (tl_now_ms() >= end) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
            s->pid = 0;
            break;
        }
        tl_sleep_ms(5);
    }
}

void tl_server_kill(tl_server *s)
{
    if (s->pid <= 0) return;
    kill(s->pid, SIGKILL);
    reap(s, 5000);
}

void tl_server_signal(tl_server *s, int sig)
{
    if (s->pid > 0) kill(s->pid, sig);
}

void tl_server_stop(tl_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGCONT);
        kill(s->pid, SIGTERM);
        reap(s, 5000);
    }
    char path[200];
    snprintf(path, sizeof(path), "%s/server.log", s->dir);
    if (strcmp(s->kind, "herald") == 0) {
        /* A sanitizer build of herald-server reports into its log: that
         * fails the test (as tests/lib/servers.py does). */
        FILE *f = fopen(path, "r");
        if (f) {
            static const char *const markers[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                                  "runtime error:", NULL};
            char line[1024];
            bool found = false;
            while (fgets(line, sizeof(line), f)) {
                for (int i = 0; markers[i] && !found; i++)
                    found = strstr(line, markers[i]) != NULL;
                if (found) fprintf(stderr, "  | %s", line);
            }
            fclose(f);
            CHECK(!found, "herald-server sanitizer report (above)");
        }
    }
    if (tl_failed && getenv("TL_SHOW_LOGS")) {
        FILE *f = fopen(path, "r");
        if (f) {
            char line[512];
            while (fgets(line, sizeof(line), f))
                fprintf(stderr, "  | %s", line);
            fclose(f);
        }
    }
    unlink(path);
    unlink(s->sock);
    snprintf(path, sizeof(path), "%s/dump.rdb", s->dir);
    unlink(path);
    rmdir(s->dir);
}

long long tl_numsub(const char *url, const char *channel, bool shard)
{
    herald_options_t o;
    herald_options_init(&o);
    o.connect_timeout_ms = 2000;
    o.reconnect = 0;
    herald_client_t *c;
    if (herald_connect(url, &o, &c) != HERALD_OK) return -1;
    const char *argv[3] = {"PUBSUB", shard ? "SHARDNUMSUB" : "NUMSUB", channel};
    herald_reply_t *r = NULL;
    long long n = -1;
    if (herald_command(c, 3, argv, NULL, &r) == HERALD_OK && r->elements == 2 &&
        r->element[1]->type == HERALD_REPLY_INTEGER)
        n = r->element[1]->integer;
    herald_reply_free(r);
    herald_free(c);
    return n;
}

/* ---- proxy ------------------------------------------------------------------ */

#define TL_PROXY_MAX 32

typedef struct pair {
    int a, b; /* client side, upstream side; -1 when unused */
    bool hole;
} pair;

struct tl_proxy {
    int lfd;
    int port;
    int upstream;
    pthread_t th;
    pthread_mutex_t mu;
    bool stop;
    pair pairs[TL_PROXY_MAX];
};

static void pair_close(pair *p)
{
    if (p->a >= 0) close(p->a);
    if (p->b >= 0) close(p->b);
    p->a = p->b = -1;
    p->hole = false;
}

static void *proxy_main(void *arg)
{
    tl_proxy *p = arg;
    for (;;) {
        struct pollfd pfd[1 + 2 * TL_PROXY_MAX];
        int idx[1 + 2 * TL_PROXY_MAX];
        int n = 0;
        pthread_mutex_lock(&p->mu);
        bool stop = p->stop;
        pfd[n].fd = p->lfd;
        pfd[n].events = POLLIN;
        idx[n++] = -1;
        for (int i = 0; i < TL_PROXY_MAX; i++) {
            if (p->pairs[i].a < 0) continue;
            pfd[n].fd = p->pairs[i].a;
            pfd[n].events = POLLIN;
            idx[n++] = i;
            pfd[n].fd = p->pairs[i].b;
            pfd[n].events = POLLIN;
            idx[n++] = i;
        }
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        if (poll(pfd, (nfds_t)n, 50) <= 0) continue;
        pthread_mutex_lock(&p->mu);
        for (int k = 0; k < n; k++) {
            if (!pfd[k].revents) continue;
            if (idx[k] < 0) {
                int cfd = accept(p->lfd, NULL, NULL);
                if (cfd < 0) continue;
                int ufd = connect_port(p->upstream, 1000);
                int slot = -1;
                for (int i = 0; i < TL_PROXY_MAX && slot < 0; i++)
                    if (p->pairs[i].a < 0) slot = i;
                if (ufd < 0 || slot < 0) {
                    close(cfd);
                    if (ufd >= 0) close(ufd);
                    continue;
                }
                struct timeval tv = {0, 0};
                setsockopt(ufd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                setsockopt(ufd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
                int yes = 1;
                setsockopt(ufd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
                p->pairs[slot] = (pair){cfd, ufd, false};
                continue;
            }
            pair *pr = &p->pairs[idx[k]];
            if (pr->a < 0) continue;
            int from = pfd[k].fd, to = from == pr->a ? pr->b : pr->a;
            char buf[16384];
            ssize_t r = read(from, buf, sizeof(buf));
            if (r <= 0) {
                pair_close(pr);
                continue;
            }
            if (pr->hole) continue; /* swallowed */
            for (ssize_t off = 0; off < r;) {
                ssize_t w = write(to, buf + off, (size_t)(r - off));
                if (w <= 0) break;
                off += w;
            }
        }
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

tl_proxy *tl_proxy_start(int upstream_port)
{
    tl_proxy *p = calloc(1, sizeof(*p));
    p->upstream = upstream_port;
    for (int i = 0; i < TL_PROXY_MAX; i++)
        p->pairs[i].a = p->pairs[i].b = -1;
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = loopback_addr(0);
    socklen_t len = sizeof(sa);
    if (bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(p->lfd, 16) != 0 ||
        getsockname(p->lfd, (struct sockaddr *)&sa, &len) != 0) {
        close(p->lfd);
        free(p);
        return NULL;
    }
    p->port = ntohs(sa.sin_port);
    pthread_mutex_init(&p->mu, NULL);
    pthread_create(&p->th, NULL, proxy_main, p);
    return p;
}

int tl_proxy_port(tl_proxy *p)
{
    return p->port;
}

void tl_proxy_blackhole(tl_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < TL_PROXY_MAX; i++)
        if (p->pairs[i].a >= 0) p->pairs[i].hole = true;
    pthread_mutex_unlock(&p->mu);
}

void tl_proxy_stop(tl_proxy *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    for (int i = 0; i < TL_PROXY_MAX; i++)
        pair_close(&p->pairs[i]);
    close(p->lfd);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* ---- inbox ------------------------------------------------------------------ */

struct tl_inbox {
    pthread_mutex_t mu;
    tl_msg *v;
    size_t n, cap;
};

tl_inbox *tl_inbox_new(void)
{
    tl_inbox *b = calloc(1, sizeof(*b));
    pthread_mutex_init(&b->mu, NULL);
    return b;
}

static char *dupn(const char *s, size_t n)
{
    if (!s) return NULL;
    char *d = malloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void msg_release(tl_msg *m)
{
    free(m->channel);
    free(m->pattern);
    free(m->payload);
}

void tl_inbox_clear(tl_inbox *b)
{
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; i < b->n; i++)
        msg_release(&b->v[i]);
    b->n = 0;
    pthread_mutex_unlock(&b->mu);
}

void tl_inbox_free(tl_inbox *b)
{
    if (!b) return;
    tl_inbox_clear(b);
    free(b->v);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

void tl_inbox_cb(herald_client_t *c, const herald_message_t *m, void *inbox)
{
    (void)c;
    tl_inbox *b = inbox;
    pthread_mutex_lock(&b->mu);
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->v = realloc(b->v, b->cap * sizeof(*b->v));
    }
    tl_msg *x = &b->v[b->n++];
    x->kind = m->kind;
    x->channel = dupn(m->channel, m->channel_len);
    x->pattern = dupn(m->pattern, m->pattern_len);
    x->payload = dupn(m->payload, m->payload_len);
    x->payload_len = m->payload_len;
    pthread_mutex_unlock(&b->mu);
}

size_t tl_inbox_count(tl_inbox *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->n;
    pthread_mutex_unlock(&b->mu);
    return n;
}

tl_msg *tl_inbox_get(tl_inbox *b, size_t i)
{
    tl_msg *m = NULL;
    pthread_mutex_lock(&b->mu);
    if (i < b->n) {
        m = calloc(1, sizeof(*m));
        tl_msg *x = &b->v[i];
        m->kind = x->kind;
        m->channel = dupn(x->channel, strlen(x->channel));
        m->pattern = x->pattern ? dupn(x->pattern, strlen(x->pattern)) : NULL;
        m->payload = dupn(x->payload, x->payload_len);
        m->payload_len = x->payload_len;
    }
    pthread_mutex_unlock(&b->mu);
    return m;
}

void tl_msg_free(tl_msg *m)
{
    if (!m) return;
    msg_release(m);
    free(m);
}

/* ---- events ----------------------------------------------------------------- */

#define TL_EV_MAX 256

struct tl_events {
    pthread_mutex_t mu;
    int n;
    herald_event_type_t type[TL_EV_MAX];
    int role[TL_EV_MAX];
    int err[TL_EV_MAX];
};

tl_events *tl_events_new(void)
{
    tl_events *e = calloc(1, sizeof(*e));
    pthread_mutex_init(&e->mu, NULL);
    return e;
}

void tl_events_free(tl_events *e)
{
    if (!e) return;
    pthread_mutex_destroy(&e->mu);
    free(e);
}

void tl_events_cb(herald_client_t *c, const herald_event_t *ev, void *events)
{
    (void)c;
    tl_events *e = events;
    if (getenv("TL_VERBOSE"))
        fprintf(stderr, "  event %d role %d err %d: %s\n", ev->type, ev->role, ev->err, ev->detail);
    pthread_mutex_lock(&e->mu);
    if (e->n < TL_EV_MAX) {
        e->type[e->n] = ev->type;
        e->role[e->n] = ev->role;
        e->err[e->n] = ev->err;
        e->n++;
    }
    pthread_mutex_unlock(&e->mu);
}

int tl_events_count(tl_events *e, herald_event_type_t type, int role)
{
    int k = 0;
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < e->n; i++)
        if (e->type[i] == type && (role == 0 || e->role[i] == role)) k++;
    pthread_mutex_unlock(&e->mu);
    return k;
}

int tl_events_last_err(tl_events *e, herald_event_type_t type)
{
    int err = 0;
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < e->n; i++)
        if (e->type[i] == type) err = e->err[i];
    pthread_mutex_unlock(&e->mu);
    return err;
}

void tl_events_clear(tl_events *e)
{
    pthread_mutex_lock(&e->mu);
    e->n = 0;
    pthread_mutex_unlock(&e->mu);
}
