/*
 * server.h - herald-server core types: the server, a client connection, the
 * command table, and the reply API used by every command.
 *
 * Threading: the whole server core runs on one thread (its hr_loop). No
 * function here is thread-safe. Several servers may live in one process
 * (tests start them in-process); there is no global server state except the
 * hash seed and the log destination.
 *
 * Ownership: the server owns its connections (hr_conn) and frees them after
 * their output is flushed or on close; a command handler borrows the conn
 * and its argv for the duration of the call only.
 */
#ifndef HR_SERVER_H
#define HR_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dict.h"
#include "loop.h"
#include "outq.h"
#include "resp.h"

#define HR_DEFAULT_PORT 6379
/* The Redis version herald reports in INFO and HELLO: clients enable
 * features by it. herald's own version is HERALD_VERSION. */
#define HR_REDIS_COMPAT_VERSION "7.2.4"
#define HR_MAX_BIND 16
#define HR_DATABASES 16
#define HR_CLIENT_NAME_MAX 4096

typedef struct hr_server hr_server;
typedef struct hr_conn hr_conn;
typedef struct hr_command hr_command;

/* Output buffer limit classes (client-output-buffer-limit). */
enum { HR_OBL_NORMAL = 0, HR_OBL_REPLICA = 1, HR_OBL_PUBSUB = 2, HR_OBL_COUNT };

typedef struct hr_obl {
    long long hard, soft, soft_seconds;
} hr_obl;

/* notify-keyspace-events classes, one bit per flag character. */
enum {
    HR_NOTIFY_GENERIC = 1 << 0, /* g */
    HR_NOTIFY_STRING = 1 << 1,  /* $ */
    HR_NOTIFY_LIST = 1 << 2,    /* l */
    HR_NOTIFY_SET = 1 << 3,     /* s */
    HR_NOTIFY_HASH = 1 << 4,    /* h */
    HR_NOTIFY_ZSET = 1 << 5,    /* z */
    HR_NOTIFY_EXPIRED = 1 << 6, /* x */
    HR_NOTIFY_EVICTED = 1 << 7, /* e */
    HR_NOTIFY_STREAM = 1 << 8,  /* t */
    HR_NOTIFY_MODULE = 1 << 9,  /* d */
    HR_NOTIFY_NEW = 1 << 10,    /* n */
    HR_NOTIFY_KEYSPACE = 1 << 11, /* K */
    HR_NOTIFY_KEYEVENT = 1 << 12, /* E */
    HR_NOTIFY_KEY_MISS = 1 << 13, /* m */
    HR_NOTIFY_ALL = (1 << 10) - 1 /* A: g$lshzxetd */
};
/* Parses a flag string; returns the bits or -1 on an unknown character. */
int hr_notify_parse(const char *s, size_t len);
/* Formats bits the way CONFIG GET shows them (Redis's canonical order). */
void hr_notify_format(int flags, hr_buf *out);

/* Configuration; defaults in hr_config_defaults(). */
typedef struct hr_config {
    int port;
    char *bind[HR_MAX_BIND];
    int nbind;
    char *unixsocket;
    int unixsocketperm;
    int tcp_backlog;
    long long maxclients;
    long long timeout;       /* idle seconds before closing a client, 0 = never */
    long long tcp_keepalive; /* seconds */
    hr_obl obl[HR_OBL_COUNT];
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    int hz;
    int loglevel;
    char *logfile;
    char *pidfile;
    char *config_file; /* absolute path, NULL when none */
    int notify_flags; /* HR_NOTIFY_* bits of notify-keyspace-events */
    int databases;
    long long maxmemory;      /* bytes, 0 = no limit */
    int maxmemory_policy;     /* HR_MAXMEM_* */
    int maxmemory_samples;
    int maxmemory_eviction_tenacity;
    int lfu_log_factor;
    int lfu_decay_time;       /* minutes */
    int active_expire_effort; /* 1..10 */
    int lazyfree_lazy_user_flush;
    long long tracking_table_max_keys; /* 0 = no limit */
} hr_config;

/* maxmemory-policy values. */
enum {
    HR_MAXMEM_VOLATILE_LRU,
    HR_MAXMEM_VOLATILE_LFU,
    HR_MAXMEM_VOLATILE_RANDOM,
    HR_MAXMEM_VOLATILE_TTL,
    HR_MAXMEM_ALLKEYS_LRU,
    HR_MAXMEM_ALLKEYS_LFU,
    HR_MAXMEM_ALLKEYS_RANDOM,
    HR_MAXMEM_NOEVICTION,
};
const char *hr_maxmemory_policy_name(int policy);
static inline bool hr_policy_is_lfu(int p)
{
    return p == HR_MAXMEM_VOLATILE_LFU || p == HR_MAXMEM_ALLKEYS_LFU;
}

/* Connection flags. */
enum {
    HR_CONN_CLOSE_AFTER_REPLY = 1 << 0, /* QUIT / protocol error: flush then close */
    HR_CONN_CLOSE_ASAP = 1 << 1,        /* killed / over limits: close without flushing */
    HR_CONN_REPLY_OFF = 1 << 2,
    HR_CONN_REPLY_SKIP_NEXT = 1 << 3, /* CLIENT REPLY SKIP: skip the next command's reply */
    HR_CONN_REPLY_SKIP = 1 << 4,      /* skipping the current command's reply */
    HR_CONN_PENDING_WRITE = 1 << 5,   /* in the server's pending-write list */
    HR_CONN_NO_EVICT = 1 << 6,
    HR_CONN_UNIX = 1 << 7,
    HR_CONN_WRITE_HANDLER = 1 << 8, /* HR_LOOP_WRITE installed */
    HR_CONN_IN_CALL = 1 << 9,       /* a command is executing */
    HR_CONN_PUSHING = 1 << 10,      /* writing a push: CLIENT REPLY OFF/SKIP do not apply */
    HR_CONN_URGENT = 1 << 11,       /* a command reply is queued: flush this iteration */
    HR_CONN_MULTI = 1 << 12,        /* inside MULTI: commands are queued */
    HR_CONN_DIRTY_CAS = 1 << 13,    /* a WATCHed key changed: EXEC will abort */
    HR_CONN_DIRTY_EXEC = 1 << 14,   /* a queueing error: EXEC answers EXECABORT */
    HR_CONN_IN_EXEC = 1 << 15,      /* running the commands of EXEC */
    HR_CONN_NO_TOUCH = 1 << 16,     /* CLIENT NO-TOUCH: reads leave LRU/LFU alone */
    HR_CONN_MONITOR = 1 << 17,      /* MONITOR: sees every command (monitor.c) */
};

/* Client tracking flags (tracking.c), in hr_conn.tflags. */
enum {
    HR_TRACK_ON = 1 << 0,
    HR_TRACK_BCAST = 1 << 1,
    HR_TRACK_OPTIN = 1 << 2,
    HR_TRACK_OPTOUT = 1 << 3,
    HR_TRACK_NOLOOP = 1 << 4,
    HR_TRACK_CACHING = 1 << 5,      /* CLIENT CACHING yes/no given for the next command */
    HR_TRACK_BROKEN_REDIR = 1 << 6, /* the redirect target went away */
};

typedef struct hr_multi hr_multi; /* multi.c */

struct hr_conn {
    hr_server *srv;
    uint64_t id;
    int fd;
    int flags;
    int resp; /* 2 or 3 */
    int db;

    /* input */
    hr_buf qbuf;
    hr_reqparser parser;
    size_t qbuf_peak;
    uint32_t read_chunk; /* next read size: grows while reads fill it (conn.c) */

    /* output */
    hr_outq out;
    uint64_t obl_soft_since_ms; /* 0 when under the soft limit */
    uint64_t defer_since_us;    /* pushes held back for batching since (0: none) */

    /* Pushes addressed to this connection while it runs a command: queued
     * after the command's reply, as Redis 7.2 orders them. */
    hr_outq_entry *deferred;
    uint32_t ndeferred, deferred_cap;

    /* subscriptions: name -> hr_subscribers* of the registry */
    hr_dict channels, patterns, shard_channels;

    /* MULTI / WATCH state (multi.c), NULL when neither is in use. */
    hr_multi *multi;

    /* client tracking (tracking.c) */
    int tflags;               /* HR_TRACK_* */
    uint64_t tracking_redir;  /* REDIRECT target id, 0 for none */
    hr_dict *tracking_prefixes; /* BCAST prefixes (prefix -> NULL), or NULL */

    char *name; /* NULL when unset */
    char *lib_name, *lib_ver;
    char addr[64], laddr[64];
    uint64_t ctime_ms, last_ms;
    const hr_command *last_cmd;
    const hr_command *last_parent; /* for "cmd=client|list" */

    hr_conn *prev, *next;  /* server's client list, in creation order */
    hr_conn *pending_next; /* pending-write list */
};

/* A command's handler. argv[0] is the command name as sent. */
typedef void hr_command_fn(hr_conn *c, int argc, hr_arg *argv);

/* Command flags (those that affect dispatch). */
enum {
    HR_CMD_PUBSUB_OK = 1 << 0, /* allowed in RESP2 subscribed mode */
    HR_CMD_NOSCRIPT = 1 << 1,
    HR_CMD_CONTAINER = 1 << 2, /* has subcommands; handler dispatches them */
    HR_CMD_WRITE = 1 << 3,     /* "write": modifies the keyspace */
    HR_CMD_READONLY = 1 << 4,  /* "readonly": reads keys (tracking remembers them) */
    HR_CMD_DENYOOM = 1 << 5,   /* "denyoom": refused over maxmemory */
    HR_CMD_NO_MULTI = 1 << 6,  /* runs at once inside MULTI (EXEC, DISCARD, ...) */
    /* also set at start-up from the COMMAND INFO flags "admin" / "may_replicate": */
    HR_CMD_SKIP_MONITOR = 1 << 7,  /* not shown to MONITOR (admin commands, QUIT) */
    HR_CMD_MAY_REPLICATE = 1 << 8, /* refused to monitors (Redis refuses PUBLISH like a write) */
};

/* A key specification as COMMAND INFO reports it (Redis 7 key specs), in
 * the one shape herald's commands need: begin_search by index, find_keys by
 * range. */
typedef struct hr_key_spec {
    const char *flags; /* space separated, e.g. "not_key" or "RO access" */
    int bs_index;      /* begin_search: index of the first key argument */
    int fk_lastkey;    /* find_keys range: last key relative to the first (-1: up to the end) */
    int fk_keystep;
    int fk_limit;
    const char *notes; /* or NULL */
} hr_key_spec;

struct hr_command {
    const char *name;     /* lower case, e.g. "publish" or "list" for a subcommand */
    hr_command_fn *fn;    /* NULL for a container without a handler of its own */
    int arity;            /* >0 exact argc, <0 at least -arity */
    int flags;            /* HR_CMD_* */
    const char *info;     /* COMMAND INFO flag list, space separated, e.g. "pubsub loading stale fast" */
    const char *acl;      /* ACL categories, e.g. "@pubsub @fast" */
    const char *tips;     /* COMMAND INFO tips, space separated, or NULL */
    int first_key, last_key, key_step;
    const hr_key_spec *key_specs; /* key_specs_num entries, or NULL */
    int key_specs_num;
    const char *summary;  /* COMMAND DOCS */
    const char *since;
    const char *group;
    const char *complexity;
    const hr_command *subcommands; /* NULL-name-terminated array */
    const hr_command *parent;      /* set at start-up for subcommands */
    int id;                        /* set at start-up: index into hr_server.cmdstats */
};

/* Per-command counters for INFO commandstats. */
typedef struct hr_cmdstat {
    long long calls;    /* times the handler ran (commands in EXEC included) */
    uint64_t ticks;     /* time spent in the handler, in hr_ticks() units */
    long long rejected; /* refused before running: arity, OOM, subscribed mode... */
    long long failed;   /* ran and answered an error */
} hr_cmdstat;

/* INFO errorstats keeps at most this many distinct error codes. */
#define HR_ERRORSTATS_MAX 128

/* Statistics shown by INFO. */
typedef struct hr_stats {
    long long total_connections_received;
    long long total_commands_processed;
    long long rejected_connections;
    long long net_input_bytes, net_output_bytes;
    long long client_obl_disconnections;
    long long client_qbl_disconnections;
    long long total_error_replies;
    long long unexpected_error_replies;
    long long pubsub_messages_published;
    long long pubsub_deliveries;
    long long keyspace_hits, keyspace_misses;
    long long expired_keys, evicted_keys;
    long long expired_time_cap_reached_count;
    long long expire_cycle_cpu_us;
    double expired_stale_perc;
    long long total_reads_processed, total_writes_processed;
    long long tracking_invalidations;
    uint64_t start_ms;
    /* INFO's own bookkeeping: the highest used_memory seen, and the last
     * sample of the counters behind the instantaneous_* rates. */
    size_t peak_memory;
    uint64_t inst_sample_ms;
    long long inst_sample_cmds, inst_sample_in, inst_sample_out;
    long long inst_ops_per_sec;
    double inst_input_kbps, inst_output_kbps;
} hr_stats;

typedef struct hr_pubsub hr_pubsub; /* pubsub.h */
#define HR_CMD_TIME_UNSET (-1LL)

struct hr_server {
    hr_config cfg;
    hr_loop *loop;
    int listen_fds[HR_MAX_BIND + 1];
    int nlisten;
    int unix_fd;
    int actual_port; /* bound TCP port (useful with port 0) */

    hr_conn *clients_head, *clients_tail;
    long long nclients;
    uint64_t next_client_id;
    hr_conn *pending_writes;
    hr_conn *current; /* the connection whose command is executing, or NULL */
    /* Smallest non-zero output-buffer limit of any class (0: no limits):
     * queues below it skip the limit check. Kept by hr_server_limits_changed. */
    size_t obl_floor;
    int trim_heap; /* a large output queue was freed: malloc_trim in the cron */

    hr_pubsub *pubsub;
    struct hr_db *db;            /* cfg.databases databases (db.h) */
    struct hr_tracking *tracking; /* tracking.c */
    struct hr_evict_pool *evict_pool; /* db.c: eviction candidates */
    long long dirty;             /* changes since start (rdb_changes_since_last_save) */
    long long cmd_time_ms;       /* wall clock of the running command (UNIX ms), 0 outside
                                    commands, HR_CMD_TIME_UNSET until first read */
    long long expire_fast_until_us; /* active expiry: a fast pass is due */
    bool expire_time_capped;     /* the last slow pass ran out of time */
    bool no_touch;               /* the running command must not update access times */
    hr_dict clients_by_id;       /* id -> hr_conn* */
    hr_dict commands; /* lower-case name -> const hr_command* */
    hr_stats stats;
    hr_cmdstat *cmdstats;   /* by hr_command.id */
    size_t ncmdstats;
    hr_dict errorstats;     /* error code ("ERR", "WRONGTYPE") -> count (in aux) */
    long long call_errors;  /* error replies by the command running now */
    hr_conn **monitors;     /* MONITOR connections, in the order they started */
    size_t nmonitors, monitors_cap;

    long long cron_timer;
    uint64_t cron_loops;
    volatile int shutdown_asap;
    int run_id_set;
    char run_id[41];
    uint64_t now_ms; /* cached monotonic ms at the start of each iteration */
    pid_t pid;
    hr_buf readbuf; /* shared read buffer (see conn.c) */
};

/* --- lifecycle (server.c) --- */

/* Fills cfg with Redis-compatible defaults. */
void hr_config_defaults(hr_config *cfg);
void hr_config_release(hr_config *cfg);
/* Applies one directive (name + args, as in a config file or --name value).
 * Returns NULL on success or a static/owned error message in *err. */
int hr_config_apply(hr_config *cfg, int argc, hr_arg *argv, char *err, size_t errlen);
/* Loads a config file; returns 0 or -1 with the message in err. */
int hr_config_load_file(hr_config *cfg, const char *path, char *err, size_t errlen);

/* Creates a server from a configuration (the server takes ownership of the
 * config's strings); binds listeners. Returns NULL with err filled. */
hr_server *hr_server_new(hr_config *cfg, char *err, size_t errlen);
/* Runs until hr_server_shutdown() or a SIGINT/SIGTERM flag. */
void hr_server_run(hr_server *s);
/* Asks the loop to stop (async-signal-safe). */
void hr_server_shutdown(hr_server *s);
void hr_server_free(hr_server *s);

/* Recomputes values derived from the configuration (call after CONFIG SET). */
void hr_server_limits_changed(hr_server *s);

/* --- connections (conn.c) --- */
void hr_conn_close(hr_conn *c);
/* Closes c after the current command (or now, when none runs). */
void hr_conn_close_async(hr_conn *c);
/* Marks c as having output to flush before the loop sleeps. */
void hr_conn_want_write(hr_conn *c);
/* After queueing output: enforces client-output-buffer-limit. Returns false
 * when c is now scheduled to close. */
bool hr_conn_check_obl(hr_conn *c);
int hr_conn_obl_class(const hr_conn *c);
/* Memory c's output queue is charged for against client-output-buffer-limit
 * (see hr_outq_charge). */
static inline size_t hr_conn_output_size(const hr_conn *c)
{
    return hr_outq_charge(&c->out);
}
/* Queues a push frame for c: after the running command's reply when c is
 * the connection executing it, else right away. Enforces output limits. */
void hr_conn_push(hr_conn *c, hr_frame *f);
/* The same for bytes [off, off+len) of f (a range of a slab). */
void hr_conn_push_range(hr_conn *c, hr_frame *f, size_t off, size_t len);
/* Number of subscriptions of all kinds. */
size_t hr_conn_subscriptions(const hr_conn *c);
/* Formats c as a CLIENT LIST / CLIENT INFO line (no trailing newline). */
void hr_conn_describe(const hr_conn *c, hr_buf *out);
hr_conn *hr_conn_by_id(hr_server *s, uint64_t id);

/* --- replies (reply.c). Each appends to c's output unless replies are off. */
void hr_reply_simple(hr_conn *c, const char *s);
void hr_reply_ok(hr_conn *c);
/* msg without leading '-', e.g. "ERR syntax error". A message that does not
 * start with an upper-case error code gets "ERR " prepended. */
void hr_reply_error(hr_conn *c, const char *msg);
void hr_reply_errorf(hr_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hr_reply_int(hr_conn *c, long long v);
void hr_reply_bulk(hr_conn *c, const char *s, size_t len);
void hr_reply_bulk_str(hr_conn *c, const char *s);
void hr_reply_bulk_ll(hr_conn *c, long long v);
void hr_reply_null(hr_conn *c);
void hr_reply_null_array(hr_conn *c);
void hr_reply_array(hr_conn *c, long long n);
void hr_reply_map(hr_conn *c, long long pairs);
void hr_reply_set(hr_conn *c, long long n);
void hr_reply_push(hr_conn *c, long long n); /* RESP3 push, RESP2 array */
void hr_reply_double(hr_conn *c, double v);
void hr_reply_bool(hr_conn *c, bool v);
void hr_reply_verbatim(hr_conn *c, const char *s, size_t len);
/* Raw, already-encoded bytes. */
void hr_reply_raw(hr_conn *c, const char *s, size_t len);
/* Standard errors with Redis's text. */
void hr_reply_wrong_arity(hr_conn *c, const char *cmdname);
void hr_reply_syntax_error(hr_conn *c);
void hr_reply_unknown_subcommand(hr_conn *c, const char *cmd, const hr_arg *sub);
/* "unknown subcommand or wrong number of arguments for '<sub>'. Try <cmd> HELP." */
void hr_reply_subcommand_error(hr_conn *c, const char *cmd, const hr_arg *sub);
void hr_reply_help(hr_conn *c, const char *cmd, const char *const *lines);
/* Begins/ends a reply whose size is only known at the end (array of unknown
 * length): returns a token for hr_reply_deferred_len. */
size_t hr_reply_defer(hr_conn *c);
void hr_reply_deferred_len(hr_conn *c, size_t token, char type, long long n);

/* --- commands (commands.c) --- */
void hr_commands_register(hr_server *s);
void hr_commands_unregister(hr_server *s);
/* monitor.c: shows a command that ran to every MONITOR connection; takes a
 * closing or RESET connection out of the monitors. */
void hr_monitor_feed(hr_conn *c, const hr_command *cmd, int argc, hr_arg *argv);
void hr_monitor_remove(hr_conn *c);
/* INFO commandstats / errorstats: CONFIG RESETSTAT clears both. */
void hr_commandstats_reset(hr_server *s);
/* Counts one error reply with this code for INFO errorstats. */
void hr_errorstats_count(hr_server *s, const char *code, size_t len);
const hr_command *hr_command_lookup(const hr_server *s, const char *name, size_t len);
/* Executes one parsed command on c (dispatch, arity, subscribed-mode checks). */
void hr_command_execute(hr_conn *c, int argc, hr_arg *argv);
/* Runs cmd's handler with the per-command hooks (tracking, statistics) and
 * no checks: for EXEC, whose commands were checked when queued. */
void hr_command_call(hr_conn *c, const hr_command *cmd, int argc, hr_arg *argv);
/* Every top-level command, NULL-name terminated, for COMMAND. */
extern hr_command hr_command_table[];
size_t hr_command_count(void);

/* Argument helpers. */
bool hr_arg_eq(const hr_arg *a, const char *lit); /* case-insensitive */
bool hr_arg_ll(const hr_arg *a, long long *v);    /* strict integer */
/* How much of a's text Redis quotes in an error: up to the first NUL byte,
 * at most 128 bytes. Use as printf("%.*s", hr_arg_preview(a), a->ptr). */
int hr_arg_preview(const hr_arg *a);

#endif
