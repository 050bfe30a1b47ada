/*
 * bench.h - shared state of herald-bench (see herald-bench.c for the tool,
 * docs/performance.md and bench/README.md for how it is used).
 *
 * Threads and ownership:
 *  - the main thread parses options, opens and subscribes every connection
 *    (setup.c, blocking style with poll timeouts), then starts the workers and
 *    samples the server's CPU / RSS at the phase boundaries; after the run it
 *    drains the stalled connections and writes the report;
 *  - each worker (worker.c) owns a disjoint set of connections, its own epoll
 *    instance, read buffer and latency histogram. Publisher state
 *    (hb_pub) is written only by the worker that owns the publisher, except
 *    `delivered`, which any worker increments (atomic, relaxed) when one of
 *    its subscribers receives a message carrying that publisher's id.
 *    Counters the main thread reads while workers run are mirrored into
 *    _Atomic fields once per loop iteration.
 *
 * Message payload (B >= 8 bytes): bytes 0..8 the send timestamp
 * (CLOCK_MONOTONIC ns, host byte order; at a fixed rate the *scheduled* send
 * time), bytes 8..12 (when B >= 12) the publisher id, the rest 'x'.
 */
#ifndef HR_BENCH_H
#define HR_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "hist.h"

enum { HB_PROTO_RESP = 0, HB_PROTO_NATS = 1 };
enum { HB_SUB_CHANNEL = 0, HB_SUB_PATTERN, HB_SUB_SHARDED };
/* Connection roles. */
enum { HB_SUB = 0, HB_PUB, HB_IDLE, HB_STALL, HB_NOISE };

typedef struct hb_opts {
    const char *host;
    int port;
    const char *unix_path;
    int proto;
    bool resp3;
    int subs, channels, pubs, window;
    double rate; /* aggregate msgs/s; 0 = closed loop with a window */
    int payload;
    int mode; /* HB_SUB_* */
    double warmup, duration, drain, max_time, setup_timeout;
    int idle_conns, noise_patterns, noise_conns, stall;
    bool noise_wild;
    pid_t server_pid;
    int threads;
    bool json, quiet, no_e2e;
    const char *prefix;
    const char *label;
} hb_opts;

typedef struct hb_chan {
    char name[128];
    size_t nlen;
    char pat[128]; /* the pattern that matches this channel (--patterns) */
    size_t plen;
    atomic_int fanout; /* active (reading) subscribers that get a message */
    int fanout_all;    /* including stalled subscribers */
    hr_buf tmpl;       /* encoded publish command with a placeholder payload */
    size_t pay_off;    /* offset of the payload inside tmpl */
} hb_chan;

typedef struct hb_pub {
    uint32_t id;
    uint32_t cursor; /* next channel index */
    uint64_t sent, acked, expected;
    long long receivers; /* RESP: sum of PUBLISH replies */
    _Atomic uint64_t delivered;
    _Atomic uint64_t a_sent, a_expected;
    /* fixed rate: message k is due at t_first + k * interval */
    uint64_t k;
    double t_first, interval;
    bool done;
    /* NATS: messages sent when each outstanding PING was written (FIFO) */
    uint64_t *marks;
    uint32_t mhead, mcount, mcap;
    uint32_t since_ping;
} hb_pub;

struct hb_worker;

typedef struct hb_conn {
    int fd;
    int role;
    int idx; /* index within its role */
    struct hb_worker *w;
    bool dead;
    bool wr_armed; /* EPOLLOUT registered */
    int confirms, want_confirms;
    char *setup_err; /* first error reply during setup (owned) */
    hr_buf pend;     /* unparsed input (an incomplete frame) */
    hr_buf out;
    size_t out_off;
    int *chans; /* subscribed channel indices (subscribers), owned */
    int nchans;
    hb_pub *pub; /* publishers only (borrowed from g.pubs) */
    uint64_t drained;
} hb_conn;

typedef struct hb_rbuf {
    char *data;
    size_t cap;
} hb_rbuf;

typedef struct hb_worker {
    int id;
    pthread_t th;
    int ep;
    hb_conn **conns;
    int nconns, capconns;
    hb_conn **pubs;
    int npubs, cappubs;
    hb_rbuf rb;
    hr_hist hist;
    uint64_t pub_win, deliv_win, pub_total, deliv_total, unexpected;
    _Atomic uint64_t a_pub_total, a_deliv_total, a_lat_max;
    uint64_t lat_max;
    uint64_t errors;
    char first_err[256];
    uint64_t sub_dead, pub_dead;
    int64_t cpu_warm, cpu_end; /* thread CPU ns at the phase boundaries */
    bool saw_warm, saw_end;
} hb_worker;

typedef struct hb_global {
    hb_opts o;
    hb_chan *chans;
    hb_pub *pubs;
    int npubs;
    hb_worker *workers;
    int max_fanout;
    int64_t t_start, t_warm, t_end;
    atomic_int stop;
    atomic_int e2e_off;
} hb_global;

extern hb_global g;

/* ---- herald-bench.c ---- */
int64_t hb_now_ns(void);

/* ---- proto.c: parsing and encoding ---- */
/* Parses complete frames/lines of buf[0..len) for connection c, received at
 * `now`. Returns the bytes consumed (the rest is an incomplete frame), or -1
 * on a protocol error (recorded). */
ssize_t hb_parse(hb_conn *c, const char *buf, size_t len, int64_t now);
/* Appends the commands that subscribe c (or greet, for publishers) to c->out
 * and sets c->want_confirms. */
void hb_build_setup(hb_conn *c);
/* Builds every channel's publish template. */
void hb_build_templates(void);
/* Records an error text for c (worker's first error, or setup error). */
void hb_conn_error(hb_conn *c, const char *s, size_t n);

/* ---- io.c: sockets ---- */
/* Opens a non-blocking connection to the target, waiting at most timeout_ms
 * for the connect. Returns the fd or -1 (message in err). */
int hb_connect(int timeout_ms, char *err, size_t errlen);
/* Reads what is available (at most max_reads read calls) and parses it.
 * Returns 0, or -1 when the connection is closed or broken. */
int hb_conn_read(hb_conn *c, hb_rbuf *rb, int max_reads);
/* Writes pending output. Returns 0 (possibly with output left), -1 on error. */
int hb_conn_flush(hb_conn *c);
static inline size_t hb_conn_pending(const hb_conn *c)
{
    return c->out.len - c->out_off;
}
void hb_conn_close(hb_conn *c);

/* ---- worker.c ---- */
void *hb_worker_main(void *arg);
void hb_worker_add(hb_worker *w, hb_conn *c);

#endif
