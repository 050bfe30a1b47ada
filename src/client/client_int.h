/*
 * client_int.h - libherald internals shared by the files of src/client.
 *
 * Objects:
 *  - herald_client (client.c): options, credentials, the nodes, the
 *    subscription table, the epoll set, the delivery queue, the threads.
 *  - hc_node: one server address and its connections (cmd; sub for RESP2).
 *    Today a client has exactly one node; Redis Cluster will add more.
 *  - hc_conn (conn.c): one socket behind an hc_transport vtable, its reply
 *    reader, write buffer and FIFO of requests awaiting replies, and a small
 *    state machine: IDLE -> CONNECTING -> HANDSHAKE -> READY, and on any
 *    failure BACKOFF -> CONNECTING again (or DOWN when not reconnecting).
 *  - hc_sub: one registered subscription (kind, name, callback); refcounted
 *    because requests and the delivery thread hold it while the table may
 *    already have dropped it.
 *  - hc_item (deliver.c): one entry of the delivery queue.
 *
 * Locking: one mutex, c->mu, protects every field of every object here.
 * The I/O thread holds it while handling events and timers (not while in
 * epoll_wait); user threads hold it while queueing commands (they also write
 * to the socket directly when nothing is pending); the delivery thread holds
 * it except while a user callback runs. User callbacks never run with mu
 * held. c->io_mu (external mode only) makes one thread at a time do I/O; it
 * is always taken before mu (or with trylock while holding mu).
 */
#ifndef HC_CLIENT_INT_H
#define HC_CLIENT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "herald/client.h"

#include "buf.h"
#include "dict.h"
#include "resp.h"

/* ---- URL (url.c) --------------------------------------------------------- */

enum { HC_EP_TCP = 1, HC_EP_UNIX = 2 };

/* Where a node lives. */
typedef struct hc_endpoint {
    int kind;
    char *host; /* TCP: host name or address (no brackets) */
    int port;
    char *path;    /* UNIX */
    char *display; /* "host:port" / "unix:/path" */
} hc_endpoint;

typedef struct hc_url {
    hc_endpoint ep;
    char *user; /* NULL: none */
    char *pass; /* NULL: none */
    int db;
    bool tls;
} hc_url;

/* Parses url into *u (zeroed first). Returns HERALD_OK, HERALD_EURL or
 * HERALD_ENOTSUP; on error *u holds nothing to release. */
int hc_url_parse(const char *url, hc_url *u);
void hc_url_release(hc_url *u);
void hc_endpoint_release(hc_endpoint *ep);

/* ---- transport (transport.c) --------------------------------------------- */

typedef struct hc_transport hc_transport;

/* The byte stream under a connection. TLS will be another implementation. */
typedef struct hc_transport_ops {
    const char *name;
    /* Starts connecting t to ep; sets t->fd. Returns 0 when connected, 1 when
     * in progress (wait until t->fd is writable, then call finish), or a
     * negative herald error with a message in err. */
    int (*connect)(hc_transport *t, const hc_endpoint *ep, char *err, size_t errlen);
    /* After t->fd became writable: 0 connected, 1 not yet, < 0 error. */
    int (*finish)(hc_transport *t, char *err, size_t errlen);
    /* read(2)/writev(2) semantics: > 0 bytes, 0 EOF (read), -1 with errno. */
    ssize_t (*read)(hc_transport *t, void *buf, size_t len);
    ssize_t (*writev)(hc_transport *t, const struct iovec *iov, int iovcnt);
    void (*close)(hc_transport *t);
} hc_transport_ops;

struct hc_transport {
    const hc_transport_ops *ops;
    int fd;          /* -1 when closed */
    unsigned cursor; /* which resolved address to try next */
    void *priv;
};

extern const hc_transport_ops hc_transport_socket;

/* ---- requests and subscriptions ------------------------------------------ */

typedef struct hc_sub {
    herald_sub_kind_t kind;
    char *name;
    size_t len;
    herald_message_cb cb;
    void *ud;
    int refs;       /* table (while registered) + requests + delivery */
    bool removed;   /* no longer in the table */
    bool confirmed; /* the server confirmed it on the current connection */
    uint64_t gen;   /* SUBSCRIBE commands sent for it */
} hc_sub;

typedef struct hc_waiter {
    pthread_cond_t cond;
    bool done;
    int status;
    hr_reply *reply;
    struct hc_req *req; /* while !done */
} hc_waiter;

enum hc_req_kind {
    HC_REQ_WAIT = 1, /* a blocked caller (w) */
    HC_REQ_CB,       /* asynchronous with a callback (via the delivery queue) */
    HC_REQ_FORGET,   /* fire-and-forget, or abandoned after a timeout */
    HC_REQ_PING,     /* health check */
    HC_REQ_HANDSHAKE,
    HC_REQ_SUB,   /* (p|s)(un)subscribe: answered by `confirms` pushes */
    HC_REQ_FLUSH, /* herald_flush marker: like WAIT */
};

typedef struct hc_req {
    struct hc_req *next;
    int kind;
    uint64_t sent_ms;
    uint64_t deadline_ms;
    hc_waiter *w;
    /* HC_REQ_CB */
    bool is_publish;
    herald_publish_cb pcb;
    herald_reply_cb rcb;
    void *ud;
    /* HC_REQ_SUB */
    const char *confirm_word; /* "subscribe", "punsubscribe", ... */
    long long confirms;
    int nsubs;
    hc_sub **subs;
    uint64_t *gens;
    /* HC_REQ_HANDSHAKE */
    bool last_handshake;
} hc_req;

/* ---- connections (conn.c) ------------------------------------------------ */

enum hc_conn_state {
    HC_IDLE = 0, /* never started */
    HC_BACKOFF,  /* waiting for next_attempt_ms */
    HC_CONNECTING,
    HC_HANDSHAKE, /* socket up; HELLO/AUTH/... outstanding */
    HC_READY,
    HC_DOWN, /* closed for good (reconnect off, or client closing) */
};

typedef struct hc_node hc_node;

typedef struct hc_conn {
    herald_client_t *c;
    hc_node *node;
    herald_conn_role_t role;
    int state;
    hc_transport t;
    bool in_epoll;
    uint32_t epoll_events;
    hr_reader *reader;
    hr_buf wbuf;
    size_t wpos; /* bytes of wbuf already written */
    hc_req *head, *tail;
    size_t nreqs;
    hc_req *due; /* first request not yet checked for its deadline */
    size_t ncb;  /* HC_REQ_CB requests in the FIFO */
    uint64_t connect_deadline_ms;
    uint64_t next_attempt_ms;
    uint64_t last_rx_ms;
    int attempts; /* failed attempts since the last READY */
    bool ever_ready;
    size_t subs_pending; /* (un)subscribe commands awaiting their confirmations */
    bool resub_armed;    /* RESUBSCRIBED not yet reported for this connection */
    int last_err;        /* first failure while connecting (herald_connect) */
    char last_detail[160];
    unsigned long long failures;
} hc_conn;

struct hc_node {
    hc_endpoint ep;
    hc_conn *cmd; /* commands; with RESP3 also pub/sub */
    hc_conn *sub; /* RESP2 pub/sub; NULL until something is subscribed */
};

hc_conn *hc_conn_new(herald_client_t *c, hc_node *node, herald_conn_role_t role);
void hc_conn_free(hc_conn *conn);
/* Starts (or restarts) connecting now. */
void hc_conn_start(hc_conn *conn);
/* Closes the socket, fails outstanding requests with err, emits
 * DISCONNECTED when it was up and schedules a reconnect (or goes DOWN). */
void hc_conn_fail(hc_conn *conn, int err, const char *detail);
/* Closes for good (client closing): requests fail with HERALD_ECLOSED. */
void hc_conn_shutdown(hc_conn *conn);
/* Handles epoll events for conn. */
void hc_conn_on_events(hc_conn *conn, uint32_t events);
/* The next time conn's timers need to run (ms, monotonic; UINT64_MAX: none). */
uint64_t hc_conn_next_deadline(const hc_conn *conn);
/* Runs timers; returns the next deadline (ms, monotonic) or UINT64_MAX. */
uint64_t hc_conn_timers(hc_conn *conn, uint64_t now);
/* Writes as much of wbuf as the socket takes; arms EPOLLOUT for the rest. */
void hc_conn_flush(hc_conn *conn);
/* Encodes a command into wbuf and appends req to the FIFO (req->kind must
 * be set). Does not flush. */
void hc_conn_append(hc_conn *conn, int argc, const char *const *argv, const size_t *lens,
                    hc_req *req);
/* Sends (p|s)(un)subscribe for subs[0..n) (unsub: names only). */
void hc_conn_send_subs(hc_conn *conn, herald_sub_kind_t kind, bool unsub, hc_sub **subs, size_t n);
/* Resumes parsing replies after a backpressure pause. */
void hc_conn_resume(hc_conn *conn);
/* true when conn carries pub/sub traffic. */
static inline bool hc_conn_is_sub(const hc_conn *conn)
{
    return conn->role & HERALD_ROLE_SUBSCRIBER;
}

/* ---- delivery queue (deliver.c) ------------------------------------------ */

enum hc_item_type {
    HC_ITEM_MSG = 1, /* pub/sub message (counted against queue_max) */
    HC_ITEM_PUSH,    /* other RESP3 push (counted too) */
    HC_ITEM_EVENT,
    HC_ITEM_REPLY, /* completion of an asynchronous call */
};

typedef struct hc_item {
    struct hc_item *next;
    int type;
    hr_reply *reply; /* owned; MSG: the push, REPLY: the reply (or NULL) */
    /* MSG */
    herald_message_t msg;
    /* EVENT */
    herald_event_t ev;
    char *detail;
    /* REPLY */
    int status;
    bool is_publish;
    herald_publish_cb pcb;
    herald_reply_cb rcb;
    void *ud;
} hc_item;

/* Queues an item (called with mu held). Applies the overflow policy to
 * messages. */
void hc_deliver_push(herald_client_t *c, hc_item *it);
void hc_deliver_event(herald_client_t *c, herald_event_type_t type, herald_conn_role_t role,
                      int err, const char *detail, size_t count);
void hc_deliver_reply(herald_client_t *c, hc_req *req, int status, hr_reply *reply);
void *hc_deliver_main(void *arg);
void hc_item_free(hc_item *it);

/* ---- the client (client.c) ----------------------------------------------- */

struct herald_client {
    pthread_mutex_t mu;
    herald_options_t opts;
    char *client_name;
    hc_url url;
    hc_node **nodes;
    int nnodes;
    hr_dict subs[3]; /* by herald_sub_kind_t: name -> hc_sub* */

    /* I/O */
    int epfd;
    int wakefd; /* eventfd in the epoll set (data.ptr NULL) */
    bool wake_pending;
    pthread_t io_thread;
    bool io_thread_started;
    pthread_mutex_t io_mu; /* external mode: one processing thread at a time */
    bool stopping;         /* herald_free began */

    /* delivery */
    pthread_t dthread;
    bool dthread_started;
    pthread_cond_t dq_cond; /* items queued / stop */
    hc_item *dq_head, *dq_tail;
    size_t dq_msgs;      /* MSG + PUSH items queued */
    bool dq_stop;        /* the delivery thread exits when the queue is empty */
    bool dq_discard;     /* closing: drop queued messages unseen */
    bool bp_paused;      /* backpressure: sub connections not read */
    bool bp_resume;      /* unpaused: the I/O side must resume parsing */
    uint64_t dq_in;      /* items ever queued */
    uint64_t dq_done;    /* items ever finished */
    hc_sub *cb_sub;      /* subscription whose callback runs now */
    bool self_free;      /* herald_free called from a callback */
    pthread_cond_t cond; /* state changes: conns, confirmations, cb_sub, dq_done */
    int waiters;         /* threads blocked in a call (herald_free waits for them) */

    uint64_t rng;
    herald_stats_t stats;
};

/* Frees everything (threads already stopped). */
void hc_client_destroy(herald_client_t *c);
/* Wakes the I/O side (eventfd) so it recomputes timers and flushes. */
void hc_wake_io(herald_client_t *c);
/* Adds conn's socket to the epoll set or changes its interest. */
void hc_epoll_update(hc_conn *conn, uint32_t events);
/* Removes conn's socket from the epoll set (before closing it). */
void hc_epoll_del(hc_conn *conn);
/* Random number in [0, 1). Called with mu held. */
double hc_random01(herald_client_t *c);
/* The connection that carries subscriptions of a node (creates the RESP2
 * subscriber connection on first use when create). */
hc_conn *hc_sub_conn(herald_client_t *c, hc_node *node, bool create);
void hc_sub_unref(hc_sub *s);
/* Called with mu held when conn's state, a subscription's confirmation or a
 * waiter changes. */
void hc_notify(herald_client_t *c);
/* Replays every registered subscription on conn (it just connected). */
void hc_replay_subs(hc_conn *conn);
/* Frees a request (and its subscription references). */
void hc_req_free(hc_req *r);
hc_req *hc_req_new(int kind);
/* Completes req with reply (ownership passes) or an error; frees req. */
void hc_req_complete(hc_conn *conn, hc_req *req, int status, hr_reply *reply);

/* ---- replies (reply.c) --------------------------------------------------- */

/* Converts an hr_reply tree into a herald_reply_t tree, taking the strings;
 * r is freed. */
herald_reply_t *hc_reply_convert(hr_reply *r);

#endif
