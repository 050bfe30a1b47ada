/*
 * testlib.h - support for libherald's integration tests (C programs run by
 * ctest): counters and checks, bounded waits, servers on free loopback
 * ports (herald-server from $HERALD_SERVER, redis-server from $REDIS_SERVER
 * or PATH), and a loopback TCP proxy that can silently drop traffic.
 *
 * Every wait is bounded; every server a test starts is stopped by
 * tl_server_stop (SIGTERM, then SIGKILL after 5 s).
 */
#ifndef HC_TESTLIB_H
#define HC_TESTLIB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "herald/client.h"

extern int tl_passed, tl_failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            tl_passed++;                                                                           \
        } else {                                                                                   \
            tl_failed++;                                                                           \
            fprintf(stderr, "FAIL %s:%d [%s] %s: ", __FILE__, __LINE__, tl_context, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* Waits up to ms milliseconds for cond (polled every millisecond). */
#define WAIT_FOR(cond, ms)                                                                         \
    ({                                                                                             \
        uint64_t wf_end_ = tl_now_ms() + (ms);                                                     \
        while (!(cond) && tl_now_ms() < wf_end_)                                                   \
            tl_sleep_ms(1);                                                                        \
        (bool)(cond);                                                                              \
    })

extern char tl_context[128]; /* printed with failures: "herald resp3" */

uint64_t tl_now_ms(void);
void tl_sleep_ms(int ms);
/* Prints "N passed, N failed"; returns the exit status. */
int tl_report(const char *name);
/* A port nobody listens on right now. */
int tl_free_port(void);

typedef struct tl_server {
    char kind[16]; /* "herald" / "redis" */
    int port;
    pid_t pid;
    char dir[128];
    char sock[160]; /* unix socket path */
    char url[96];   /* redis://127.0.0.1:port */
    char extra[4][64];
    int nextra;
} tl_server;

/* Whether a redis-server binary is available. */
bool tl_have_redis(void);
/* Starts a server (kind "herald" or "redis") on port (0: a free one), with
 * up to 4 extra arguments (NULL-terminated list). Returns 0 when it answers
 * on the port within 10 s. */
int tl_server_start(tl_server *s, const char *kind, int port, const char *const *extra);
/* Starts it again on the same port (after a kill). */
int tl_server_restart(tl_server *s);
/* SIGKILL and reap. */
void tl_server_kill(tl_server *s);
/* SIGTERM (SIGKILL after 5 s), reap and remove the directory. */
void tl_server_stop(tl_server *s);
void tl_server_signal(tl_server *s, int sig);

/* A test suite for one server kind ("herald" or "redis") and protocol (2 or
 * 3); s is the running server, or NULL when the suite starts its own. */
typedef void tl_suite_fn(tl_server *s, const char *kind, int proto);
/* Runs suite against herald-server, then redis-server when installed, in
 * RESP2 and RESP3 each, with tl_context naming the run, and prints
 * "<kind> resp<N>: ok|FAILED" after each. With start_server, one server per
 * kind is started for its runs and stopped afterwards. */
void tl_run_matrix(tl_suite_fn *suite, bool start_server);

/* Runs a command on a fresh connection; returns the integer reply of
 * PUBSUB NUMSUB / SHARDNUMSUB for channel (-1 on error). */
long long tl_numsub(const char *url, const char *channel, bool shard);

/* Loopback TCP proxy. */
typedef struct tl_proxy tl_proxy;
tl_proxy *tl_proxy_start(int upstream_port);
int tl_proxy_port(tl_proxy *p);
/* From now on, traffic on the connections open now is read and discarded
 * in both directions (a black hole); new connections are forwarded. */
void tl_proxy_blackhole(tl_proxy *p);
void tl_proxy_stop(tl_proxy *p);

/* A thread-safe log of received messages. */
typedef struct tl_msg {
    herald_sub_kind_t kind;
    char *channel;
    char *pattern;
    char *payload;
    size_t payload_len;
} tl_msg;

typedef struct tl_inbox tl_inbox;
tl_inbox *tl_inbox_new(void);
void tl_inbox_free(tl_inbox *b);
/* A herald_message_cb that appends to the inbox passed as userdata. */
void tl_inbox_cb(herald_client_t *c, const herald_message_t *m, void *inbox);
size_t tl_inbox_count(tl_inbox *b);
/* Copy of message i (caller frees with tl_msg_free), or NULL. */
tl_msg *tl_inbox_get(tl_inbox *b, size_t i);
void tl_msg_free(tl_msg *m);
void tl_inbox_clear(tl_inbox *b);

/* A thread-safe log of connection events (herald_event_cb). */
typedef struct tl_events tl_events;
tl_events *tl_events_new(void);
void tl_events_free(tl_events *e);
void tl_events_cb(herald_client_t *c, const herald_event_t *ev, void *events);
/* Number of events of type seen (any role when role == 0). */
int tl_events_count(tl_events *e, herald_event_type_t type, int role);
/* err of the last event of type (0 when none). */
int tl_events_last_err(tl_events *e, herald_event_type_t type);
void tl_events_clear(tl_events *e);

#endif
