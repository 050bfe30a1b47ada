/*
 * herald-bench.c - pub/sub load generator and latency meter for any RESP
 * server (herald-server, redis-server) and, with --proto nats, nats-server.
 *
 * A run: S subscriber connections over C channels (or patterns, or sharded
 * channels), P publishers each keeping W messages in flight (closed loop) or
 * together publishing --rate messages/s on a fixed schedule (open loop), a
 * payload of B bytes that starts with the send timestamp. Stats cover only
 * the measured interval [warmup, warmup + duration): published/s,
 * delivered/s, end-to-end latency percentiles (hist.h), and with
 * --server-pid the server's CPU time and RSS. Extras: --idle-conns (memory
 * per idle subscribed connection), --noise-patterns (non-matching pattern
 * subscriptions), --stall (subscribers that never read).
 *
 * Bounds: only loopback addresses or a unix socket are accepted; setup has
 * a deadline (--setup-timeout), the run ends at warmup + duration, the drain
 * that follows at --drain seconds, and a watchdog (alarm, --max-time) ends
 * the process whatever happens. Exit status: 0 after a run (errors are
 * reported), 1 on bad usage or setup failure, 3 when the watchdog fires.
 *
 * Files: bench.h (shared state), proto.c (RESP / NATS), io.c (sockets),
 * worker.c (event loop), hist.c (histogram).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "bench.h"

hb_global g;

#define HB_SETUP_BATCH 256

int64_t hb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("herald-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "herald-bench: hard time limit (--max-time) reached, exiting\n";
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    _exit(3);
}

/* ---- /proc ---- */

/* utime + stime of pid in seconds, or -1. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    /* fields after the comm: state(3) ... utime(14) stime(15) */
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS of pid in kB, or -1. */
static long proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* CPU seconds all CPUs spent in processes (user, nice, system) or stolen by
 * the hypervisor since boot, from /proc/stat; -1 when unreadable. irq and
 * softirq time are left out: loopback traffic's softirq work is ours but not
 * charged to any process. */
static double machine_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8) return -1;
    /* user nice system idle iowait irq softirq steal */
    return (double)(v[0] + v[1] + v[2] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* ---- options ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: herald-bench [options]\n"
               "target (loopback only):\n"
               "  -h, --host ADDR         127.0.0.1 (or ::1 / any 127.x.x.x)\n"
               "  -p, --port N            6379 (4222 with --proto nats)\n"
               "  -s, --unix PATH         unix socket instead of TCP\n"
               "      --proto resp|nats   wire protocol (resp)\n"
               "      --resp3             send HELLO 3 first (messages arrive as pushes)\n"
               "load:\n"
               "  -S, --subscribers N     subscriber connections (1)\n"
               "  -C, --channels N        channels; subscriber i takes channel i %% C, or\n"
               "                          channels j with j %% S == i when C > S (1)\n"
               "      --patterns          subscribe with patterns (PSUBSCRIBE prefix.J.*, NATS\n"
               "                          wildcards) instead of channels\n"
               "      --sharded           SSUBSCRIBE / SPUBLISH\n"
               "  -P, --publishers N      publisher connections (1); each cycles through all\n"
               "                          channels\n"
               "  -W, --window N          messages in flight per publisher (32): not yet\n"
               "                          acknowledged (PUBLISH reply; NATS: PONG of a PING sent\n"
               "                          every W/2 messages), and not yet delivered to all\n"
               "                          reading subscribers (unless --no-e2e-window)\n"
               "  -r, --rate N            fixed aggregate rate in msgs/s instead of a window;\n"
               "                          latency counts from the scheduled send time\n"
               "  -B, --payload N         payload bytes (64; >= 8: 8-byte timestamp, then a\n"
               "                          4-byte publisher id when >= 12)\n"
               "      --no-e2e-window     window counts acknowledgements only\n"
               "time:\n"
               "  -w, --warmup S          seconds excluded from stats (1)\n"
               "  -d, --duration S        measured seconds (5)\n"
               "      --drain S           wait for in-flight deliveries after the run (2)\n"
               "      --setup-timeout S   connect + subscribe deadline (60)\n"
               "      --max-time S        hard limit for the whole process (default: setup\n"
               "                          timeout + warmup + duration + drain + 20)\n"
               "extras:\n"
               "      --server-pid PID    report the server's CPU (utime+stime) and RSS\n"
               "      --idle-conns N      N more connections, each subscribed to its own\n"
               "                          channel and silent; reports server RSS per connection\n"
               "      --noise-patterns N  N pattern subscriptions that match nothing\n"
               "                          (noise.I.*), on --noise-conns connections (1)\n"
               "      --noise-wild        noise patterns start with a wildcard (*.noise.I)\n"
               "      --stall K           the last K subscribers never read; reports whether\n"
               "                          the server disconnected them\n"
               "  -T, --threads N         worker threads (1)\n"
               "      --prefix STR        channel names are STR.J.c (hb)\n"
               "      --label STR         free text copied into the JSON\n"
               "output:\n"
               "      --json              machine-readable result on stdout\n"
               "  -q, --quiet             no progress line on stderr\n"
               "      --help\n");
}

static double num_arg(const char *name, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        die("bad value for %s: '%s' (expected %g..%g)", name, s, lo, hi);
    return v;
}

static bool is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

enum {
    O_PROTO = 256,
    O_RESP3,
    O_PATTERNS,
    O_SHARDED,
    O_NOE2E,
    O_DRAIN,
    O_SETUP,
    O_MAXTIME,
    O_PID,
    O_IDLE,
    O_NOISE,
    O_NOISECONNS,
    O_NOISEWILD,
    O_STALL,
    O_PREFIX,
    O_LABEL,
    O_JSON,
    O_HELP
};

static void parse_opts(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},
        {"port", 1, 0, 'p'},
        {"unix", 1, 0, 's'},
        {"proto", 1, 0, O_PROTO},
        {"resp3", 0, 0, O_RESP3},
        {"subscribers", 1, 0, 'S'},
        {"channels", 1, 0, 'C'},
        {"patterns", 0, 0, O_PATTERNS},
        {"sharded", 0, 0, O_SHARDED},
        {"publishers", 1, 0, 'P'},
        {"window", 1, 0, 'W'},
        {"rate", 1, 0, 'r'},
        {"payload", 1, 0, 'B'},
        {"no-e2e-window", 0, 0, O_NOE2E},
        {"warmup", 1, 0, 'w'},
        {"duration", 1, 0, 'd'},
        {"drain", 1, 0, O_DRAIN},
        {"setup-timeout", 1, 0, O_SETUP},
        {"max-time", 1, 0, O_MAXTIME},
        {"server-pid", 1, 0, O_PID},
        {"idle-conns", 1, 0, O_IDLE},
        {"noise-patterns", 1, 0, O_NOISE},
        {"noise-conns", 1, 0, O_NOISECONNS},
        {"noise-wild", 0, 0, O_NOISEWILD},
        {"stall", 1, 0, O_STALL},
        {"threads", 1, 0, 'T'},
        {"prefix", 1, 0, O_PREFIX},
        {"label", 1, 0, O_LABEL},
        {"json", 0, 0, O_JSON},
        {"quiet", 0, 0, 'q'},
        {"help", 0, 0, O_HELP},
        {0, 0, 0, 0},
    };
    hb_opts *o = &g.o;
    o->host = "127.0.0.1";
    o->port = -1;
    o->subs = 1;
    o->channels = 1;
    o->pubs = 1;
    o->window = 32;
    o->payload = 64;
    o->warmup = 1;
    o->duration = 5;
    o->drain = 2;
    o->setup_timeout = 60;
    o->noise_conns = 1;
    o->threads = 1;
    o->prefix = "hb";
    o->label = "";
    int ch;
    while ((ch = getopt_long(argc, argv, "h:p:s:S:C:P:W:r:B:w:d:T:q", lo, NULL)) != -1) {
        switch (ch) {
        case 'h': o->host = optarg; break;
        case 'p': o->port = (int)num_arg("--port", optarg, 1, 65535); break;
        case 's': o->unix_path = optarg; break;
        case O_PROTO:
            if (strcmp(optarg, "resp") == 0)
                o->proto = HB_PROTO_RESP;
            else if (strcmp(optarg, "nats") == 0)
                o->proto = HB_PROTO_NATS;
            else
                die("--proto is resp or nats");
            break;
        case O_RESP3: o->resp3 = true; break;
        case 'S': o->subs = (int)num_arg("--subscribers", optarg, 0, 1000000); break;
        case 'C': o->channels = (int)num_arg("--channels", optarg, 1, 1000000); break;
        case O_PATTERNS: o->mode = HB_SUB_PATTERN; break;
        case O_SHARDED: o->mode = HB_SUB_SHARDED; break;
        case 'P': o->pubs = (int)num_arg("--publishers", optarg, 0, 10000); break;
        case 'W': o->window = (int)num_arg("--window", optarg, 1, 1000000); break;
        case 'r': o->rate = num_arg("--rate", optarg, 0, 1e9); break;
        case 'B': o->payload = (int)num_arg("--payload", optarg, 8, 64 << 20); break;
        case O_NOE2E: o->no_e2e = true; break;
        case 'w': o->warmup = num_arg("--warmup", optarg, 0, 86400); break;
        case 'd': o->duration = num_arg("--duration", optarg, 0.01, 86400); break;
        case O_DRAIN: o->drain = num_arg("--drain", optarg, 0, 600); break;
        case O_SETUP: o->setup_timeout = num_arg("--setup-timeout", optarg, 0.1, 3600); break;
        case O_MAXTIME: o->max_time = num_arg("--max-time", optarg, 1, 86400 * 2); break;
        case O_PID: o->server_pid = (pid_t)num_arg("--server-pid", optarg, 1, 1 << 30); break;
        case O_IDLE: o->idle_conns = (int)num_arg("--idle-conns", optarg, 0, 1000000); break;
        case O_NOISE:
            o->noise_patterns = (int)num_arg("--noise-patterns", optarg, 0, 10000000);
            break;
        case O_NOISECONNS: o->noise_conns = (int)num_arg("--noise-conns", optarg, 1, 100000); break;
        case O_NOISEWILD: o->noise_wild = true; break;
        case O_STALL: o->stall = (int)num_arg("--stall", optarg, 0, 1000000); break;
        case 'T': o->threads = (int)num_arg("--threads", optarg, 1, 256); break;
        case O_PREFIX: o->prefix = optarg; break;
        case O_LABEL: o->label = optarg; break;
        case O_JSON: o->json = true; break;
        case 'q': o->quiet = true; break;
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); exit(1);
        }
    }
    if (optind < argc) die("unexpected argument '%s' (see --help)", argv[optind]);
    if (o->port < 0) o->port = o->proto == HB_PROTO_NATS ? 4222 : 6379;
    if (!o->unix_path && !is_loopback(o->host))
        die("only loopback addresses are allowed (got %s)", o->host);
    if (o->proto == HB_PROTO_NATS && (o->mode == HB_SUB_SHARDED || o->resp3))
        die("--sharded and --resp3 are RESP only");
    if (o->stall > o->subs) die("--stall %d is more than --subscribers %d", o->stall, o->subs);
    if (strlen(o->prefix) > 64) die("--prefix is too long");
    if (o->threads > 1 && o->threads > o->subs + o->pubs) o->threads = o->subs + o->pubs;
    if (o->threads < 1) o->threads = 1;
    if (o->max_time <= 0) o->max_time = o->setup_timeout + o->warmup + o->duration + o->drain + 20;
}

/* ---- setup ---- */

static int needed_fds(void)
{
    return g.o.subs + g.o.pubs + g.o.idle_conns + (g.o.noise_patterns ? g.o.noise_conns : 0) + 64;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)needed_fds();
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
    if (rl.rlim_cur >= need) return;
    rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    rl.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need)
        die("needs %llu open files but the limit is %llu: raise it first (ulimit -n %llu; "
            "as root raise the hard limit too, or see /etc/security/limits.conf)",
            (unsigned long long)need, (unsigned long long)rl.rlim_cur, (unsigned long long)need);
}

/* Connects and subscribes cs[0..n) concurrently; dies on failure. */
static void setup_batch(hb_conn **cs, int n, int64_t deadline, hb_rbuf *rb)
{
    char err[160];
    for (int i = 0; i < n; i++) {
        hb_conn *c = cs[i];
        int64_t left = (deadline - hb_now_ns()) / 1000000;
        c->fd = hb_connect(left > 0 ? (int)left : 1, err, sizeof err);
        if (c->fd < 0) die("%s (after %d connections this batch)", err, i);
        hb_build_setup(c);
        if (hb_conn_flush(c) < 0) die("write during setup: %s", strerror(errno));
    }
    struct pollfd *pf = hr_calloc((size_t)n, sizeof *pf);
    hb_conn **pc = hr_calloc((size_t)n, sizeof *pc);
    for (;;) {
        int m = 0;
        for (int i = 0; i < n; i++) {
            hb_conn *c = cs[i];
            if (c->confirms >= c->want_confirms && !hb_conn_pending(c)) continue;
            pf[m].fd = c->fd;
            pf[m].events = POLLIN | (hb_conn_pending(c) ? POLLOUT : 0);
            pf[m].revents = 0;
            pc[m++] = c;
        }
        if (m == 0) break;
        int64_t left = (deadline - hb_now_ns()) / 1000000;
        if (left <= 0)
            die("setup timed out (--setup-timeout %.0f s): %d connections not confirmed",
                g.o.setup_timeout, m);
        int pr = poll(pf, (nfds_t)m, (int)(left < 1000 ? left : 1000));
        if (pr < 0 && errno != EINTR) die("poll: %s", strerror(errno));
        for (int i = 0; i < m && pr > 0; i++) {
            hb_conn *c = pc[i];
            if (!pf[i].revents) continue;
            if (pf[i].revents & POLLOUT && hb_conn_flush(c) < 0)
                die("write during setup: %s", strerror(errno));
            if (pf[i].revents & (POLLIN | POLLERR | POLLHUP)) {
                int rc = hb_conn_read(c, rb, 8);
                if (c->setup_err) die("server refused setup: %s", c->setup_err);
                if (rc < 0) die("connection closed by the server during setup");
                if (hb_conn_pending(c) && hb_conn_flush(c) < 0)
                    die("write during setup: %s", strerror(errno));
            }
        }
    }
    hr_free(pf);
    hr_free(pc);
}

static void setup_all(hb_conn **cs, int n, int64_t deadline, hb_rbuf *rb)
{
    for (int i = 0; i < n; i += HB_SETUP_BATCH)
        setup_batch(cs + i, n - i < HB_SETUP_BATCH ? n - i : HB_SETUP_BATCH, deadline, rb);
}

static hb_conn *new_conn(int role, int idx)
{
    hb_conn *c = hr_calloc(1, sizeof *c);
    c->fd = -1;
    c->role = role;
    c->idx = idx;
    hr_buf_init(&c->pend);
    hr_buf_init(&c->out);
    return c;
}

/* ---- report ---- */

typedef struct report {
    double interval;
    uint64_t pub_win, deliv_win, pub_total, deliv_total, expected, unexpected;
    long long receivers;
    uint64_t errors, sub_dead, pub_dead;
    char first_err[256];
    hr_hist hist;
    double srv_cpu, bench_cpu, bench_thread_max, machine_busy;
    long rss_start, rss_idle, rss_ready, rss_warm, rss_end, rss_peak, rss_final;
    int stall_disc, stall_unknown;
    uint64_t stall_bytes;
    double setup_s;
} report;

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static const char *mode_name(void)
{
    return g.o.mode == HB_SUB_PATTERN   ? "patterns"
           : g.o.mode == HB_SUB_SHARDED ? "sharded"
                                        : "channels";
}

static void print_json(const report *r)
{
    const hb_opts *o = &g.o;
    FILE *f = stdout;
    fprintf(f, "{\n  \"tool\": \"herald-bench\",\n  \"label\": ");
    json_str(f, o->label);
    fprintf(f, ",\n  \"config\": {\"proto\": \"%s\", \"target\": ",
            o->proto == HB_PROTO_NATS ? "nats" : "resp");
    if (o->unix_path)
        json_str(f, o->unix_path);
    else
        fprintf(f, "\"%s:%d\"", o->host, o->port);
    fprintf(f,
            ", \"resp3\": %s, \"subscribers\": %d, \"channels\": %d, \"mode\": \"%s\", "
            "\"publishers\": %d, \"window\": %d, \"e2e_window\": %s, \"rate\": %.0f, "
            "\"payload\": %d, \"warmup_s\": %g, \"duration_s\": %g, \"idle_conns\": %d, "
            "\"noise_patterns\": %d, \"noise_wild\": %s, \"stall\": %d, \"threads\": %d, "
            "\"server_pid\": %d},\n",
            o->resp3 ? "true" : "false", o->subs, o->channels, mode_name(), o->pubs, o->window,
            o->no_e2e ? "false" : "true", o->rate, o->payload, o->warmup, o->duration,
            o->idle_conns, o->noise_patterns, o->noise_wild ? "true" : "false", o->stall,
            o->threads, (int)o->server_pid);
    double us = 1e-3;
    fprintf(f,
            "  \"results\": {\n    \"interval_s\": %.3f, \"setup_s\": %.3f,\n"
            "    \"published\": %" PRIu64 ", \"published_per_s\": %.1f,\n"
            "    \"delivered\": %" PRIu64 ", \"delivered_per_s\": %.1f,\n",
            r->interval, r->setup_s, r->pub_win, r->pub_win / r->interval, r->deliv_win,
            r->deliv_win / r->interval);
    fprintf(f,
            "    \"latency_us\": {\"count\": %" PRIu64 ", \"min\": %.1f, \"mean\": %.1f, "
            "\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"p999\": %.1f, \"max\": %.1f},\n",
            r->hist.total, r->hist.total ? r->hist.min * us : 0.0, hr_hist_mean(&r->hist) * us,
            hr_hist_percentile(&r->hist, 50) * us, hr_hist_percentile(&r->hist, 90) * us,
            hr_hist_percentile(&r->hist, 99) * us, hr_hist_percentile(&r->hist, 99.9) * us,
            r->hist.max * us);
    fprintf(f,
            "    \"published_total\": %" PRIu64 ", \"delivered_total\": %" PRIu64
            ", \"expected_total\": %" PRIu64 ", \"undelivered\": %" PRId64
            ", \"server_reported_receivers\": %lld, \"unexpected_frames\": %" PRIu64 ",\n",
            r->pub_total, r->deliv_total, r->expected,
            (int64_t)(r->expected > r->deliv_total ? r->expected - r->deliv_total : 0),
            r->receivers, r->unexpected);
    fprintf(f, "    \"errors\": %" PRIu64 ", \"first_error\": ", r->errors);
    json_str(f, r->first_err);
    fprintf(f,
            ", \"subscribers_disconnected\": %" PRIu64 ", \"publishers_disconnected\": %" PRIu64
            ",\n",
            r->sub_dead, r->pub_dead);
    if (o->rate > 0)
        fprintf(f, "    \"rate\": {\"target\": %.0f, \"achieved\": %.1f},\n", o->rate,
                r->pub_win / r->interval);
    fprintf(f,
            "    \"bench\": {\"cpu_s\": %.3f, \"cpu_pct\": %.1f, \"max_thread_cpu_pct\": %.1f, "
            "\"saturated\": %s},\n",
            r->bench_cpu, 100 * r->bench_cpu / r->interval, r->bench_thread_max,
            r->bench_thread_max >= 90 ? "true" : "false");
    if (r->machine_busy >= 0) {
        /* what the rest of the machine used meanwhile: on a shared box,
         * contention that makes numbers noisy */
        double other = r->machine_busy - r->bench_cpu - (o->server_pid ? r->srv_cpu : 0);
        fprintf(f,
                "    \"machine\": {\"ncpu\": %ld, \"busy_cpu_pct\": %.1f, "
                "\"other_cpu_pct\": %.1f},\n",
                sysconf(_SC_NPROCESSORS_ONLN), 100 * r->machine_busy / r->interval,
                other > 0 ? 100 * other / r->interval : 0.0);
    }
    if (o->server_pid) {
        fprintf(f,
                "    \"server\": {\"cpu_s\": %.3f, \"cpu_pct\": %.1f, "
                "\"cpu_us_per_delivered\": %.4f, \"cpu_us_per_published\": %.4f, "
                "\"rss_kb_start\": %ld, \"rss_kb_ready\": %ld, \"rss_kb_warm\": %ld, "
                "\"rss_kb_end\": %ld, \"rss_kb_peak\": %ld, \"rss_kb_final\": %ld},\n",
                r->srv_cpu, 100 * r->srv_cpu / r->interval,
                r->deliv_win ? r->srv_cpu * 1e6 / r->deliv_win : 0.0,
                r->pub_win ? r->srv_cpu * 1e6 / r->pub_win : 0.0, r->rss_start, r->rss_ready,
                r->rss_warm, r->rss_end, r->rss_peak, r->rss_final);
    }
    if (o->idle_conns) {
        double per = o->server_pid && r->rss_idle >= 0 && r->rss_start >= 0
                         ? (double)(r->rss_idle - r->rss_start) * 1024.0 / o->idle_conns
                         : 0.0;
        fprintf(f,
                "    \"idle\": {\"conns\": %d, \"rss_kb_before\": %ld, \"rss_kb_after\": %ld, "
                "\"rss_bytes_per_conn\": %.1f},\n",
                o->idle_conns, r->rss_start, r->rss_idle, per);
    }
    if (o->stall)
        fprintf(f,
                "    \"stall\": {\"conns\": %d, \"disconnected\": %d, \"still_connected\": %d, "
                "\"unknown\": %d, \"drained_bytes\": %" PRIu64 "},\n",
                o->stall, r->stall_disc, o->stall - r->stall_disc - r->stall_unknown,
                r->stall_unknown, r->stall_bytes);
    fprintf(f, "    \"ok\": %s\n  }\n}\n", r->errors == 0 ? "true" : "false");
}

static void fmt_us(char *b, size_t n, double ns)
{
    if (ns >= 1e9)
        snprintf(b, n, "%.2f s", ns / 1e9);
    else if (ns >= 1e6)
        snprintf(b, n, "%.2f ms", ns / 1e6);
    else
        snprintf(b, n, "%.1f us", ns / 1e3);
}

static void print_text(const report *r)
{
    const hb_opts *o = &g.o;
    char a[32], b[32], c[32], d[32];
    char target[300];
    if (o->unix_path)
        snprintf(target, sizeof target, "%s", o->unix_path);
    else
        snprintf(target, sizeof target, "%s:%d", o->host, o->port);
    printf("herald-bench %s %s: %d subscribers on %d %s, %d publishers ",
           o->proto == HB_PROTO_NATS ? "nats" : "resp", target, o->subs, o->channels, mode_name(),
           o->pubs);
    if (o->rate > 0)
        printf("at %.0f msg/s", o->rate);
    else
        printf("window %d", o->window);
    printf(", payload %d B, %.1f s measured\n", o->payload, r->interval);
    printf("  published  %12.0f msg/s   (%" PRIu64 ")\n", r->pub_win / r->interval, r->pub_win);
    printf("  delivered  %12.0f msg/s   (%" PRIu64 ")\n", r->deliv_win / r->interval, r->deliv_win);
    fmt_us(a, sizeof a, (double)hr_hist_percentile(&r->hist, 50));
    fmt_us(b, sizeof b, (double)hr_hist_percentile(&r->hist, 99));
    fmt_us(c, sizeof c, (double)hr_hist_percentile(&r->hist, 99.9));
    fmt_us(d, sizeof d, (double)r->hist.max);
    printf("  latency    p50 %s  p99 %s  p99.9 %s  max %s\n", a, b, c, d);
    if (o->server_pid)
        printf("  server     cpu %.2f s (%.0f %%), %.3f us/delivered; rss %.1f -> %.1f MiB "
               "(peak %.1f, final %.1f)\n",
               r->srv_cpu, 100 * r->srv_cpu / r->interval,
               r->deliv_win ? r->srv_cpu * 1e6 / r->deliv_win : 0.0, r->rss_ready / 1024.0,
               r->rss_end / 1024.0, r->rss_peak / 1024.0, r->rss_final / 1024.0);
    printf("  bench      cpu %.0f %% (%d thread%s, busiest %.0f %%)%s\n",
           100 * r->bench_cpu / r->interval, o->threads, o->threads > 1 ? "s" : "",
           r->bench_thread_max,
           r->bench_thread_max >= 90 ? "  <- the load generator is saturated" : "");
    if (r->machine_busy >= 0) {
        double other = r->machine_busy - r->bench_cpu - (o->server_pid ? r->srv_cpu : 0);
        if (o->server_pid)
            printf("  machine    %ld CPUs, %.0f %% of one CPU used by other processes\n",
                   sysconf(_SC_NPROCESSORS_ONLN), other > 0 ? 100 * other / r->interval : 0.0);
    }
    if (o->idle_conns && o->server_pid)
        printf("  idle       %d connections: rss %.1f -> %.1f MiB, %.0f bytes/connection\n",
               o->idle_conns, r->rss_start / 1024.0, r->rss_idle / 1024.0,
               (double)(r->rss_idle - r->rss_start) * 1024.0 / o->idle_conns);
    if (o->stall)
        printf("  stall      %d stalled: %d disconnected by the server, %d still connected "
               "(%" PRIu64 " bytes drained afterwards)\n",
               o->stall, r->stall_disc, o->stall - r->stall_disc - r->stall_unknown,
               r->stall_bytes);
    uint64_t und = r->expected > r->deliv_total ? r->expected - r->deliv_total : 0;
    if (und) printf("  undelivered %" PRIu64 " messages when the drain ended\n", und);
    if (r->sub_dead) printf("  %" PRIu64 " subscribers disconnected by the server\n", r->sub_dead);
    if (r->errors) printf("  errors     %" PRIu64 " (first: %s)\n", r->errors, r->first_err);
}

/* ---- main ---- */

static void progress(const char *phase, double t, double dt, uint64_t dpub, uint64_t ddel,
                     uint64_t latmax, double scpu, double bcpu, long rss)
{
    char l[32];
    fmt_us(l, sizeof l, (double)latmax);
    fprintf(stderr, "[%5.0fs %-7s] pub %9.0f/s  deliv %10.0f/s  max-lat %9s  bench-cpu %3.0f%%", t,
            phase, dpub / dt, ddel / dt, l, 100 * bcpu / dt);
    if (g.o.server_pid)
        fprintf(stderr, "  srv-cpu %3.0f%%  rss %.1f MiB", 100 * scpu / dt, rss / 1024.0);
    fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    parse_opts(argc, argv);
    hb_opts *o = &g.o;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)ceil(o->max_time));
    raise_nofile();

    /* channels and publishers */
    g.chans = hr_calloc((size_t)o->channels, sizeof *g.chans);
    for (int j = 0; j < o->channels; j++) {
        hb_chan *ch = &g.chans[j];
        ch->nlen = (size_t)snprintf(ch->name, sizeof ch->name, "%s.%d.c", o->prefix, j);
        ch->plen = (size_t)snprintf(ch->pat, sizeof ch->pat, "%s.%d.*", o->prefix, j);
    }
    hb_build_templates();
    g.npubs = o->pubs;
    g.pubs = hr_calloc((size_t)(o->pubs ? o->pubs : 1), sizeof *g.pubs);
    for (int p = 0; p < o->pubs; p++) {
        hb_pub *ps = &g.pubs[p];
        ps->id = (uint32_t)p;
        ps->cursor = (uint32_t)(p % o->channels);
        ps->mcap = (uint32_t)o->window + 4;
        ps->marks = hr_calloc(ps->mcap, sizeof *ps->marks);
    }

    /* connections */
    int nidle = o->idle_conns, nnoise = o->noise_patterns ? o->noise_conns : 0;
    int nall = o->subs + o->pubs + nidle + nnoise;
    hb_conn **all = hr_calloc((size_t)(nall ? nall : 1), sizeof *all);
    int k = 0;
    hb_conn **idle = all + k;
    for (int i = 0; i < nidle; i++)
        all[k++] = new_conn(HB_IDLE, i);
    hb_conn **noise = all + k;
    for (int i = 0; i < nnoise; i++)
        all[k++] = new_conn(HB_NOISE, i);
    hb_conn **subs = all + k;
    for (int i = 0; i < o->subs; i++) {
        bool stalled = i >= o->subs - o->stall;
        hb_conn *c = new_conn(stalled ? HB_STALL : HB_SUB, i);
        if (o->subs >= o->channels) {
            c->chans = hr_malloc(sizeof(int));
            c->chans[0] = i % o->channels;
            c->nchans = 1;
        } else {
            c->chans = hr_malloc(sizeof(int) * (size_t)(o->channels / o->subs + 1));
            for (int j = i; j < o->channels; j += o->subs)
                c->chans[c->nchans++] = j;
        }
        for (int j = 0; j < c->nchans; j++) {
            hb_chan *ch = &g.chans[c->chans[j]];
            ch->fanout_all++;
            if (!stalled) atomic_fetch_add(&ch->fanout, 1);
        }
        all[k++] = c;
    }
    hb_conn **pubs = all + k;
    for (int i = 0; i < o->pubs; i++) {
        hb_conn *c = new_conn(HB_PUB, i);
        c->pub = &g.pubs[i];
        all[k++] = c;
    }
    for (int j = 0; j < o->channels; j++)
        if (atomic_load(&g.chans[j].fanout) > g.max_fanout)
            g.max_fanout = atomic_load(&g.chans[j].fanout);

    /* workers: subscribers and publishers round robin, the rest on worker 0 */
    g.workers = hr_calloc((size_t)o->threads, sizeof *g.workers);
    for (int t = 0; t < o->threads; t++) {
        hb_worker *w = &g.workers[t];
        w->id = t;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0) die("epoll_create1: %s", strerror(errno));
        hr_hist_init(&w->hist);
    }
    for (int i = 0; i < nidle + nnoise; i++)
        hb_worker_add(&g.workers[0], all[i]);
    for (int i = 0; i < o->subs; i++)
        hb_worker_add(&g.workers[i % o->threads], subs[i]);
    for (int i = 0; i < o->pubs; i++)
        hb_worker_add(&g.workers[i % o->threads], pubs[i]);

    report r;
    memset(&r, 0, sizeof r);
    hr_hist_init(&r.hist);
    pid_t pid = o->server_pid;
    if (pid && proc_rss_kb(pid) < 0) die("cannot read /proc/%d (--server-pid)", (int)pid);
    r.rss_start = pid ? proc_rss_kb(pid) : -1;

    /* setup: idle connections first (their RSS cost alone), then the rest */
    int64_t t0 = hb_now_ns();
    int64_t deadline = t0 + (int64_t)(o->setup_timeout * 1e9);
    hb_rbuf srb = {NULL, 0};
    if (!o->quiet && nall > 1000) fprintf(stderr, "herald-bench: opening %d connections\n", nall);
    setup_all(idle, nidle, deadline, &srb);
    if (nidle && pid) {
        usleep(200000); /* let the server settle (lazy frees, buffer trims) */
        r.rss_idle = proc_rss_kb(pid);
    }
    setup_all(noise, nnoise, deadline, &srb);
    setup_all(subs, o->subs, deadline, &srb);
    setup_all(pubs, o->pubs, deadline, &srb);
    r.setup_s = (double)(hb_now_ns() - t0) / 1e9;
    r.rss_ready = pid ? proc_rss_kb(pid) : -1;
    hr_free(srb.data);

    /* register with the workers' epoll; stalled subscribers are never read */
    for (int i = 0; i < nall; i++) {
        hb_conn *c = all[i];
        c->confirms = 0;
        if (c->role == HB_STALL) continue;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            die("epoll_ctl: %s", strerror(errno));
    }

    /* timeline */
    int64_t now = hb_now_ns();
    g.t_start = now;
    g.t_warm = now + (int64_t)(o->warmup * 1e9);
    g.t_end = g.t_warm + (int64_t)(o->duration * 1e9);
    if (o->rate > 0 && o->pubs > 0) {
        double gap = 1e9 / o->rate; /* between two messages of all publishers */
        for (int p = 0; p < o->pubs; p++) {
            g.pubs[p].interval = gap * o->pubs;
            g.pubs[p].t_first = (double)g.t_start + gap * p;
        }
    }
    for (int t = 0; t < o->threads; t++)
        if (pthread_create(&g.workers[t].th, NULL, hb_worker_main, &g.workers[t]) != 0)
            die("pthread_create failed");

    double srv_warm = 0, srv_end = 0, b_warm = 0, b_end = 0, m_warm = 0, m_end = 0;
    bool s_warm = false, s_end = false;
    int64_t tick = g.t_start + 1000000000LL, drain_end = 0;
    uint64_t last_pub = 0, last_del = 0;
    double last_scpu = pid ? proc_cpu_s(pid) : 0, last_bcpu = self_cpu_s();
    int64_t last_t = g.t_start;
    r.rss_peak = r.rss_ready;
    for (;;) {
        now = hb_now_ns();
        if (!s_warm && now >= g.t_warm) {
            if (pid) srv_warm = proc_cpu_s(pid);
            b_warm = self_cpu_s();
            m_warm = machine_busy_s();
            r.rss_warm = pid ? proc_rss_kb(pid) : -1;
            s_warm = true;
        }
        if (!s_end && now >= g.t_end) {
            if (pid) srv_end = proc_cpu_s(pid);
            b_end = self_cpu_s();
            m_end = machine_busy_s();
            r.rss_end = pid ? proc_rss_kb(pid) : -1;
            s_end = true;
            drain_end = now + (int64_t)(o->drain * 1e9);
        }
        if (now >= tick) {
            uint64_t tp = 0, td = 0, lm = 0;
            for (int t = 0; t < o->threads; t++) {
                hb_worker *w = &g.workers[t];
                tp += atomic_load(&w->a_pub_total);
                td += atomic_load(&w->a_deliv_total);
                uint64_t m = atomic_exchange(&w->a_lat_max, 0);
                if (m > lm) lm = m;
            }
            double sc = pid ? proc_cpu_s(pid) : 0, bc = self_cpu_s();
            long rss = pid ? proc_rss_kb(pid) : -1;
            if (rss > r.rss_peak) r.rss_peak = rss;
            double dt = (double)(now - last_t) / 1e9;
            if (!o->quiet)
                progress(now < g.t_warm  ? "warmup"
                         : now < g.t_end ? "measure"
                                         : "drain",
                         (double)(now - g.t_start) / 1e9, dt, tp - last_pub, td - last_del, lm,
                         sc - last_scpu, bc - last_bcpu, rss);
            last_pub = tp;
            last_del = td;
            last_scpu = sc;
            last_bcpu = bc;
            last_t = now;
            tick += 1000000000LL;
        }
        if (s_end) {
            uint64_t exp = 0, del = 0;
            for (int p = 0; p < o->pubs; p++)
                exp += atomic_load(&g.pubs[p].a_expected);
            for (int t = 0; t < o->threads; t++)
                del += atomic_load(&g.workers[t].a_deliv_total);
            if (del >= exp || now >= drain_end) break;
            sleep_until(now + 5000000LL);
            continue;
        }
        int64_t next = tick;
        if (!s_warm && g.t_warm < next) next = g.t_warm;
        if (!s_end && g.t_end < next) next = g.t_end;
        sleep_until(next);
    }
    atomic_store(&g.stop, 1);
    for (int t = 0; t < o->threads; t++)
        pthread_join(g.workers[t].th, NULL);

    /* stalled subscribers: read what the server still holds for them; EOF or
     * a reset means the server had disconnected them */
    int64_t stall_deadline = hb_now_ns() + 5000000000LL;
    char *sbuf = hr_malloc(1 << 20);
    for (int i = 0; i < o->subs; i++) {
        hb_conn *c = subs[i];
        if (c->role != HB_STALL) continue;
        for (;;) {
            int64_t left = (stall_deadline - hb_now_ns()) / 1000000;
            if (left <= 0) {
                r.stall_unknown++;
                break;
            }
            struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
            int pr = poll(&pfd, 1, left < 500 ? (int)left : 500);
            if (pr == 0) break; /* quiet: still connected */
            if (pr < 0) {
                if (errno == EINTR) continue;
                r.stall_unknown++;
                break;
            }
            ssize_t n = read(c->fd, sbuf, 1 << 20);
            if (n > 0) {
                c->drained += (uint64_t)n;
                continue;
            }
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            r.stall_disc++; /* EOF or ECONNRESET */
            break;
        }
        r.stall_bytes += c->drained;
    }
    hr_free(sbuf);
    r.rss_final = pid ? proc_rss_kb(pid) : -1;

    /* collect */
    r.interval = o->duration;
    if (pid) r.srv_cpu = srv_end - srv_warm;
    r.bench_cpu = b_end - b_warm;
    r.machine_busy = m_warm >= 0 && m_end >= 0 ? m_end - m_warm : -1;
    for (int t = 0; t < o->threads; t++) {
        hb_worker *w = &g.workers[t];
        r.pub_win += w->pub_win;
        r.deliv_win += w->deliv_win;
        r.pub_total += w->pub_total;
        r.deliv_total += w->deliv_total;
        r.unexpected += w->unexpected;
        r.errors += w->errors;
        r.sub_dead += w->sub_dead;
        r.pub_dead += w->pub_dead;
        if (w->errors && !r.first_err[0])
            snprintf(r.first_err, sizeof r.first_err, "%s", w->first_err);
        hr_hist_merge(&r.hist, &w->hist);
        double tc = 100.0 * (double)(w->cpu_end - w->cpu_warm) / 1e9 / o->duration;
        if (tc > r.bench_thread_max) r.bench_thread_max = tc;
    }
    for (int p = 0; p < o->pubs; p++) {
        r.expected += g.pubs[p].expected;
        r.receivers += g.pubs[p].receivers;
    }
    if (o->json)
        print_json(&r);
    else
        print_text(&r);

    for (int i = 0; i < nall; i++) {
        hb_conn *c = all[i];
        hb_conn_close(c);
        hr_buf_release(&c->pend);
        hr_buf_release(&c->out);
        hr_free(c->chans);
        hr_free(c->setup_err);
        hr_free(c);
    }
    hr_free(all);
    for (int t = 0; t < o->threads; t++) {
        hb_worker *w = &g.workers[t];
        close(w->ep);
        hr_hist_release(&w->hist);
        hr_free(w->conns);
        hr_free(w->pubs);
        hr_free(w->rb.data);
    }
    hr_free(g.workers);
    for (int j = 0; j < o->channels; j++)
        hr_buf_release(&g.chans[j].tmpl);
    hr_free(g.chans);
    for (int p = 0; p < o->pubs; p++)
        hr_free(g.pubs[p].marks);
    hr_free(g.pubs);
    hr_hist_release(&r.hist);
    return 0;
}
