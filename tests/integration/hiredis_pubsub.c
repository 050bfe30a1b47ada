/*
 * hiredis_pubsub.c - integration test: libhiredis (the system's 0.14, blocking
 * API) against the server under test.
 *
 * Starts $HERALD_SERVER (required; ctest sets it to the built herald-server)
 * with `--port N --bind 127.0.0.1` on a free loopback port, in a private temporary
 * working directory, waits until it answers PING, runs the tests below and
 * stops it (SIGTERM, then SIGKILL after 5 s). The server is also killed when
 * the test exits early or trips its global deadline (SIGALRM).
 *
 * Covers PUBLISH/SUBSCRIBE across two contexts with redisGetReply reading the
 * pushed messages, pattern subscriptions, sharded pub/sub, binary channels and
 * payloads with NUL bytes (64 KiB and 1 MiB), 10000 pipelined PUBLISHes with
 * every reply checked and every delivery checked in order, unsubscribe counts,
 * PING and refused commands while subscribed, RESET, and 20 subscriber
 * contexts. Every context has a 10 s socket timeout, so a missing reply fails a
 * check instead of hanging. Prints "ok"/"FAIL" per test and a final
 * "N passed, N failed" line; exits 1 on any failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

#define DEADLINE_SECONDS 120
#define PIPELINE_N 10000
#define FANOUT_CONTEXTS 20
#define FANOUT_MESSAGES 100

static volatile pid_t g_server_pid = -1;
static char g_workdir[256];
static int g_port;
static int g_checks_failed; /* failed checks in the current test */
static int g_tests_passed, g_tests_failed;

/* ---- checks ------------------------------------------------------------ */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            g_checks_failed++;                                                                     \
            fprintf(stdout, "    check failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
            fprintf(stdout, __VA_ARGS__);                                                          \
            fputc('\n', stdout);                                                                   \
        }                                                                                          \
    } while (0)

/* Returns a printable description of a reply (static buffer). */
static const char *describe(const redisReply *r)
{
    static char buf[256];
    if (r == NULL) return "(no reply)";
    switch (r->type) {
    case REDIS_REPLY_STRING:
        snprintf(buf, sizeof buf, "string(%zu) \"%.*s\"", (size_t)r->len,
                 (int)(r->len > 60 ? 60 : r->len), r->str);
        break;
    case REDIS_REPLY_STATUS: snprintf(buf, sizeof buf, "status \"%s\"", r->str); break;
    case REDIS_REPLY_ERROR: snprintf(buf, sizeof buf, "error \"%s\"", r->str); break;
    case REDIS_REPLY_INTEGER: snprintf(buf, sizeof buf, "integer %lld", r->integer); break;
    case REDIS_REPLY_NIL: snprintf(buf, sizeof buf, "nil"); break;
    case REDIS_REPLY_ARRAY: snprintf(buf, sizeof buf, "array(%zu)", r->elements); break;
    default: snprintf(buf, sizeof buf, "type %d", r->type);
    }
    return buf;
}

static bool is_str(const redisReply *r, const char *s, size_t len)
{
    return r && r->type == REDIS_REPLY_STRING && (size_t)r->len == len &&
           memcmp(r->str, s, len) == 0;
}

static bool is_cstr(const redisReply *r, const char *s)
{
    return is_str(r, s, strlen(s));
}

static bool is_status(const redisReply *r, const char *s)
{
    return r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, s) == 0;
}

static bool is_int(const redisReply *r, long long v)
{
    return r && r->type == REDIS_REPLY_INTEGER && r->integer == v;
}

/* A three-element pub/sub frame [kind, a, b] of bulk strings. */
static bool is_frame3(const redisReply *r, const char *kind, const char *a, size_t alen,
                      const char *b, size_t blen)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 && is_cstr(r->element[0], kind) &&
           is_str(r->element[1], a, alen) && is_str(r->element[2], b, blen);
}

static bool is_count_frame(const redisReply *r, const char *kind, const char *name, long long count)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 && is_cstr(r->element[0], kind) &&
           (name ? is_cstr(r->element[1], name) : r->element[1]->type == REDIS_REPLY_NIL) &&
           is_int(r->element[2], count);
}

static bool is_message(const redisReply *r, const char *chan, const char *msg)
{
    return is_frame3(r, "message", chan, strlen(chan), msg, strlen(msg));
}

static bool is_pmessage(const redisReply *r, const char *pat, const char *chan, const char *msg)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
           is_cstr(r->element[0], "pmessage") && is_cstr(r->element[1], pat) &&
           is_cstr(r->element[2], chan) && is_cstr(r->element[3], msg);
}

/* ---- server process ---------------------------------------------------- */

static void kill_server_now(void)
{
    if (g_server_pid > 0) {
        kill(g_server_pid, SIGKILL);
        waitpid(g_server_pid, NULL, 0);
        g_server_pid = -1;
    }
}

static void on_deadline(int sig)
{
    (void)sig;
    static const char msg[] = "hiredis_pubsub: global deadline exceeded, killing the server\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    if (g_server_pid > 0) kill(g_server_pid, SIGKILL);
    _exit(2);
}

static void remove_workdir(void)
{
    if (g_workdir[0] == '\0') return;
    DIR *d = opendir(g_workdir); /* server.log and whatever the server wrote */
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(path, sizeof path, "%s/%s", g_workdir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(g_workdir);
}

static void at_exit(void)
{
    kill_server_now();
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static redisContext *connect_ctx(void)
{
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", g_port, tv);
    if (c == NULL || c->err) {
        printf("    connect to 127.0.0.1:%d failed: %s\n", g_port, c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

static bool server_answers_ping(void)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", g_port, tv);
    bool ok = false;
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        redisReply *r = redisCommand(c, "PING");
        ok = is_status(r, "PONG");
        if (r) freeReplyObject(r);
    }
    if (c) redisFree(c);
    return ok;
}

static void print_server_log(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/server.log", g_workdir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[512];
    printf("--- server log ---\n");
    while (fgets(line, sizeof line, f))
        printf("  | %s", line);
    fclose(f);
}

/* True when the server's log holds an ASan / LSan / UBSan report (the markers
 * tests/lib/servers.py looks for). Call after stop_server(): LSan reports at exit. */
static bool server_log_has_sanitizer_report(void)
{
    static const char *markers[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                    "runtime error:"};
    char path[512];
    snprintf(path, sizeof path, "%s/server.log", g_workdir);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
            if (strstr(line, markers[i])) found = true;
    fclose(f);
    return found;
}

static bool start_server(const char *bin)
{
    for (int attempt = 1; attempt <= 3; attempt++) {
        g_port = free_port();
        if (g_port <= 0) continue;
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return false;
        }
        if (pid == 0) {
            char logpath[512], port[16];
            snprintf(logpath, sizeof logpath, "%s/server.log", g_workdir);
            snprintf(port, sizeof port, "%d", g_port);
            int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
            int devnull = open("/dev/null", O_RDONLY);
            if (devnull >= 0) {
                dup2(devnull, 0);
                close(devnull);
            }
            if (chdir(g_workdir) != 0) _exit(126);
            execl(bin, bin, "--port", port, "--bind", "127.0.0.1", (char *)NULL);
            fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
            _exit(127);
        }
        g_server_pid = pid;
        for (int i = 0; i < 500; i++) { /* 10 s */
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                g_server_pid = -1;
                fprintf(stderr, "hiredis_pubsub: server exited early (status %d), attempt %d\n",
                        status, attempt);
                print_server_log();
                break;
            }
            if (server_answers_ping()) return true;
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        kill_server_now();
    }
    return false;
}

/* SIGTERM, then SIGKILL after 5 s. Returns the wait status, or -1. */
static int stop_server(void)
{
    if (g_server_pid <= 0) return -1;
    pid_t pid = g_server_pid;
    kill(pid, SIGTERM);
    for (int i = 0; i < 250; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            g_server_pid = -1;
            return status;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "hiredis_pubsub: server ignored SIGTERM for 5 s, killing it\n");
    kill_server_now();
    return -1;
}

/* ---- helpers ------------------------------------------------------------- */

/* Reads the next reply (a pushed message) or NULL on error/timeout. */
static redisReply *next_reply(redisContext *c)
{
    void *r = NULL;
    if (redisGetReply(c, &r) != REDIS_OK) {
        printf("    redisGetReply failed: %s\n", c->errstr);
        return NULL;
    }
    return r;
}

static void drop(redisReply *r)
{
    if (r) freeReplyObject(r);
}

/* Runs a command and checks an integer reply. */
static void expect_int_cmd(redisContext *c, long long want, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    CHECK(is_int(r, want), "%s: want integer %lld, got %s", fmt, want, describe(r));
    drop(r);
}

static long long numsub(redisContext *c, const char *chan)
{
    redisReply *r = redisCommand(c, "PUBSUB NUMSUB %s", chan);
    long long n = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_INTEGER)
        n = r->element[1]->integer;
    drop(r);
    return n;
}

/* ---- tests --------------------------------------------------------------- */

static void test_ping_echo(void)
{
    redisContext *c = connect_ctx();
    CHECK(c != NULL, "connect");
    if (!c) return;
    redisReply *r = redisCommand(c, "PING");
    CHECK(is_status(r, "PONG"), "PING: %s", describe(r));
    drop(r);
    const char bin[] = "a\0b\r\n\xff";
    r = redisCommand(c, "ECHO %b", bin, sizeof bin - 1);
    CHECK(is_str(r, bin, sizeof bin - 1), "ECHO binary: %s", describe(r));
    drop(r);
    r = redisCommand(c, "PUBLISH %s %s", "hr:nobody", "x");
    CHECK(is_int(r, 0), "PUBLISH without subscribers: %s", describe(r));
    drop(r);
    r = redisCommand(c, "NOSUCHCMD");
    CHECK(r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "ERR unknown command", 19) == 0,
          "unknown command: %s", describe(r));
    drop(r);
    redisFree(c);
}

static void test_publish_subscribe(void)
{
    redisContext *sub = connect_ctx(), *pub = connect_ctx();
    CHECK(sub && pub, "connect");
    if (sub && pub) {
        redisReply *r = redisCommand(sub, "SUBSCRIBE hr:a hr:b");
        CHECK(is_count_frame(r, "subscribe", "hr:a", 1), "first SUBSCRIBE reply: %s", describe(r));
        drop(r);
        r = next_reply(sub);
        CHECK(is_count_frame(r, "subscribe", "hr:b", 2), "second SUBSCRIBE reply: %s", describe(r));
        drop(r);
        expect_int_cmd(pub, 1, "PUBLISH hr:a hello");
        expect_int_cmd(pub, 1, "PUBLISH hr:b %s", "");
        expect_int_cmd(pub, 0, "PUBLISH hr:c nobody");
        r = next_reply(sub);
        CHECK(is_message(r, "hr:a", "hello"), "message 1: %s", describe(r));
        drop(r);
        r = next_reply(sub);
        CHECK(is_message(r, "hr:b", ""), "message 2 (empty): %s", describe(r));
        drop(r);
        r = redisCommand(pub, "PUBSUB NUMSUB hr:a hr:c");
        CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
                  is_cstr(r->element[0], "hr:a") && is_int(r->element[1], 1) &&
                  is_cstr(r->element[2], "hr:c") && is_int(r->element[3], 0),
              "PUBSUB NUMSUB: %s", describe(r));
        drop(r);
        r = redisCommand(pub, "PUBSUB CHANNELS hr:?");
        CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2, "PUBSUB CHANNELS: %s",
              describe(r));
        drop(r);
    }
    if (sub) redisFree(sub);
    if (pub) redisFree(pub);
}

static void test_pattern_subscribe(void)
{
    redisContext *sub = connect_ctx(), *pub = connect_ctx();
    CHECK(sub && pub, "connect");
    if (sub && pub) {
        long long base = -1;
        redisReply *r = redisCommand(pub, "PUBSUB NUMPAT");
        if (r && r->type == REDIS_REPLY_INTEGER) base = r->integer;
        drop(r);
        r = redisCommand(sub, "PSUBSCRIBE hr:news.* hr:h?llo");
        CHECK(is_count_frame(r, "psubscribe", "hr:news.*", 1), "PSUBSCRIBE 1: %s", describe(r));
        drop(r);
        r = next_reply(sub);
        CHECK(is_count_frame(r, "psubscribe", "hr:h?llo", 2), "PSUBSCRIBE 2: %s", describe(r));
        drop(r);
        expect_int_cmd(pub, base + 2, "PUBSUB NUMPAT");
        expect_int_cmd(pub, 1, "PUBLISH hr:news.sport goal");
        expect_int_cmd(pub, 1, "PUBLISH hr:hallo hi");
        expect_int_cmd(pub, 0, "PUBLISH hr:news nothing");
        r = next_reply(sub);
        CHECK(is_pmessage(r, "hr:news.*", "hr:news.sport", "goal"), "pmessage 1: %s", describe(r));
        drop(r);
        r = next_reply(sub);
        CHECK(is_pmessage(r, "hr:h?llo", "hr:hallo", "hi"), "pmessage 2: %s", describe(r));
        drop(r);
        r = redisCommand(sub, "PUNSUBSCRIBE hr:h?llo");
        CHECK(is_count_frame(r, "punsubscribe", "hr:h?llo", 1), "PUNSUBSCRIBE: %s", describe(r));
        drop(r);
        expect_int_cmd(pub, 0, "PUBLISH hr:hallo again");
    }
    if (sub) redisFree(sub);
    if (pub) redisFree(pub);
}

static void test_sharded(void)
{
    redisContext *sub = connect_ctx(), *pub = connect_ctx();
    CHECK(sub && pub, "connect");
    if (sub && pub) {
        redisReply *r = redisCommand(sub, "SSUBSCRIBE hr:shard");
        CHECK(is_count_frame(r, "ssubscribe", "hr:shard", 1), "SSUBSCRIBE: %s", describe(r));
        drop(r);
        expect_int_cmd(pub, 1, "SPUBLISH hr:shard sharded");
        expect_int_cmd(pub, 0, "PUBLISH hr:shard plain");
        r = next_reply(sub);
        CHECK(is_frame3(r, "smessage", "hr:shard", 8, "sharded", 7), "smessage: %s", describe(r));
        drop(r);
        r = redisCommand(pub, "PUBSUB SHARDNUMSUB hr:shard");
        CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && is_int(r->element[1], 1),
              "PUBSUB SHARDNUMSUB: %s", describe(r));
        drop(r);
        r = redisCommand(sub, "SUNSUBSCRIBE");
        CHECK(is_count_frame(r, "sunsubscribe", "hr:shard", 0), "SUNSUBSCRIBE: %s", describe(r));
        drop(r);
        r = redisCommand(sub, "PING");
        CHECK(is_status(r, "PONG"), "PING after leaving sharded subscribed mode: %s", describe(r));
        drop(r);
    }
    if (sub) redisFree(sub);
    if (pub) redisFree(pub);
}

static void test_binary(void)
{
    redisContext *sub = connect_ctx(), *pub = connect_ctx();
    CHECK(sub && pub, "connect");
    const char chan[] = "hr:bin\0chan\xff";
    const size_t chanlen = sizeof chan - 1;
    size_t sizes[] = {1, 65536, 1 << 20};
    if (sub && pub) {
        redisReply *r = redisCommand(sub, "SUBSCRIBE %b", chan, chanlen);
        CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                  is_str(r->element[1], chan, chanlen) && is_int(r->element[2], 1),
              "SUBSCRIBE binary channel: %s", describe(r));
        drop(r);
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k];
            char *payload = malloc(n);
            if (!payload) abort();
            for (size_t i = 0; i < n; i++)
                payload[i] = (char)((i * 31 + k) & 0xff); /* every byte value, NULs included */
            payload[0] = '\0';
            r = redisCommand(pub, "PUBLISH %b %b", chan, chanlen, payload, n);
            CHECK(is_int(r, 1), "PUBLISH %zu binary bytes: %s", n, describe(r));
            drop(r);
            r = next_reply(sub);
            CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                      is_cstr(r->element[0], "message") && is_str(r->element[1], chan, chanlen) &&
                      is_str(r->element[2], payload, n),
                  "receive %zu binary bytes intact: %s", n, describe(r));
            drop(r);
            free(payload);
        }
        const char other[] = "hr:bin\0other";
        expect_int_cmd(pub, 0, "PUBLISH %b x", other, sizeof other - 1);
    }
    if (sub) redisFree(sub);
    if (pub) redisFree(pub);
}

static void test_pipelined_publish(void)
{
    redisContext *sub = connect_ctx(), *pub = connect_ctx();
    CHECK(sub && pub, "connect");
    if (sub && pub) {
        redisReply *r = redisCommand(sub, "SUBSCRIBE hr:pipe");
        CHECK(is_count_frame(r, "subscribe", "hr:pipe", 1), "SUBSCRIBE: %s", describe(r));
        drop(r);
        r = redisCommand(sub, "PSUBSCRIBE hr:pip*");
        CHECK(is_count_frame(r, "psubscribe", "hr:pip*", 2), "PSUBSCRIBE: %s", describe(r));
        drop(r);
        /* i%3: 0 -> hr:pipe (channel + pattern: 2 receivers), 1 -> hr:pipx (pattern: 1),
         * 2 -> hr:none (0). The replies must come back in order with these counts. */
        static const char *chans[3] = {"hr:pipe", "hr:pipx", "hr:none"};
        static const long long want[3] = {2, 1, 0};
        for (int i = 0; i < PIPELINE_N; i++)
            redisAppendCommand(pub, "PUBLISH %s msg-%d", chans[i % 3], i);
        int bad = 0;
        for (int i = 0; i < PIPELINE_N; i++) {
            r = next_reply(pub);
            if (!is_int(r, want[i % 3])) {
                if (bad++ < 5)
                    CHECK(false, "pipelined PUBLISH #%d: want %lld, got %s", i, want[i % 3],
                          describe(r));
            }
            drop(r);
            if (!r) break;
        }
        CHECK(bad == 0, "%d of %d pipelined PUBLISH replies wrong", bad, PIPELINE_N);
        /* Deliveries, in publish order; a channel subscriber before the pattern one. */
        int badmsg = 0;
        char body[32];
        for (int i = 0; i < PIPELINE_N && badmsg < 5; i++) {
            if (i % 3 == 2) continue;
            snprintf(body, sizeof body, "msg-%d", i);
            if (i % 3 == 0) {
                r = next_reply(sub);
                if (!is_message(r, "hr:pipe", body)) {
                    badmsg++;
                    CHECK(false, "delivery of #%d (message): %s", i, describe(r));
                }
                drop(r);
                if (!r) break;
            }
            r = next_reply(sub);
            if (!is_pmessage(r, "hr:pip*", chans[i % 3], body)) {
                badmsg++;
                CHECK(false, "delivery of #%d (pmessage): %s", i, describe(r));
            }
            drop(r);
            if (!r) break;
        }
        CHECK(badmsg == 0, "deliveries out of order or missing");
        r = redisCommand(sub, "PING");
        CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  is_cstr(r->element[0], "pong"),
              "nothing extra was delivered (next frame is the PING reply): %s", describe(r));
        drop(r);
    }
    if (sub) redisFree(sub);
    if (pub) redisFree(pub);
}

static void test_subscribed_mode(void)
{
    redisContext *sub = connect_ctx(), *pub = connect_ctx();
    CHECK(sub && pub, "connect");
    if (sub && pub) {
        redisReply *r = redisCommand(sub, "UNSUBSCRIBE");
        CHECK(is_count_frame(r, "unsubscribe", NULL, 0), "UNSUBSCRIBE with no subscriptions: %s",
              describe(r));
        drop(r);
        r = redisCommand(sub, "SUBSCRIBE hr:m1 hr:m2 hr:m3");
        CHECK(is_count_frame(r, "subscribe", "hr:m1", 1), "SUBSCRIBE: %s", describe(r));
        drop(r);
        drop(next_reply(sub));
        drop(next_reply(sub));
        r = redisCommand(sub, "PING");
        CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  is_cstr(r->element[0], "pong") && is_cstr(r->element[1], ""),
              "PING while subscribed: %s", describe(r));
        drop(r);
        r = redisCommand(sub, "PING %s", "hi there");
        CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  is_cstr(r->element[0], "pong") && is_cstr(r->element[1], "hi there"),
              "PING <msg> while subscribed: %s", describe(r));
        drop(r);
        r = redisCommand(sub, "ECHO x");
        CHECK(r && r->type == REDIS_REPLY_ERROR &&
                  strncmp(r->str, "ERR Can't execute 'echo'", 24) == 0 &&
                  strstr(r->str, "are allowed in this context") != NULL,
              "ECHO refused while subscribed: %s", describe(r));
        drop(r);
        r = redisCommand(sub, "UNSUBSCRIBE hr:m2");
        CHECK(is_count_frame(r, "unsubscribe", "hr:m2", 2), "UNSUBSCRIBE hr:m2: %s", describe(r));
        drop(r);
        r = redisCommand(sub, "UNSUBSCRIBE hr:never");
        CHECK(is_count_frame(r, "unsubscribe", "hr:never", 2), "UNSUBSCRIBE unknown: %s",
              describe(r));
        drop(r);
        r = redisCommand(sub, "PSUBSCRIBE hr:m*");
        CHECK(is_count_frame(r, "psubscribe", "hr:m*", 3), "PSUBSCRIBE: %s", describe(r));
        drop(r);
        expect_int_cmd(pub, 2, "PUBLISH hr:m1 x");
        r = next_reply(sub);
        CHECK(is_message(r, "hr:m1", "x"), "message before pmessage: %s", describe(r));
        drop(r);
        r = next_reply(sub);
        CHECK(is_pmessage(r, "hr:m*", "hr:m1", "x"), "pmessage: %s", describe(r));
        drop(r);
        r = redisCommand(sub, "UNSUBSCRIBE");
        bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 && is_int(r->element[2], 2);
        drop(r);
        r = next_reply(sub);
        ok =
            ok && r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 && is_int(r->element[2], 1);
        CHECK(ok, "UNSUBSCRIBE (all) counts 2, 1: %s", describe(r));
        drop(r);
        r = redisCommand(sub, "PUNSUBSCRIBE");
        CHECK(is_count_frame(r, "punsubscribe", "hr:m*", 0), "PUNSUBSCRIBE (all): %s", describe(r));
        drop(r);
        r = redisCommand(sub, "PING");
        CHECK(is_status(r, "PONG"), "PING after leaving subscribed mode: %s", describe(r));
        drop(r);
        expect_int_cmd(pub, 0, "PUBLISH hr:m1 gone");

        /* RESET leaves subscribed mode and drops every subscription */
        r = redisCommand(sub, "SUBSCRIBE hr:reset");
        drop(r);
        CHECK(numsub(pub, "hr:reset") == 1, "subscribed before RESET");
        r = redisCommand(sub, "RESET");
        CHECK(is_status(r, "RESET"), "RESET: %s", describe(r));
        drop(r);
        CHECK(numsub(pub, "hr:reset") == 0, "RESET dropped the subscription");
        r = redisCommand(sub, "ECHO back");
        CHECK(is_cstr(r, "back"), "ECHO after RESET: %s", describe(r));
        drop(r);
    }
    if (sub) redisFree(sub);
    if (pub) redisFree(pub);
}

static void test_fanout(void)
{
    redisContext *pub = connect_ctx();
    redisContext *subs[FANOUT_CONTEXTS] = {0};
    int connected = 0;
    for (int i = 0; i < FANOUT_CONTEXTS; i++) {
        subs[i] = connect_ctx();
        if (subs[i]) {
            connected++;
            redisReply *r = redisCommand(subs[i], "SUBSCRIBE hr:fan");
            CHECK(is_count_frame(r, "subscribe", "hr:fan", 1), "SUBSCRIBE %d: %s", i, describe(r));
            drop(r);
        }
    }
    CHECK(pub && connected == FANOUT_CONTEXTS, "connect %d contexts", connected);
    if (pub && connected == FANOUT_CONTEXTS) {
        CHECK(numsub(pub, "hr:fan") == FANOUT_CONTEXTS, "NUMSUB");
        int bad = 0;
        for (int m = 0; m < FANOUT_MESSAGES; m++)
            redisAppendCommand(pub, "PUBLISH hr:fan f%d", m);
        for (int m = 0; m < FANOUT_MESSAGES; m++) {
            redisReply *r = next_reply(pub);
            if (!is_int(r, FANOUT_CONTEXTS)) bad++;
            drop(r);
        }
        CHECK(bad == 0, "%d PUBLISH replies are not %d", bad, FANOUT_CONTEXTS);
        int badmsg = 0;
        char body[16];
        for (int i = 0; i < FANOUT_CONTEXTS; i++) {
            for (int m = 0; m < FANOUT_MESSAGES; m++) {
                snprintf(body, sizeof body, "f%d", m);
                redisReply *r = next_reply(subs[i]);
                if (!is_message(r, "hr:fan", body)) {
                    if (badmsg++ < 3)
                        CHECK(false, "subscriber %d message %d: %s", i, m, describe(r));
                }
                drop(r);
                if (!r) break;
            }
        }
        CHECK(badmsg == 0, "%d fan-out deliveries wrong", badmsg);
    }
    for (int i = 0; i < FANOUT_CONTEXTS; i++)
        if (subs[i]) redisFree(subs[i]);
    if (pub) {
        /* the server notices the closed subscribers */
        for (int i = 0; i < 250 && numsub(pub, "hr:fan") != 0; i++) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        CHECK(numsub(pub, "hr:fan") == 0, "closed subscribers are removed");
        redisFree(pub);
    }
}

/* ---- main -------------------------------------------------------------- */

static void run(const char *name, void (*fn)(void))
{
    g_checks_failed = 0;
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    fn();
    gettimeofday(&t1, NULL);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_usec - t0.tv_usec) / 1e3;
    if (g_checks_failed == 0) {
        g_tests_passed++;
        printf("ok   - %s (%.0f ms)\n", name, ms);
    } else {
        g_tests_failed++;
        printf("FAIL - %s (%d checks failed)\n", name, g_checks_failed);
    }
    fflush(stdout);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *bin = getenv("HERALD_SERVER");
    if (bin == NULL || *bin == '\0') {
        fprintf(stderr, "hiredis_pubsub: set HERALD_SERVER to the server binary (ctest does)\n");
        return 1;
    }
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "hiredis_pubsub: %s is not executable: %s\n", bin, strerror(errno));
        return 1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(g_workdir, sizeof g_workdir, "%s/herald-hiredis-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(g_workdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_deadline);
    alarm(DEADLINE_SECONDS);
    atexit(at_exit);

    printf("# hiredis_pubsub: hiredis %d.%d.%d, server %s\n", HIREDIS_MAJOR, HIREDIS_MINOR,
           HIREDIS_PATCH, bin);
    if (!start_server(bin)) {
        fprintf(stderr, "hiredis_pubsub: could not start %s\n", bin);
        remove_workdir();
        return 1;
    }
    printf("# server listening on 127.0.0.1:%d\n", g_port);

    run("PING, ECHO (binary), PUBLISH without subscribers", test_ping_echo);
    run("SUBSCRIBE / PUBLISH across two contexts", test_publish_subscribe);
    run("PSUBSCRIBE and pmessage", test_pattern_subscribe);
    run("SSUBSCRIBE / SPUBLISH", test_sharded);
    run("binary channel and payloads with NULs (1 B, 64 KiB, 1 MiB)", test_binary);
    run("10000 pipelined PUBLISHes, replies and deliveries in order", test_pipelined_publish);
    run("subscribed mode: PING, refused commands, unsubscribe counts, RESET", test_subscribed_mode);
    run("fan-out to 20 subscriber contexts", test_fanout);

    bool alive = server_answers_ping();
    if (!alive) {
        printf("FAIL - server still answers PING after the tests\n");
        g_tests_failed++;
    }
    int status = stop_server();
    if (alive && !(status != -1 && ((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                                    (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)))) {
        printf("FAIL - server stops cleanly on SIGTERM (wait status %d)\n", status);
        print_server_log();
        g_tests_failed++;
    }
    if (server_log_has_sanitizer_report()) {
        printf("FAIL - sanitizer report in the server log\n");
        g_tests_failed++;
    }
    if (g_tests_failed) print_server_log();
    remove_workdir();
    printf("# hiredis_pubsub: %d passed, %d failed\n", g_tests_passed, g_tests_failed);
    return g_tests_failed ? 1 : 0;
}
