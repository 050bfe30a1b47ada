/*
 * herald/client.h - libherald, the C client of herald (and of any Redis >= 6
 * server): publish, subscribe and arbitrary commands over one multiplexed
 * client handle that reconnects by itself.
 *
 * Threading model (see docs/client.md):
 *  - By default the library runs its own I/O thread, which does all socket
 *    work (connect, handshake, read, parse, health check, reconnect). With
 *    HERALD_IO_EXTERNAL the application's poll()/epoll loop does that work
 *    instead: it watches herald_fd() and calls herald_process().
 *  - Every user callback (messages, pushes, connection events, completions
 *    of asynchronous calls) runs on the library's delivery thread, one at a
 *    time, in arrival order - never on the I/O thread. Messages wait for the
 *    delivery thread in a bounded queue (herald_options_t.queue_max) whose
 *    overflow policy is herald_overflow_t.
 *  - Every function may be called from any thread, including from inside a
 *    callback (herald_free() too, see there). A blocking call made inside a
 *    callback delays the callbacks queued behind it; with RESP3 and
 *    HERALD_OVERFLOW_BACKPRESSURE it may even wait for its own reply behind
 *    a paused connection until command_timeout_ms - use the asynchronous
 *    calls there.
 *
 * Errors: functions return HERALD_OK (0) or a negative herald_error_t;
 * herald_strerror() names them. The library never exits or aborts on bad
 * input; only out-of-memory aborts the process.
 *
 * Ownership: strings passed in are borrowed for the duration of the call
 * (the library copies what it keeps). herald_reply_t trees returned by
 * herald_command() belong to the caller (herald_reply_free()); every pointer
 * handed to a callback is borrowed and valid only until the callback returns.
 * userdata pointers are the caller's: they must stay valid until their
 * callback can no longer run (after herald_unsubscribe() returns, after an
 * asynchronous call's completion ran, or after herald_free()). No call may
 * use a handle once herald_free() has been called on it (calls blocked in it
 * at that moment return HERALD_ECLOSED first).
 */
#ifndef HERALD_CLIENT_H
#define HERALD_CLIENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors -------------------------------------------------------------- */

/* X(name, value, description) */
#define HERALD_ERRORS(X)                                                                           \
    X(HERALD_OK, 0, "success")                                                                     \
    X(HERALD_EINVAL, -1, "invalid argument")                                                       \
    X(HERALD_EURL, -2, "malformed URL")                                                            \
    X(HERALD_ENOTSUP, -3, "not supported")                                                         \
    X(HERALD_ECONNECT, -4, "cannot connect to the server")                                         \
    X(HERALD_ENOTCONN, -5, "not connected")                                                        \
    X(HERALD_ETIMEOUT, -6, "timed out")                                                            \
    X(HERALD_EIO, -7, "connection lost before the reply arrived")                                  \
    X(HERALD_EPROTO, -8, "protocol error")                                                         \
    X(HERALD_EAUTH, -9, "authentication or handshake refused by the server")                       \
    X(HERALD_ESERVER, -10, "the server replied with an error")                                     \
    X(HERALD_ECLOSED, -11, "client closed")                                                        \
    X(HERALD_EFULL, -12, "too many requests in flight")                                            \
    X(HERALD_ENOENT, -13, "no such subscription")

#define HERALD_ERROR_ENUM_(name, value, text) name = value,
typedef enum herald_error { HERALD_ERRORS(HERALD_ERROR_ENUM_) } herald_error_t;
#undef HERALD_ERROR_ENUM_

/* Returns a static description of a herald_error_t ("unknown error" for
 * anything else). Never NULL. */
const char *herald_strerror(int code);

/* ---- handles and callbacks ----------------------------------------------- */

typedef struct herald_client herald_client_t; /* opaque */

typedef enum herald_sub_kind {
    HERALD_SUB_CHANNEL = 0, /* SUBSCRIBE / PUBLISH */
    HERALD_SUB_PATTERN = 1, /* PSUBSCRIBE */
    HERALD_SUB_SHARD = 2,   /* SSUBSCRIBE / SPUBLISH */
} herald_sub_kind_t;

/* One received pub/sub message. All pointers are borrowed for the duration
 * of the callback. Strings are binary-safe: use the lengths (a NUL follows
 * each, for convenience). pattern is NULL unless kind is HERALD_SUB_PATTERN. */
typedef struct herald_message {
    herald_sub_kind_t kind;
    const char *channel;
    size_t channel_len;
    const char *pattern;
    size_t pattern_len;
    const char *payload;
    size_t payload_len;
} herald_message_t;

typedef void (*herald_message_cb)(herald_client_t *c, const herald_message_t *msg, void *userdata);

/* Reply trees (herald_command). Same shape as hiredis's redisReply. */
typedef enum herald_reply_type {
    HERALD_REPLY_STRING = 1, /* +simple string: str, len */
    HERALD_REPLY_ERROR,      /* -error: str, len (without the '-') */
    HERALD_REPLY_INTEGER,    /* :integer */
    HERALD_REPLY_BULK,       /* $bulk string: str, len */
    HERALD_REPLY_ARRAY,      /* *array: element[0..elements) */
    HERALD_REPLY_NIL,        /* RESP2 null bulk/array, RESP3 null */
    HERALD_REPLY_MAP,        /* %map: 2 * pairs elements, key then value */
    HERALD_REPLY_SET,        /* ~set */
    HERALD_REPLY_ATTR,       /* |attribute (never returned at the top level) */
    HERALD_REPLY_PUSH,       /* >push (only in herald_push_cb) */
    HERALD_REPLY_DOUBLE,     /* ,double: dval, and str (its text) */
    HERALD_REPLY_BOOL,       /* #bool: integer 0/1 */
    HERALD_REPLY_VERB,       /* =verbatim: str (payload), vtype ("txt") */
    HERALD_REPLY_BIGNUM,     /* (big number: str (decimal text) */
    HERALD_REPLY_BLOBERR,    /* !blob error: str, len */
} herald_reply_type_t;

typedef struct herald_reply {
    herald_reply_type_t type;
    long long integer; /* INTEGER, BOOL */
    double dval;       /* DOUBLE */
    size_t len;        /* length of str */
    char *str;         /* NUL-terminated, binary-safe with len; NULL when absent */
    char vtype[4];     /* VERB: the 3-letter format */
    size_t elements;
    struct herald_reply **element;
} herald_reply_t;

/* Frees a whole reply tree (NULL is fine). */
void herald_reply_free(herald_reply_t *r);

/* Connection events. role tells which connection of the client it concerns:
 * with RESP2 a client uses a command connection and (once something is
 * subscribed) a separate subscriber connection; with RESP3 one connection
 * does both. */
typedef enum herald_conn_role {
    HERALD_ROLE_COMMAND = 1,
    HERALD_ROLE_SUBSCRIBER = 2,
    HERALD_ROLE_BOTH = 3,
} herald_conn_role_t;

typedef enum herald_event_type {
    HERALD_EVENT_CONNECTED = 1,    /* handshake done; ready for commands */
    HERALD_EVENT_DISCONNECTED = 2, /* lost (err, detail); reconnecting unless closing */
    /* Once per connection that carries subscriptions: the first moment
     * after it came up when at least one subscription is registered and
     * every (un)subscribe sent on it has been answered - everything
     * registered until then is in force again. count: subscriptions
     * confirmed. */
    HERALD_EVENT_RESUBSCRIBED = 3,
    HERALD_EVENT_ERROR = 4, /* something failed without closing the
                               connection (e.g. a SUBSCRIBE refused by ACL) */
} herald_event_type_t;

typedef struct herald_event {
    herald_event_type_t type;
    herald_conn_role_t role;
    int err;                       /* DISCONNECTED / ERROR: a herald_error_t */
    const char *detail;            /* human-readable detail (never NULL), borrowed */
    const char *address;           /* "host:port" or "unix:/path", borrowed */
    size_t count;                  /* RESUBSCRIBED: subscriptions confirmed */
    unsigned long long reconnects; /* connections re-established so far */
} herald_event_t;

typedef void (*herald_event_cb)(herald_client_t *c, const herald_event_t *ev, void *userdata);

/* Non-pub/sub RESP3 pushes, e.g. ["invalidate", [keys]] after CLIENT
 * TRACKING ON. push is borrowed (type HERALD_REPLY_PUSH). */
typedef void (*herald_push_cb)(herald_client_t *c, const herald_reply_t *push, void *userdata);

/* Completion of an asynchronous publish: result is the receiver count (>= 0)
 * or a negative herald_error_t. */
typedef void (*herald_publish_cb)(herald_client_t *c, long long result, void *userdata);

/* Completion of herald_command_async: status is HERALD_OK, HERALD_ESERVER
 * (reply is the error reply) or another error (reply NULL). reply is
 * borrowed: it is freed when the callback returns. */
typedef void (*herald_reply_cb)(herald_client_t *c, int status, const herald_reply_t *reply,
                                void *userdata);

/* ---- options ------------------------------------------------------------- */

typedef enum herald_overflow {
    /* The queue is full: the oldest queued message is dropped and counted
     * (herald_stats_t.messages_dropped). The I/O thread never waits. */
    HERALD_OVERFLOW_DROP_OLDEST = 0,
    /* The queue is full: the library stops reading the subscriber connection
     * until the delivery thread has made room (half the queue); the server
     * buffers, TCP pushes back. Nothing is dropped by the client, but a
     * server may disconnect a subscriber that falls too far behind
     * (client-output-buffer-limit pubsub), and with RESP3 command replies on
     * that connection wait too. */
    HERALD_OVERFLOW_BACKPRESSURE = 1,
} herald_overflow_t;

typedef enum herald_io_mode {
    HERALD_IO_THREAD = 0,   /* the library runs its own I/O thread */
    HERALD_IO_EXTERNAL = 1, /* the application drives herald_fd()/herald_process() */
} herald_io_mode_t;

typedef struct herald_options {
    int connect_timeout_ms;     /* TCP connect + handshake (5000) */
    int command_timeout_ms;     /* blocking and asynchronous calls (5000) */
    int reconnect;              /* 1: reconnect after a loss (default); 0: stay down */
    int reconnect_initial_ms;   /* first delay after a loss (100) */
    int reconnect_max_ms;       /* the delay doubles up to this (5000) */
    double reconnect_jitter;    /* each delay is scaled by a random factor in
                                   [1 - jitter, 1 + jitter] (0.2) */
    int health_interval_ms;     /* PING a connection silent for this long (1000); 0: off */
    int health_timeout_ms;      /* no byte for this long while a reply is due:
                                   the connection is dead (3000) */
    int protocol;               /* 2 (default) or 3 */
    const char *client_name;    /* CLIENT SETNAME / HELLO SETNAME; NULL: none. Copied. */
    size_t queue_max;           /* messages waiting for the delivery thread (10000) */
    herald_overflow_t overflow; /* HERALD_OVERFLOW_DROP_OLDEST */
    size_t max_inflight;        /* requests awaiting replies per connection beyond
                                   which calls fail with HERALD_EFULL (1000000) */
    herald_io_mode_t io_mode;   /* HERALD_IO_THREAD */
    /* 0 (default): herald_connect() returns once connected (or fails).
     * 1: herald_connect() returns at once and the client keeps connecting in
     * the background; calls fail with HERALD_ENOTCONN until it is connected,
     * subscriptions are applied when it is. */
    int lazy_connect;
    herald_event_cb on_event; /* connection events; NULL: none */
    void *event_userdata;
    herald_push_cb on_push; /* non-pub/sub RESP3 pushes; NULL: discarded */
    void *push_userdata;
} herald_options_t;

/* Fills *o with the defaults above. Always call it before setting fields. */
void herald_options_init(herald_options_t *o);

/* ---- lifecycle ----------------------------------------------------------- */

/* Creates a client for url:
 *   redis://[[user]:password@]host[:port][/db]   (port 6379, db 0 by default;
 *                                                  IPv6 as [::1]; %XX escapes
 *                                                  in user and password)
 *   unix:///path/to/socket[?db=N]
 * ("rediss://" gives HERALD_ENOTSUP for now). opts may be NULL (defaults).
 * On success returns HERALD_OK and stores the new handle in *out (free it
 * with herald_free()). Unless opts->lazy_connect, waits until the first
 * connection is ready: HERALD_ECONNECT, HERALD_EAUTH, HERALD_ETIMEOUT ... when
 * it is not (nothing is kept then). */
int herald_connect(const char *url, const herald_options_t *opts, herald_client_t **out);

/* Closes the connections, fails every outstanding call with HERALD_ECLOSED
 * (asynchronous completions still run, on the delivery thread), discards the
 * messages still queued, stops the threads and frees the handle. Blocks until
 * all that is done. May be called from a callback: the handle is then freed
 * when that callback returns. Must be called once; c may be NULL. */
void herald_free(herald_client_t *c);

/* Returns 1 when the command connection is ready, 0 otherwise. */
int herald_is_connected(herald_client_t *c);

/* ---- publishing ---------------------------------------------------------- */

/* PUBLISH channel payload, blocking until the reply. channel is a
 * NUL-terminated string; payload is binary-safe. Returns the number of
 * receivers (>= 0) or a negative herald_error_t (HERALD_ENOTCONN while
 * disconnected: messages are never queued for later). */
long long herald_publish(herald_client_t *c, const char *channel, const void *payload, size_t len);
/* SPUBLISH (sharded channel), otherwise as herald_publish. */
long long herald_spublish(herald_client_t *c, const char *channel, const void *payload, size_t len);

/* Pipelined PUBLISH / SPUBLISH: queues the command and returns at once
 * (HERALD_OK, or an error, in which case cb is not called). cb, when not NULL,
 * runs later on the delivery thread with the receiver count or an error;
 * cb == NULL is fire-and-forget. Commands from one thread reach the server in
 * call order. */
int herald_publish_async(herald_client_t *c, const char *channel, const void *payload, size_t len,
                         herald_publish_cb cb, void *userdata);
int herald_spublish_async(herald_client_t *c, const char *channel, const void *payload, size_t len,
                          herald_publish_cb cb, void *userdata);

/* ---- subscribing --------------------------------------------------------- */

/* Registers a subscription and returns at once; the SUBSCRIBE is sent now
 * when connected, otherwise on connect, and again after every reconnect.
 * Subscribing again to the same name replaces the callback (the server is
 * subscribed once). cb(c, msg, userdata) runs on the delivery thread for
 * every message. Returns HERALD_OK or HERALD_EINVAL. */
int herald_subscribe(herald_client_t *c, const char *channel, herald_message_cb cb, void *userdata);
int herald_psubscribe(herald_client_t *c, const char *pattern, herald_message_cb cb,
                      void *userdata);
int herald_ssubscribe(herald_client_t *c, const char *channel, herald_message_cb cb,
                      void *userdata);

/* Removes a subscription (HERALD_ENOENT when there is none). Once it
 * returns, its callback is not running (unless called from that very
 * callback) and will not be called again. */
int herald_unsubscribe(herald_client_t *c, const char *channel);
int herald_punsubscribe(herald_client_t *c, const char *pattern);
int herald_sunsubscribe(herald_client_t *c, const char *channel);

/* Waits until the server has confirmed every registered subscription on the
 * current connection. Returns HERALD_OK, HERALD_ETIMEOUT or HERALD_ECLOSED. */
int herald_wait_subscribed(herald_client_t *c, int timeout_ms);

/* ---- any other command --------------------------------------------------- */

/* Sends argv[0..argc) (lengths in argvlen; argvlen NULL: NUL-terminated
 * strings) on the command connection and waits for the reply. On HERALD_OK or
 * HERALD_ESERVER (an error reply) *reply receives the tree, owned by the
 * caller; otherwise *reply is NULL. (Un)subscribe commands, MONITOR, HELLO
 * and RESET are refused (HERALD_EINVAL): use the functions above. */
int herald_command(herald_client_t *c, int argc, const char *const *argv, const size_t *argvlen,
                   herald_reply_t **reply);
/* Pipelined form: cb (may be NULL) runs on the delivery thread. */
int herald_command_async(herald_client_t *c, int argc, const char *const *argv,
                         const size_t *argvlen, herald_reply_cb cb, void *userdata);

/* Waits until every call made before it has been answered and its callback
 * has run. Returns HERALD_OK, HERALD_ETIMEOUT, HERALD_ENOTCONN ... */
int herald_flush(herald_client_t *c, int timeout_ms);

/* ---- integration with an external event loop (HERALD_IO_EXTERNAL) -------- */

/* The descriptor to watch for readability (POLLIN); it stays the same for
 * the life of the client (it aggregates the client's sockets). */
int herald_fd(herald_client_t *c);
/* Milliseconds until herald_process() must run even if herald_fd() stays
 * quiet (timers: connect, health check, reconnect), or -1 for none. */
int herald_timeout_ms(herald_client_t *c);
/* Does the pending I/O and timer work without blocking. Returns HERALD_OK,
 * HERALD_ECLOSED once herald_free() began, or HERALD_EINVAL in
 * HERALD_IO_THREAD mode. Blocking calls also drive the
 * I/O themselves while they wait, so they may be used from the loop's thread. */
int herald_process(herald_client_t *c);

/* ---- statistics ---------------------------------------------------------- */

typedef struct herald_stats {
    unsigned long long messages_received;   /* pub/sub messages read */
    unsigned long long messages_delivered;  /* message callbacks run */
    unsigned long long messages_dropped;    /* dropped by HERALD_OVERFLOW_DROP_OLDEST */
    unsigned long long queue_length;        /* messages waiting now */
    unsigned long long queue_peak;          /* largest queue_length seen */
    unsigned long long backpressure_pauses; /* times reading was paused */
    unsigned long long pushes_received;     /* non-pub/sub pushes */
    unsigned long long commands_sent;
    unsigned long long reconnects;  /* connections re-established after a loss */
    unsigned long long disconnects; /* connections lost */
} herald_stats_t;

void herald_get_stats(herald_client_t *c, herald_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif
