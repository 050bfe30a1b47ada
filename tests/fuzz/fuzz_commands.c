/*
 * fuzz_commands.c - libFuzzer target for the whole command layer of
 * herald-server: dispatch, the keyspace (strings, keys, expiry, eviction),
 * MULTI/EXEC/WATCH, client tracking, pub/sub, CONFIG, CLIENT, OBJECT, MEMORY.
 *
 * One in-process server (unix socket only, proto-max-bulk-len 1mb so that no
 * value exceeds 1 MB) lives across inputs. Each input is decoded into up to
 * MAX_CMDS commands sent over up to NCONN real client connections (connect()
 * to the server's unix socket, accepted by its own accept handler; the
 * server's side gets a small SO_SNDBUF so large replies need several writes);
 * the server runs them from its own event loop (hr_loop_run_once /
 * hr_loop_poll), exactly as in production. Everything the server writes is
 * read back and must be well-formed RESP (hr_resp_frame_len), else the target
 * aborts.
 *
 * Input format, repeated until the input or MAX_CMDS runs out:
 *   op      bits 0-1: connection 0..2, or 3 for a special action (next byte
 *           x: x%4 = 0 reconnect conn (x>>2)%3, 1 sleep 1-3 ms and run the
 *           loop (expiry, cron), 2 run the loop, 3 stop reading conn
 *           (x>>2)%3's replies until it reconnects, with the server's send
 *           buffer at its minimum: output buffer limits);
 *           bit 2: run the loop after this command (else it is pipelined);
 *           bit 3: send the command in two writes with a loop run between;
 *           bits 4-7 all set: send it as an inline command.
 *   argc    1 + byte % MAX_ARGS
 *   args    one byte t each. Arg 0: t < T_CMD_END picks a command name (cmds),
 *           else the next byte is decoded like any other argument. Arg 1 of
 *           a command with subcommands (containers): t < T_NUM picks one.
 *           Otherwise: t < T_NUM a word (words: keys, options, config names;
 *           "@id0".."@id2" become that connection's client id, "@addr" the
 *           address all connections share), t < T_RAW a number (nums: edge
 *           integers, floats, sizes), t < T_BIG the next t - T_RAW raw bytes
 *           of the input, else a long value of one repeated byte (length
 *           from big_lens, filler from the next byte).
 * sanitize() keeps proto-max-bulk-len out of reach (the 1 MB cap keeps
 * SETRANGE/SETBIT/APPEND/LCS cheap) and DEBUG to LOG and HELP. A connection
 * the server closed (QUIT, CLIENT KILL, limits, protocol errors) is
 * reconnected on its next use.
 *
 * After each input every connection is closed and the server must free all
 * of them (a connection left behind aborts). A fresh admin connection then
 * restores every mutable configuration parameter (captured at start-up with
 * CONFIG GET *, each checked with CONFIG SET) when the input changed any, and
 * the configuration must then equal the start-up one exactly; FLUSHALL SYNC
 * empties the keyspace. Each input thus starts from the same state.
 *
 * Environment: HERALD_FUZZ_LOG=1 shows the server's log (default /dev/null);
 * HERALD_FUZZ_TRACE=1 prints the commands an input decodes to and the
 * replies (turns a crashing input into a redis-cli reproducer);
 * HERALD_FUZZ_MEM=1 prints the allocated bytes every 2000 inputs (growth
 * means state leaking across inputs). Seeds and dictionary:
 * gen_fuzz_commands_seeds.py.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"
#include "db.h"
#include "log.h"
#include "pubsub.h"
#include "resp.h"
#include "server.h"
#include "tracking.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_commands: check failed at line %d: %s\n", __LINE__, #c);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define NCONN 3
#define MAX_CMDS 64
#define MAX_ARGS 10
#define MAX_BIG_BYTES (4u << 20) /* long values per input */
#define MAX_SLEEP_US 10000       /* sleeping per input */
#define PUMP_ROUNDS 200
/* Argument bytes: [0, T_NUM) a word, [T_NUM, T_RAW) a number, [T_RAW, T_BIG)
 * T_RAW + n raw bytes, [T_BIG, 0xFF] a long value. Arg 0 below T_CMD_END
 * is a command name. */
#define T_NUM 0x90
#define T_RAW 0xB0
#define T_BIG 0xF8
#define T_CMD_END 0xF0

/* clang-format off */
static const char *const cmds[] = {
    "get", "set", "setex", "psetex", "setnx", "getdel", "getex", "getset", "mget", "mset",
    "msetnx", "strlen", "append", "incr", "incrby", "incrbyfloat", "decr", "decrby", "getrange",
    "substr", "setrange", "setbit", "getbit", "bitcount", "bitpos", "bitop", "lcs", "del",
    "unlink", "exists", "touch", "type", "keys", "scan", "randomkey", "rename", "renamenx",
    "expire", "pexpire", "expireat", "pexpireat", "ttl", "pttl", "expiretime", "pexpiretime",
    "persist", "move", "swapdb", "object", "multi", "exec", "discard", "watch", "unwatch",
    "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe",
    "publish", "spublish", "pubsub", "ping", "echo", "quit", "reset", "select", "hello", "client",
    "info", "config", "dbsize", "flushall", "flushdb", "time", "role", "memory", "cluster",
    "debug", "function", "command", "nosuchcmd",
    /* the busiest ones twice */
    "set", "get", "client", "config", "multi", "exec", "watch", "setrange", "expire",
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static const char *const words[] = {
    /* replaced by the client id of connection 0/1/2, and by the address of
     * every connection (CLIENT KILL, REDIRECT) */
    "@id0", "@id1", "@id2", "@addr",
    /* keys, channels, patterns */
    "k", "k1", "k2", "{k}x", "", "foo", "ch", "ch*", "*", "k*", "h?llo", "[a-z]*",
    "__redis__:invalidate", "__keyspace@0__:k", "__keyevent@0__:*", "__key*__:*",
    /* subcommands */
    "tracking", "caching", "getredir", "getname", "setname", "id", "info", "kill", "list",
    "no-evict", "reply", "setinfo", "trackinginfo", "help", "count", "docs", "get", "set",
    "resetstat", "rewrite", "flush", "encoding", "freq", "idletime", "refcount", "doctor",
    "malloc-stats", "purge", "usage", "channels", "numpat", "numsub", "shardchannels",
    "shardnumsub", "log", "keyslot", "getkeysinslot",
    /* options */
    "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "GET", "NX", "XX", "GT", "LT", "PERSIST", "BIT", "BYTE",
    "AND", "OR", "XOR", "NOT", "IDX", "LEN", "MINMATCHLEN", "WITHMATCHLEN", "MATCH", "COUNT", "TYPE",
    "string", "none", "ON", "OFF", "BCAST", "PREFIX", "REDIRECT", "OPTIN", "OPTOUT", "NOLOOP",
    "YES", "NO", "SKIP", "ASYNC", "SYNC", "SAMPLES", "ID", "ADDR", "LADDR", "USER", "SKIPME",
    "MAXAGE", "LIB-NAME", "LIB-VER", "AUTH", "SETNAME", "default", "normal", "pubsub", "master",
    "FILTERBY", "PATTERN", "ACLCAT",
    /* configuration */
    "maxmemory", "maxmemory-policy", "allkeys-lru", "allkeys-lfu", "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-ttl", "noeviction", "notify-keyspace-events", "KEA",
    "Kx", "E$gn", "AKEm", "maxmemory-samples", "lfu-log-factor", "lfu-decay-time",
    "active-expire-effort", "lazyfree-lazy-user-flush", "tracking-table-max-keys",
    "client-output-buffer-limit", "normal 1 1 0", "pubsub 200 100 0", "maxclients", "hz",
    "loglevel", "timeout", "maxmemory*",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static const char *const nums[] = {
    "0", "1", "-1", "2", "3", "10", "100", "-100", "1000", "9223372036854775807",
    "-9223372036854775808", "9223372036854775808", "4294967296", "4294967295", "536870912",
    "1048575", "1048576", "8388607", "8388608", "2147483647", "-2147483648", "1.5", "-0", "+1",
    "inf", "-inf", "nan", "1e10", "100mb", "1kb", "1gb", " 1",
};
#define NNUMS (sizeof(nums) / sizeof(nums[0]))

/* Subcommands: argument 1 of these commands, when below T_NUM, picks one. */
static const char *const client_subs[] = {
    "caching", "getredir", "getname", "help", "id", "info", "kill", "list", "no-evict", "no-touch",
    "reply", "setinfo", "setname", "tracking", "trackinginfo", "tracking", "kill", "list",
};
static const char *const command_subs[] = {"count", "docs", "help", "info", "list", "getkeys"};
static const char *const config_subs[] = {"get", "help", "resetstat", "rewrite", "set", "set"};
static const char *const function_subs[] = {"flush", "help"};
static const char *const object_subs[] = {"encoding", "freq", "help", "idletime", "refcount"};
static const char *const memory_subs[] = {"doctor", "help", "malloc-stats", "purge", "usage"};
static const char *const pubsub_subs[] = {"channels",      "help",       "numpat",
                                          "numsub",        "shardchannels", "shardnumsub"};
static const char *const cluster_subs[] = {"info",  "keyslot", "myid", "nodes", "slots",
                                           "shards", "help",   "countkeysinslot", "getkeysinslot"};
static const char *const debug_subs[] = {"log", "help"};
#define SUBS(name, t) {name, t, sizeof(t) / sizeof(t[0])}
static const struct container {
    const char *name;
    const char *const *subs;
    size_t nsubs;
} containers[] = {
    SUBS("client", client_subs), SUBS("command", command_subs), SUBS("config", config_subs),
    SUBS("function", function_subs), SUBS("object", object_subs), SUBS("memory", memory_subs),
    SUBS("pubsub", pubsub_subs), SUBS("cluster", cluster_subs), SUBS("debug", debug_subs),
};
#define NCONTAINERS (sizeof(containers) / sizeof(containers[0]))

/* clang-format on */

static const size_t big_lens[] = {16, 64, 256, 1000, 5000, 20000, 70000, 200000};

typedef struct peer {
    int fd;      /* -1: not connected */
    uint64_t id; /* its client id on the server */
    bool stall;  /* not reading replies */
    hr_buf in;   /* replies read, not yet a whole frame */
} peer;

static struct {
    hr_server *s;
    char path[108];
    char addr[120]; /* CLIENT LIST's addr= of every connection */
    peer p[NCONN];
    bool trace;
    bool have_base;
    hr_config base; /* the configuration after a reset (shallow copy) */
    int base_loglevel;
    /* CONFIG SET argv restoring every mutable parameter */
    char **reset_argv;
    size_t *reset_lens;
    int reset_argc;
} g;

typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

static int rd_byte(rd *r)
{
    if (!r->n) return -1;
    r->n--;
    return *r->p++;
}

static void trace_str(const char *s, size_t len)
{
    fputc('"', stderr);
    for (size_t j = 0; j < len && j < 100; j++) {
        unsigned char ch = (unsigned char)s[j];
        if (ch == '"' || ch == '\\')
            fprintf(stderr, "\\%c", ch);
        else if (ch < 32 || ch > 126)
            fprintf(stderr, "\\x%02x", ch);
        else
            fputc(ch, stderr);
    }
    if (len > 100) fprintf(stderr, "...(%zu bytes)", len);
    fputc('"', stderr);
}

/* HERALD_FUZZ_TRACE: a command sent (or an action), or with argc -1 a
 * reply received (argv[0], lens[0]). */
static void trace(const char *what, int conn, int argc, const char *const *argv, const size_t *lens)
{
    if (!g.trace) return;
    fprintf(stderr, "[%d] %s", conn, what);
    for (int i = 0; i < (argc < 0 ? 1 : argc); i++) {
        fputc(' ', stderr);
        trace_str(argv[i], lens[i]);
    }
    fputc('\n', stderr);
}

/* ---- connections --------------------------------------------------------- */

/* Checks that in holds well-formed RESP and drops every complete frame. */
static void check_frames(hr_buf *in, int conn)
{
    size_t pos = 0;
    while (pos < in->len) {
        ssize_t r = hr_resp_frame_len(in->data + pos, in->len - pos);
        if (r < 0) {
            size_t show = in->len - pos > 200 ? 200 : in->len - pos;
            fprintf(stderr, "fuzz_commands: malformed reply from the server: %.*s\n", (int)show,
                    in->data + pos);
            abort();
        }
        if (r == 0) break;
        const char *f = in->data + pos;
        size_t flen = (size_t)r;
        trace("  ->", conn, -1, &f, &flen);
        pos += (size_t)r;
    }
    hr_buf_consume(in, pos);
}

/* Reads what the server sent to p. Returns true when anything arrived. */
static bool drain(peer *p)
{
    bool got = false;
    if (p->fd < 0 || p->stall) return false;
    for (;;) {
        char *dst = hr_buf_reserve(&p->in, 65536);
        ssize_t n = recv(p->fd, dst, 65536, 0);
        if (n > 0) {
            p->in.len += (size_t)n;
            got = true;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        /* closed by the server (QUIT, CLIENT KILL, limits, protocol error):
         * a partial frame is possible when output was dropped */
        close(p->fd);
        p->fd = -1;
        check_frames(&p->in, (int)(p - g.p));
        hr_buf_release(&p->in);
        return true;
    }
    check_frames(&p->in, (int)(p - g.p));
    if (p->in.len == 0) hr_buf_release(&p->in);
    return got;
}

static bool drain_all(void)
{
    bool got = false;
    for (int i = 0; i < NCONN; i++)
        got |= drain(&g.p[i]);
    return got;
}

/* Runs the server until it has nothing left to do with what it was sent. */
static void pump(void)
{
    for (int i = 0; i < PUMP_ROUNDS; i++) {
        hr_loop_run_once(g.s->loop, 0);
        bool got = drain_all();
        if (hr_loop_poll(g.s->loop) == 0 && !got) break;
    }
    hr_loop_run_once(g.s->loop, 0);
    drain_all();
}

/* Connects to the server; *id receives the new client's id. */
static int connect_fd(uint64_t *id)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, g.path);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    /* let the server accept it */
    long long before = g.s->nclients;
    for (int i = 0; i < 100 && g.s->nclients == before; i++)
        hr_loop_poll(g.s->loop);
    *id = 0;
    if (g.s->nclients > before) {
        /* A small send buffer on the server's side: large replies take
         * several writes and the write handler, as on a slow network. */
        int sz = 16384;
        setsockopt(g.s->clients_tail->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        *id = g.s->clients_tail->id;
    }
    return fd;
}

static void peer_close(peer *p)
{
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
    p->stall = false;
    hr_buf_release(&p->in);
}

static void peer_connect(peer *p)
{
    peer_close(p);
    p->fd = connect_fd(&p->id);
}

/* Writes all of d to fd, running the server while the socket is full.
 * Gives up when the server stops reading (or closed the connection). */
static void send_all(int fd, const char *d, size_t n)
{
    int idle = 0;
    while (n > 0 && idle < 1000) {
        ssize_t w = send(fd, d, n, MSG_NOSIGNAL);
        if (w > 0) {
            d += w;
            n -= (size_t)w;
            idle = 0;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) return; /* EPIPE, ECONNRESET */
        hr_loop_run_once(g.s->loop, 0);
        drain_all();
        idle++;
    }
}

static void encode(hr_buf *b, int argc, const char *const *argv, const size_t *lens)
{
    hr_buf_appendf(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        hr_buf_appendf(b, "$%zu\r\n", lens[i]);
        hr_buf_append(b, argv[i], lens[i]);
        hr_buf_append_str(b, "\r\n");
    }
}

/* Sends one command on a fresh connection and returns its reply. */
static hr_reply *admin_call(int fd, int argc, const char *const *argv, const size_t *lens)
{
    hr_buf b = HR_BUF_INIT;
    encode(&b, argc, argv, lens);
    send_all(fd, b.data, b.len);
    hr_buf_release(&b);
    hr_reader *r = hr_reader_new(NULL);
    hr_reply *reply = NULL;
    for (int i = 0; i < 100000 && !reply; i++) {
        hr_loop_run_once(g.s->loop, 0);
        char buf[65536];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) CHECK(hr_reader_feed(r, buf, (size_t)n) == 0);
        CHECK(hr_reader_get(r, (void **)&reply) == 0);
    }
    CHECK(reply != NULL);
    hr_reader_free(r);
    return reply;
}

static bool is_ok(const hr_reply *r)
{
    return r->type == HR_RESP_STRING && r->len == 2 && !memcmp(r->str, "OK", 2);
}

/* Closes every connection and waits until the server has freed them all. */
static void close_all(void)
{
    for (int i = 0; i < NCONN; i++)
        peer_close(&g.p[i]);
    for (int i = 0; i < PUMP_ROUNDS && g.s->nclients > 0; i++) {
        hr_loop_run_once(g.s->loop, 0);
        hr_loop_poll(g.s->loop);
    }
    if (g.s->nclients != 0) {
        for (hr_conn *c = g.s->clients_head; c; c = c->next) {
            hr_buf d = HR_BUF_INIT;
            hr_conn_describe(c, &d);
            fprintf(stderr, "fuzz_commands: connection left after its peer closed: %.*s\n",
                    (int)d.len, d.data);
            hr_buf_release(&d);
        }
        abort();
    }
}

/* Restores the start-up configuration and empties every database. */
static void reset_server(void)
{
    close_all();
    uint64_t id;
    int fd = connect_fd(&id);
    hr_reply *r;
    bool changed = !g.have_base || memcmp(&g.s->cfg, &g.base, sizeof(g.base)) != 0 ||
                   hr_log_get_level() != g.base_loglevel;
    if (changed) {
        r = admin_call(fd, g.reset_argc, (const char *const *)g.reset_argv, g.reset_lens);
        if (!is_ok(r))
            fprintf(stderr, "fuzz_commands: reset CONFIG SET: %s\n", r->str ? r->str : "?");
        CHECK(is_ok(r));
        hr_reply_free(r);
        /* CONFIG GET's values must restore the configuration exactly */
        if (g.have_base) CHECK(memcmp(&g.s->cfg, &g.base, sizeof(g.base)) == 0);
        if (g.have_base) CHECK(hr_log_get_level() == g.base_loglevel);
    }
    static const char *const flush[] = {"FLUSHALL", "SYNC"};
    static const size_t flush_lens[] = {8, 4};
    r = admin_call(fd, 2, flush, flush_lens);
    CHECK(is_ok(r));
    hr_reply_free(r);
    close(fd);
    close_all();
    for (int i = 0; i < g.s->cfg.databases; i++)
        CHECK(hr_dict_size(&g.s->db[i].keys) == 0);
}

/* ---- set-up -------------------------------------------------------------- */

static void at_exit(void)
{
    if (!g.s) return;
    for (int i = 0; i < NCONN; i++)
        peer_close(&g.p[i]);
    hr_server_free(g.s); /* unlinks the socket */
    g.s = NULL;
    for (int i = 0; i < g.reset_argc; i++)
        hr_free(g.reset_argv[i]);
    hr_free(g.reset_argv);
    hr_free(g.reset_lens);
}

static void reset_add(const char *s, size_t len)
{
    g.reset_argv = hr_realloc(g.reset_argv, (size_t)(g.reset_argc + 1) * sizeof(char *));
    g.reset_lens = hr_realloc(g.reset_lens, (size_t)(g.reset_argc + 1) * sizeof(size_t));
    g.reset_argv[g.reset_argc] = hr_strndup(s, len);
    g.reset_lens[g.reset_argc] = len;
    g.reset_argc++;
}

/* Keeps every parameter of CONFIG GET * that CONFIG SET accepts back. */
static void capture_config(void)
{
    uint64_t id;
    int fd = connect_fd(&id);
    static const char *const get[] = {"CONFIG", "GET", "*"};
    static const size_t get_lens[] = {6, 3, 1};
    hr_reply *all = admin_call(fd, 3, get, get_lens);
    CHECK(all->type == HR_RESP_ARRAY && all->elements % 2 == 0);
    reset_add("CONFIG", 6);
    reset_add("SET", 3);
    for (size_t i = 0; i < all->elements; i += 2) {
        const hr_reply *k = all->element[i], *v = all->element[i + 1];
        const char *argv[] = {"CONFIG", "SET", k->str, v->str};
        const size_t lens[] = {6, 3, k->len, v->len};
        hr_reply *r = admin_call(fd, 4, argv, lens);
        if (is_ok(r)) {
            reset_add(k->str, k->len);
            reset_add(v->str, v->len);
        }
        hr_reply_free(r);
    }
    hr_reply_free(all);
    close(fd);
    CHECK(g.reset_argc > 10);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (!getenv("HERALD_FUZZ_LOG")) hr_log_open("/dev/null");
    g.trace = getenv("HERALD_FUZZ_TRACE") != NULL;
    snprintf(g.path, sizeof(g.path), "/tmp/herald-fuzz-cmd-%d.sock", (int)getpid());
    snprintf(g.addr, sizeof(g.addr), "%s:0", g.path);
    hr_config cfg;
    hr_config_defaults(&cfg);
    cfg.port = 0;
    cfg.unixsocket = hr_strdup(g.path);
    cfg.proto_max_bulk_len = 1024 * 1024; /* the minimum: values stay small */
    char err[256];
    g.s = hr_server_new(&cfg, err, sizeof(err));
    if (!g.s) {
        fprintf(stderr, "fuzz_commands: server: %s\n", err);
        abort();
    }
    for (int i = 0; i < NCONN; i++)
        g.p[i].fd = -1;
    atexit(at_exit);
    capture_config();
    reset_server();
    g.base = g.s->cfg;
    g.base_loglevel = hr_log_get_level();
    g.have_base = true;
    return 0;
}

/* ---- one input ----------------------------------------------------------- */

static bool banned(const char *s, size_t len)
{
    return len == 18 && !strncasecmp(s, "proto-max-bulk-len", 18);
}

/* Makes a command safe to send: the 1 MB proto-max-bulk-len stays, and
 * DEBUG runs only LOG and HELP (other DEBUG subcommands, should the server
 * grow any, may sleep or crash by design). Returns false when something had
 * to change; fixes argv in place when fix is true. */
static bool sanitize(int argc, const char **argv, size_t *lens, bool fix)
{
    bool ok = true;
    for (int i = 0; i < argc; i++) {
        if (!banned(argv[i], lens[i])) continue;
        ok = false;
        if (fix) argv[i] = "hz", lens[i] = 2;
    }
    if (argc >= 2 && lens[0] == 5 && !strncasecmp(argv[0], "debug", 5) &&
        !((lens[1] == 3 && !strncasecmp(argv[1], "log", 3)) ||
          (lens[1] == 4 && !strncasecmp(argv[1], "help", 4)))) {
        ok = false;
        if (fix) argv[1] = "help", lens[1] = 4;
    }
    return ok;
}

/* Does d[0..n) contain word (lower case), ignoring case? */
static bool contains_nocase(const char *d, size_t n, const char *word)
{
    size_t wl = strlen(word);
    for (int k = 0; k < 2; k++) {
        char first = k ? (char)(word[0] - 'a' + 'A') : word[0];
        for (const char *q = d; (q = memchr(q, first, (size_t)(d + n - q))) != NULL; q++)
            if ((size_t)(d + n - q) >= wl && !strncasecmp(q, word, wl)) return true;
    }
    return false;
}

/* Replaces every c in d[0..n) by ' ' (memchr: long values stay cheap). */
static void blank(char *d, size_t n, char c)
{
    for (char *q = d; (q = memchr(q, c, (size_t)(d + n - q))) != NULL;)
        *q = ' ';
}

/* Joins argv into an inline command; returns false when the server would
 * split it into a command sanitize() refuses. */
static bool make_inline(hr_buf *b, int argc, const char *const *argv, const size_t *lens)
{
    for (int i = 0; i < argc; i++) {
        if (i) hr_buf_append_char(b, ' ');
        size_t at = b->len;
        if (lens[i] == 0) continue;
        hr_buf_append(b, argv[i], lens[i]);
        blank(b->data + at, lens[i], '\r');
        blank(b->data + at, lens[i], '\n');
    }
    /* Fast path: without quotes or backslashes every argument the server
     * sees is a substring of the line. */
    const char *d = b->data ? b->data : "";
    bool plain = !memchr(d, '"', b->len) && !memchr(d, '\'', b->len) && !memchr(d, '\\', b->len);
    bool ok = true;
    if (!plain || contains_nocase(d, b->len, "proto-max-bulk-len") ||
        contains_nocase(d, b->len, "debug")) {
        hr_buf split = HR_BUF_INIT;
        int max = (int)(b->len / 2 + 2); /* enough for any line */
        hr_arg *sargv = hr_malloc((size_t)max * sizeof(*sargv));
        const char **pv = hr_malloc((size_t)max * sizeof(*pv));
        size_t *pl = hr_malloc((size_t)max * sizeof(*pl));
        int n = hr_resp_split_line(d, b->len, &split, sargv, max);
        for (int i = 0; i < n; i++)
            pv[i] = sargv[i].ptr, pl[i] = sargv[i].len;
        if (n > 0) ok = sanitize(n, pv, pl, false);
        hr_free(sargv);
        hr_free(pv);
        hr_free(pl);
        hr_buf_release(&split);
    }
    hr_buf_append_str(b, "\r\n");
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd r = {data, size};
    size_t big_bytes = 0;
    long sleep_us = 0;
    hr_buf args = HR_BUF_INIT; /* storage for long values */
    for (int ncmd = 0; ncmd < MAX_CMDS; ncmd++) {
        int op = rd_byte(&r);
        if (op < 0) break;
        if ((op & 3) == 3) {
            int x = rd_byte(&r);
            if (x < 0) break;
            peer *p = &g.p[(x >> 2) % NCONN];
            static const char *const what[] = {"reconnect", "sleep+pump", "pump", "stall"};
            trace(what[x & 3], (x >> 2) % NCONN, 0, NULL, NULL);
            switch (x & 3) {
            case 0:
                peer_connect(p);
                pump();
                break;
            case 1:
                if (sleep_us < MAX_SLEEP_US) {
                    long us = 1000L * (1 + (x >> 4) % 3);
                    usleep((useconds_t)us);
                    sleep_us += us;
                }
                pump();
                break;
            case 2: pump(); break;
            default: {
                /* and the server's queue fills after a few KB */
                hr_conn *c = p->fd >= 0 ? hr_conn_by_id(g.s, p->id) : NULL;
                int sz = 4096;
                if (c) setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
                p->stall = true;
                break;
            }
            }
            continue;
        }
        peer *p = &g.p[op & 3];
        int a = rd_byte(&r);
        if (a < 0) break;
        int argc = 1 + a % MAX_ARGS;
        const char *argv[MAX_ARGS];
        size_t lens[MAX_ARGS];
        size_t big_off[MAX_ARGS]; /* offsets into args, or SIZE_MAX */
        char idbuf[MAX_ARGS][24];
        args.len = 0;
        const struct container *ct = NULL;
        int i;
        for (i = 0; i < argc; i++) {
            int t = rd_byte(&r);
            if (t < 0) break;
            big_off[i] = SIZE_MAX;
            if (i == 0 && t < T_CMD_END) {
                argv[i] = cmds[t % NCMDS];
                lens[i] = strlen(argv[i]);
                for (size_t k = 0; k < NCONTAINERS; k++)
                    if (!strcmp(argv[i], containers[k].name)) ct = &containers[k];
                continue;
            }
            if (i == 0 && (t = rd_byte(&r)) < 0) break;
            if (i == 1 && ct && t < T_NUM) {
                argv[i] = ct->subs[t % ct->nsubs];
                lens[i] = strlen(argv[i]);
            } else if (t < T_NUM) {
                argv[i] = words[t % NWORDS];
                if (t % NWORDS < NCONN) { /* @idN */
                    peer *q = &g.p[t % NWORDS];
                    if (q->fd < 0) peer_connect(q);
                    snprintf(idbuf[i], sizeof(idbuf[i]), "%llu", (unsigned long long)q->id);
                    argv[i] = idbuf[i];
                } else if (t % NWORDS == NCONN) { /* @addr */
                    argv[i] = g.addr;
                }
                lens[i] = strlen(argv[i]);
            } else if (t < T_RAW) {
                argv[i] = nums[(t - T_NUM) % NNUMS];
                lens[i] = strlen(argv[i]);
            } else if (t < T_BIG) {
                size_t n = (size_t)(t - T_RAW);
                if (n > r.n) n = r.n;
                argv[i] = (const char *)r.p;
                lens[i] = n;
                r.p += n;
                r.n -= n;
            } else {
                size_t n = big_lens[t - T_BIG];
                int fill = rd_byte(&r);
                if (big_bytes + n > MAX_BIG_BYTES) n = 16;
                big_bytes += n;
                big_off[i] = args.len;
                memset(hr_buf_reserve(&args, n), fill < 0 ? 'x' : fill, n);
                args.len += n;
                lens[i] = n;
            }
        }
        argc = i;
        if (argc == 0) break;
        for (i = 0; i < argc; i++)
            if (big_off[i] != SIZE_MAX) argv[i] = args.data + big_off[i];
        sanitize(argc, argv, lens, true);
        hr_buf out = HR_BUF_INIT;
        bool send = true;
        if ((op >> 4) == 0xF)
            send = make_inline(&out, argc, argv, lens);
        else
            encode(&out, argc, argv, lens);
        if (send) {
            trace((op >> 4) == 0xF ? "inline"
                  : (op & 8)       ? "split"
                  : (op & 4)       ? "sync"
                                   : "pipe",
                  op & 3, argc, argv, lens);
            if (p->fd < 0) peer_connect(p);
            if (op & 8) {
                size_t half = out.len / 2;
                send_all(p->fd, out.data, half);
                pump();
                if (p->fd >= 0) send_all(p->fd, out.data + half, out.len - half);
            } else {
                send_all(p->fd, out.data, out.len);
            }
            if (op & 4) pump();
        }
        hr_buf_release(&out);
    }
    hr_buf_release(&args);
    pump();
    reset_server();
    static unsigned long runs;
    if (getenv("HERALD_FUZZ_MEM") && ++runs % 2000 == 0)
        fprintf(stderr, "MEM %lu %zu\n", runs, hr_alloc_used());
    return 0;
}
