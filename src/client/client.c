/*
 * client.c - the public API of libherald: lifecycle, options, the I/O
 * thread (or external-loop integration), blocking and asynchronous calls,
 * the subscription table. See include/herald/client.h for the contract and
 * client_int.h for the objects and the locking rule (one mutex, c->mu).
 *
 * Blocking calls queue a request whose waiter lives on the caller's stack,
 * then sleep on the waiter's condition variable until the I/O side completes
 * it or the command timeout passes; on timeout the request stays in the FIFO
 * (its late reply is discarded) but forgets the waiter. In external mode a
 * blocking caller performs the I/O itself while it waits, whenever no other
 * thread does (c->io_mu), so it also works from the application's loop.
 */
#include "client_int.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "hrtime.h"
#include "util.h"

/* ---- errors and options -------------------------------------------------- */

const char *herald_strerror(int code)
{
#define HC_ERR_CASE(name, value, text)                                                             \
    case value: return text;
    switch (code) {
        HERALD_ERRORS(HC_ERR_CASE)
    }
#undef HC_ERR_CASE
    return "unknown error";
}

void herald_options_init(herald_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 5000;
    o->command_timeout_ms = 5000;
    o->reconnect = 1;
    o->reconnect_initial_ms = 100;
    o->reconnect_max_ms = 5000;
    o->reconnect_jitter = 0.2;
    o->health_interval_ms = 1000;
    o->health_timeout_ms = 3000;
    o->protocol = 2;
    o->queue_max = 10000;
    o->overflow = HERALD_OVERFLOW_DROP_OLDEST;
    o->max_inflight = 1000000;
    o->io_mode = HERALD_IO_THREAD;
}

static bool options_valid(const herald_options_t *o)
{
    if (o->connect_timeout_ms <= 0 || o->command_timeout_ms <= 0) return false;
    if (o->reconnect_initial_ms <= 0 || o->reconnect_max_ms < o->reconnect_initial_ms) return false;
    if (!(o->reconnect_jitter >= 0 && o->reconnect_jitter <= 1)) return false;
    if (o->health_interval_ms < 0 || o->health_timeout_ms <= 0) return false;
    if (o->protocol != 2 && o->protocol != 3) return false;
    if (o->overflow != HERALD_OVERFLOW_DROP_OLDEST && o->overflow != HERALD_OVERFLOW_BACKPRESSURE)
        return false;
    if (o->io_mode != HERALD_IO_THREAD && o->io_mode != HERALD_IO_EXTERNAL) return false;
    if (o->queue_max == 0 || o->max_inflight == 0) return false;
    if (o->client_name) {
        /* Redis refuses names with spaces or non-printable characters. */
        if (!o->client_name[0]) return false;
        for (const char *p = o->client_name; *p; p++)
            if (*p <= ' ' || *p > '~') return false;
    }
    return true;
}

/* ---- small helpers -------------------------------------------------------- */

static void cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

static void cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t deadline_ms)
{
    struct timespec ts = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000L};
    pthread_cond_timedwait(cv, mu, &ts);
}

double hc_random01(herald_client_t *c)
{
    /* xorshift64* */
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

void hc_notify(herald_client_t *c)
{
    pthread_cond_broadcast(&c->cond);
}

void hc_wake_io(herald_client_t *c)
{
    if (c->wake_pending) return;
    c->wake_pending = true;
    uint64_t one = 1;
    ssize_t n = write(c->wakefd, &one, sizeof(one));
    (void)n;
}

void hc_epoll_update(hc_conn *conn, uint32_t events)
{
    if (conn->t.fd < 0) return;
    if (conn->in_epoll && conn->epoll_events == events) return;
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = conn;
    int op = conn->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(conn->c->epfd, op, conn->t.fd, &ev) == 0) {
        conn->in_epoll = true;
        conn->epoll_events = events;
    }
}

void hc_epoll_del(hc_conn *conn)
{
    if (conn->t.fd >= 0 && conn->in_epoll)
        epoll_ctl(conn->c->epfd, EPOLL_CTL_DEL, conn->t.fd, NULL);
    conn->in_epoll = false;
    conn->epoll_events = 0;
}

void hc_sub_unref(hc_sub *s)
{
    if (--s->refs > 0) return;
    hr_free(s->name);
    hr_free(s);
}

hc_conn *hc_sub_conn(herald_client_t *c, hc_node *node, bool create)
{
    if (c->opts.protocol == 3) return node->cmd;
    if (!node->sub && create && !c->stopping) {
        node->sub = hc_conn_new(c, node, HERALD_ROLE_SUBSCRIBER);
        node->sub->state = HC_BACKOFF; /* the I/O side connects it at once */
        node->sub->next_attempt_ms = 0;
        hc_wake_io(c);
    }
    return node->sub;
}

void hc_replay_subs(hc_conn *conn)
{
    herald_client_t *c = conn->c;
    for (int k = 0; k < 3; k++) {
        size_t n = hr_dict_size(&c->subs[k]), i = 0;
        if (n == 0) continue;
        hc_sub **all = hr_malloc(n * sizeof(*all));
        hr_dict_iter it;
        hr_dict_iter_init(&it, &c->subs[k]);
        for (hr_dict_entry *e; (e = hr_dict_next(&it));)
            all[i++] = e->val;
        hr_dict_iter_done(&it);
        /* Sharded channels one per command: in a cluster they may live in
         * different slots. */
        size_t batch = k == HERALD_SUB_SHARD ? 1 : 128;
        for (i = 0; i < n; i += batch)
            hc_conn_send_subs(conn, (herald_sub_kind_t)k, false, all + i,
                              n - i < batch ? n - i : batch);
        hr_free(all);
    }
}

/* ---- I/O ------------------------------------------------------------------- */

static uint64_t run_timers(herald_client_t *c, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    if (c->stopping) return next;
    for (int i = 0; i < c->nnodes; i++) {
        hc_conn *conns[2] = {c->nodes[i]->cmd, c->nodes[i]->sub};
        for (int j = 0; j < 2; j++) {
            if (!conns[j]) continue;
            uint64_t t = hc_conn_timers(conns[j], now);
            if (t < next) next = t;
        }
    }
    return next;
}

/* One round of I/O: timers, wait up to max_wait_ms for events, handle them,
 * timers again. Called without mu (and, in external mode, with io_mu). */
static void io_iterate(herald_client_t *c, int max_wait_ms)
{
    struct epoll_event evs[32];
    pthread_mutex_lock(&c->mu);
    uint64_t now = hr_mono_ms();
    uint64_t next = run_timers(c, now);
    bool busy = c->bp_resume;
    pthread_mutex_unlock(&c->mu);
    int wait = busy ? 0 : max_wait_ms;
    if (next != UINT64_MAX) {
        uint64_t left = next > now ? next - now : 0;
        if (left < (uint64_t)wait) wait = (int)left;
    }
    int n = epoll_wait(c->epfd, evs, 32, wait);
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < n; i++) {
        hc_conn *conn = evs[i].data.ptr;
        if (!conn) {
            uint64_t v;
            while (read(c->wakefd, &v, sizeof(v)) > 0) {
            }
            c->wake_pending = false;
            continue;
        }
        if (!c->stopping) hc_conn_on_events(conn, evs[i].events);
    }
    if (c->bp_resume && !c->stopping) {
        c->bp_resume = false;
        for (int i = 0; i < c->nnodes; i++) {
            hc_conn *conn = hc_sub_conn(c, c->nodes[i], false);
            if (conn) hc_conn_resume(conn);
        }
    }
    run_timers(c, hr_mono_ms());
    pthread_mutex_unlock(&c->mu);
}

static void *io_main(void *arg)
{
    herald_client_t *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        bool stop = c->stopping;
        pthread_mutex_unlock(&c->mu);
        if (stop) break;
        io_iterate(c, 1000);
    }
    return NULL;
}

typedef bool (*pred_fn)(herald_client_t *c, void *arg);

/* Waits (mu held) until pred(c, arg) holds or deadline_ms passes; returns
 * pred's last value. cv is the condition variable that is signalled when pred
 * may have changed. */
static bool wait_until(herald_client_t *c, pthread_cond_t *cv, pred_fn pred, void *arg,
                       uint64_t deadline_ms)
{
    bool ok;
    c->waiters++;
    while (!(ok = pred(c, arg))) {
        uint64_t now = hr_mono_ms();
        if (now >= deadline_ms) break;
        bool external = c->opts.io_mode == HERALD_IO_EXTERNAL;
        if (external && !c->stopping && pthread_mutex_trylock(&c->io_mu) == 0) {
            pthread_mutex_unlock(&c->mu);
            uint64_t left = deadline_ms - now;
            io_iterate(c, left < 20 ? (int)left : 20);
            pthread_mutex_unlock(&c->io_mu);
            pthread_mutex_lock(&c->mu);
        } else {
            uint64_t until = deadline_ms;
            if (external && now + 10 < until) until = now + 10;
            cond_wait_until(cv, &c->mu, until);
        }
    }
    if (--c->waiters == 0) pthread_cond_broadcast(&c->cond);
    return ok;
}

static bool pred_waiter(herald_client_t *c, void *arg)
{
    (void)c;
    return ((hc_waiter *)arg)->done;
}

static bool on_delivery_thread(herald_client_t *c)
{
    return c->dthread_started && pthread_equal(pthread_self(), c->dthread);
}

/* ---- lifecycle ------------------------------------------------------------- */

static bool pred_first_outcome(herald_client_t *c, void *arg)
{
    (void)arg;
    hc_conn *conn = c->nodes[0]->cmd;
    return c->stopping || conn->state == HC_READY || conn->failures > 0;
}

void hc_client_destroy(herald_client_t *c)
{
    for (int i = 0; i < c->nnodes; i++) {
        hc_node *node = c->nodes[i];
        hc_conn_free(node->cmd);
        hc_conn_free(node->sub);
        hc_endpoint_release(&node->ep);
        hr_free(node);
    }
    hr_free(c->nodes);
    for (int k = 0; k < 3; k++) {
        hr_dict_iter it;
        hr_dict_iter_init(&it, &c->subs[k]);
        for (hr_dict_entry *e; (e = hr_dict_next(&it));) {
            hc_sub *s = e->val;
            s->removed = true;
            hc_sub_unref(s);
        }
        hr_dict_iter_done(&it);
        hr_dict_release(&c->subs[k]);
    }
    while (c->dq_head) {
        hc_item *it = c->dq_head;
        c->dq_head = it->next;
        hc_item_free(it);
    }
    if (c->epfd >= 0) close(c->epfd);
    if (c->wakefd >= 0) close(c->wakefd);
    hc_url_release(&c->url);
    hr_free(c->client_name);
    pthread_cond_destroy(&c->dq_cond);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->io_mu);
    pthread_mutex_destroy(&c->mu);
    hr_free(c);
}

int herald_connect(const char *url, const herald_options_t *opts, herald_client_t **out)
{
    if (!out) return HERALD_EINVAL;
    *out = NULL;
    herald_options_t o;
    if (opts)
        o = *opts;
    else
        herald_options_init(&o);
    if (!url || !options_valid(&o)) return HERALD_EINVAL;
    hc_url u;
    int rc = hc_url_parse(url, &u);
    if (rc != HERALD_OK) return rc;

    herald_client_t *c = hr_calloc(1, sizeof(*c));
    c->opts = o;
    c->url = u;
    c->client_name = o.client_name ? hr_strdup(o.client_name) : NULL;
    c->opts.client_name = c->client_name;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->io_mu, NULL);
    cond_init(&c->dq_cond);
    cond_init(&c->cond);
    for (int k = 0; k < 3; k++)
        hr_dict_init(&c->subs[k]);
    hr_random_bytes(&c->rng, sizeof(c->rng));
    if (c->rng == 0) c->rng = 0x9E3779B97F4A7C15ULL;

    hc_node *node = hr_calloc(1, sizeof(*node));
    node->ep = c->url.ep; /* moved */
    memset(&c->url.ep, 0, sizeof(c->url.ep));
    c->nodes = hr_malloc(sizeof(*c->nodes));
    c->nodes[0] = node;
    c->nnodes = 1;
    node->cmd = hc_conn_new(c, node, o.protocol == 3 ? HERALD_ROLE_BOTH : HERALD_ROLE_COMMAND);
    node->cmd->state = HC_BACKOFF;
    node->cmd->next_attempt_ms = 0;

    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    c->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    if (c->epfd < 0 || c->wakefd < 0 || epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->wakefd, &ev) != 0) {
        hc_client_destroy(c);
        return HERALD_ECONNECT;
    }

    /* Library threads block every signal: signals go to the application. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e1 = pthread_create(&c->dthread, NULL, hc_deliver_main, c);
    c->dthread_started = e1 == 0;
    int e2 = 0;
    if (o.io_mode == HERALD_IO_THREAD) {
        e2 = pthread_create(&c->io_thread, NULL, io_main, c);
        c->io_thread_started = e2 == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e1 != 0 || e2 != 0) {
        herald_free(c);
        return HERALD_ECONNECT;
    }

    if (!o.lazy_connect) {
        pthread_mutex_lock(&c->mu);
        uint64_t deadline = hr_mono_ms() + (uint64_t)o.connect_timeout_ms + 250;
        wait_until(c, &c->cond, pred_first_outcome, NULL, deadline);
        hc_conn *conn = node->cmd;
        if (conn->state == HC_READY)
            rc = HERALD_OK;
        else if (conn->failures > 0)
            rc = conn->last_err;
        else
            rc = HERALD_ETIMEOUT;
        if (rc == HERALD_EIO) rc = HERALD_ECONNECT;
        pthread_mutex_unlock(&c->mu);
        if (rc != HERALD_OK) {
            herald_free(c);
            return rc;
        }
    }
    *out = c;
    return HERALD_OK;
}

void herald_free(herald_client_t *c)
{
    if (!c) return;
    bool self = on_delivery_thread(c);
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    hc_wake_io(c);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    if (c->io_thread_started) pthread_join(c->io_thread, NULL);
    c->io_thread_started = false;
    pthread_mutex_lock(&c->io_mu); /* external mode: wait for a processing thread */
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->nnodes; i++) {
        hc_conn_shutdown(c->nodes[i]->cmd);
        if (c->nodes[i]->sub) hc_conn_shutdown(c->nodes[i]->sub);
    }
    /* Queued messages are discarded; events and completions still run. */
    c->dq_discard = true;
    c->bp_paused = false;
    hc_item *keep = NULL, *tail = NULL;
    for (hc_item *it = c->dq_head, *next; it; it = next) {
        next = it->next;
        it->next = NULL;
        if (it->type == HC_ITEM_MSG || it->type == HC_ITEM_PUSH) {
            hc_item_free(it);
            c->dq_msgs--;
            c->dq_done++;
            continue;
        }
        if (tail)
            tail->next = it;
        else
            keep = it;
        tail = it;
    }
    c->dq_head = keep;
    c->dq_tail = tail;
    pthread_cond_broadcast(&c->cond);
    while (c->waiters > 0)
        pthread_cond_wait(&c->cond, &c->mu);
    c->dq_stop = true;
    pthread_cond_signal(&c->dq_cond);
    if (self) {
        /* Called from a callback: the delivery thread finishes the job when
         * the callback returns. */
        c->self_free = true;
        pthread_detach(pthread_self());
        pthread_mutex_unlock(&c->mu);
        pthread_mutex_unlock(&c->io_mu);
        return;
    }
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&c->io_mu);
    if (c->dthread_started) pthread_join(c->dthread, NULL);
    hc_client_destroy(c);
}

int herald_is_connected(herald_client_t *c)
{
    if (!c) return 0;
    pthread_mutex_lock(&c->mu);
    int up = c->nodes[0]->cmd->state == HC_READY;
    pthread_mutex_unlock(&c->mu);
    return up;
}

/* ---- calls ----------------------------------------------------------------- */

/* Queues req on the command connection (mu held). On error req is not
 * taken. */
static int submit(herald_client_t *c, int argc, const char *const *argv, const size_t *lens,
                  hc_req *req)
{
    if (c->stopping) return HERALD_ECLOSED;
    hc_conn *conn = c->nodes[0]->cmd;
    if (conn->state != HC_READY) return HERALD_ENOTCONN;
    if (conn->nreqs >= c->opts.max_inflight) return HERALD_EFULL;
    bool idle = conn->wpos == conn->wbuf.len;
    hc_conn_append(conn, argc, argv, lens, req);
    /* When output is already pending, EPOLLOUT is armed and the I/O side
     * writes it all at once. */
    if (idle) hc_conn_flush(conn);
    return HERALD_OK;
}

/* Sends a command and waits for its reply. Returns HERALD_OK or
 * HERALD_ESERVER with *reply set (caller frees), or another error. */
static int call_blocking(herald_client_t *c, int argc, const char *const *argv, const size_t *lens,
                         hr_reply **reply)
{
    *reply = NULL;
    hc_waiter w;
    memset(&w, 0, sizeof(w));
    cond_init(&w.cond);
    hc_req *req = hc_req_new(HC_REQ_WAIT);
    req->w = &w;
    w.req = req;
    pthread_mutex_lock(&c->mu);
    int rc = submit(c, argc, argv, lens, req);
    if (rc == HERALD_OK) {
        uint64_t deadline = hr_mono_ms() + (uint64_t)c->opts.command_timeout_ms;
        if (wait_until(c, &w.cond, pred_waiter, &w, deadline)) {
            rc = w.status;
            *reply = w.reply;
        } else {
            w.req->w = NULL; /* the late reply will be discarded */
            rc = HERALD_ETIMEOUT;
        }
    } else {
        hc_req_free(req);
    }
    pthread_mutex_unlock(&c->mu);
    pthread_cond_destroy(&w.cond);
    return rc;
}

static int submit_async(herald_client_t *c, int argc, const char *const *argv, const size_t *lens,
                        bool is_publish, herald_publish_cb pcb, herald_reply_cb rcb, void *ud)
{
    hc_req *req = hc_req_new(pcb || rcb ? HC_REQ_CB : HC_REQ_FORGET);
    req->is_publish = is_publish;
    req->pcb = pcb;
    req->rcb = rcb;
    req->ud = ud;
    pthread_mutex_lock(&c->mu);
    int rc = submit(c, argc, argv, lens, req);
    pthread_mutex_unlock(&c->mu);
    if (rc != HERALD_OK) hc_req_free(req);
    return rc;
}

static long long publish_sync(herald_client_t *c, const char *cmd, const char *channel,
                              const void *payload, size_t len)
{
    if (!c || !channel || (!payload && len)) return HERALD_EINVAL;
    const char *argv[3] = {cmd, channel, payload ? (const char *)payload : ""};
    size_t lens[3] = {strlen(cmd), strlen(channel), len};
    hr_reply *r = NULL;
    long long rc = call_blocking(c, 3, argv, lens, &r);
    if (rc == HERALD_OK) rc = r && r->type == HR_RESP_INTEGER ? r->integer : HERALD_EPROTO;
    hr_reply_free(r);
    return rc;
}

long long herald_publish(herald_client_t *c, const char *channel, const void *payload, size_t len)
{
    return publish_sync(c, "PUBLISH", channel, payload, len);
}

long long herald_spublish(herald_client_t *c, const char *channel, const void *payload, size_t len)
{
    return publish_sync(c, "SPUBLISH", channel, payload, len);
}

static int publish_async(herald_client_t *c, const char *cmd, const char *channel,
                         const void *payload, size_t len, herald_publish_cb cb, void *ud)
{
    if (!c || !channel || (!payload && len)) return HERALD_EINVAL;
    const char *argv[3] = {cmd, channel, payload ? (const char *)payload : ""};
    size_t lens[3] = {strlen(cmd), strlen(channel), len};
    return submit_async(c, 3, argv, lens, true, cb, NULL, ud);
}

int herald_publish_async(herald_client_t *c, const char *channel, const void *payload, size_t len,
                         herald_publish_cb cb, void *userdata)
{
    return publish_async(c, "PUBLISH", channel, payload, len, cb, userdata);
}

int herald_spublish_async(herald_client_t *c, const char *channel, const void *payload, size_t len,
                          herald_publish_cb cb, void *userdata)
{
    return publish_async(c, "SPUBLISH", channel, payload, len, cb, userdata);
}

/* Commands that would change the connection's mode behind the library. */
static bool refused_command(const char *name, size_t len)
{
    static const char *const refused[] = {
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
        "MONITOR",   "HELLO",      "RESET",      "SYNC",        "PSYNC",        NULL};
    for (int i = 0; refused[i]; i++)
        if (hr_streq_nocase(name, len, refused[i])) return true;
    return false;
}

/* Validates argv and fills lens (from argvlen or strlen). */
static int prepare_argv(int argc, const char *const *argv, const size_t *argvlen, size_t **lens)
{
    if (argc <= 0 || !argv) return HERALD_EINVAL;
    size_t *l = hr_malloc((size_t)argc * sizeof(*l));
    for (int i = 0; i < argc; i++) {
        if (!argv[i]) {
            hr_free(l);
            return HERALD_EINVAL;
        }
        l[i] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    if (refused_command(argv[0], l[0])) {
        hr_free(l);
        return HERALD_EINVAL;
    }
    *lens = l;
    return HERALD_OK;
}

int herald_command(herald_client_t *c, int argc, const char *const *argv, const size_t *argvlen,
                   herald_reply_t **reply)
{
    if (reply) *reply = NULL;
    if (!c || !reply) return HERALD_EINVAL;
    size_t *lens;
    int rc = prepare_argv(argc, argv, argvlen, &lens);
    if (rc != HERALD_OK) return rc;
    hr_reply *r = NULL;
    rc = call_blocking(c, argc, argv, lens, &r);
    hr_free(lens);
    if (r) *reply = hc_reply_convert(r);
    return rc;
}

int herald_command_async(herald_client_t *c, int argc, const char *const *argv,
                         const size_t *argvlen, herald_reply_cb cb, void *userdata)
{
    if (!c) return HERALD_EINVAL;
    size_t *lens;
    int rc = prepare_argv(argc, argv, argvlen, &lens);
    if (rc != HERALD_OK) return rc;
    rc = submit_async(c, argc, argv, lens, false, NULL, cb, userdata);
    hr_free(lens);
    return rc;
}

static bool pred_drained(herald_client_t *c, void *arg)
{
    return c->stopping || c->dq_done >= *(uint64_t *)arg;
}

int herald_flush(herald_client_t *c, int timeout_ms)
{
    if (!c || timeout_ms < 0) return HERALD_EINVAL;
    hc_waiter w;
    memset(&w, 0, sizeof(w));
    cond_init(&w.cond);
    hc_req *req = hc_req_new(HC_REQ_FLUSH);
    req->w = &w;
    w.req = req;
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    pthread_mutex_lock(&c->mu);
    uint64_t deadline = hr_mono_ms() + (uint64_t)timeout_ms;
    int rc = submit(c, 1, argv, lens, req);
    if (rc != HERALD_OK) {
        hc_req_free(req);
    } else if (!wait_until(c, &w.cond, pred_waiter, &w, deadline)) {
        w.req->w = NULL;
        rc = HERALD_ETIMEOUT;
    } else {
        hr_reply_free(w.reply);
        rc = w.status == HERALD_ESERVER ? HERALD_OK : w.status;
        /* Every earlier reply is answered; now wait for their callbacks
         * (not from the delivery thread itself: it would wait for itself). */
        uint64_t target = c->dq_in;
        if (rc == HERALD_OK && !on_delivery_thread(c) &&
            !wait_until(c, &c->cond, pred_drained, &target, deadline))
            rc = HERALD_ETIMEOUT;
        if (rc == HERALD_OK && c->stopping) rc = HERALD_ECLOSED;
    }
    pthread_mutex_unlock(&c->mu);
    pthread_cond_destroy(&w.cond);
    return rc;
}

/* ---- subscriptions --------------------------------------------------------- */

static bool conn_up(const hc_conn *conn)
{
    return conn && (conn->state == HC_HANDSHAKE || conn->state == HC_READY);
}

static int subscribe_generic(herald_client_t *c, herald_sub_kind_t kind, const char *name,
                             herald_message_cb cb, void *ud)
{
    if (!c || !name || !cb) return HERALD_EINVAL;
    size_t len = strlen(name);
    pthread_mutex_lock(&c->mu);
    if (c->stopping) {
        pthread_mutex_unlock(&c->mu);
        return HERALD_ECLOSED;
    }
    int created = 0;
    hr_dict_entry *e = hr_dict_upsert(&c->subs[kind], name, len, &created);
    if (!created) {
        hc_sub *s = e->val;
        s->cb = cb;
        s->ud = ud;
        pthread_mutex_unlock(&c->mu);
        return HERALD_OK;
    }
    hc_sub *s = hr_calloc(1, sizeof(*s));
    s->kind = kind;
    s->name = hr_strndup(name, len);
    s->len = len;
    s->cb = cb;
    s->ud = ud;
    s->refs = 1;
    e->val = s;
    hc_conn *conn = hc_sub_conn(c, c->nodes[0], true);
    if (conn_up(conn)) {
        /* Otherwise it is part of the replay when the connection comes up. */
        hc_conn_send_subs(conn, kind, false, &s, 1);
        hc_conn_flush(conn);
    }
    pthread_mutex_unlock(&c->mu);
    return HERALD_OK;
}

static int unsubscribe_generic(herald_client_t *c, herald_sub_kind_t kind, const char *name)
{
    if (!c || !name) return HERALD_EINVAL;
    size_t len = strlen(name);
    pthread_mutex_lock(&c->mu);
    hr_dict_entry *e = hr_dict_find(&c->subs[kind], name, len);
    if (!e) {
        pthread_mutex_unlock(&c->mu);
        return HERALD_ENOENT;
    }
    hc_sub *s = e->val;
    hr_dict_delete_entry(&c->subs[kind], e);
    s->removed = true;
    s->confirmed = false;
    hc_conn *conn = hc_sub_conn(c, c->nodes[0], false);
    if (conn_up(conn) && !c->stopping) {
        hc_conn_send_subs(conn, kind, true, &s, 1);
        hc_conn_flush(conn);
    }
    if (!on_delivery_thread(c)) {
        c->waiters++;
        while (c->cb_sub == s)
            pthread_cond_wait(&c->cond, &c->mu);
        if (--c->waiters == 0) pthread_cond_broadcast(&c->cond);
    }
    hc_sub_unref(s);
    hc_notify(c);
    pthread_mutex_unlock(&c->mu);
    return HERALD_OK;
}

int herald_subscribe(herald_client_t *c, const char *channel, herald_message_cb cb, void *userdata)
{
    return subscribe_generic(c, HERALD_SUB_CHANNEL, channel, cb, userdata);
}

int herald_psubscribe(herald_client_t *c, const char *pattern, herald_message_cb cb, void *userdata)
{
    return subscribe_generic(c, HERALD_SUB_PATTERN, pattern, cb, userdata);
}

int herald_ssubscribe(herald_client_t *c, const char *channel, herald_message_cb cb, void *userdata)
{
    return subscribe_generic(c, HERALD_SUB_SHARD, channel, cb, userdata);
}

int herald_unsubscribe(herald_client_t *c, const char *channel)
{
    return unsubscribe_generic(c, HERALD_SUB_CHANNEL, channel);
}

int herald_punsubscribe(herald_client_t *c, const char *pattern)
{
    return unsubscribe_generic(c, HERALD_SUB_PATTERN, pattern);
}

int herald_sunsubscribe(herald_client_t *c, const char *channel)
{
    return unsubscribe_generic(c, HERALD_SUB_SHARD, channel);
}

static bool pred_subscribed(herald_client_t *c, void *arg)
{
    (void)arg;
    if (c->stopping) return true;
    size_t total = 0;
    for (int k = 0; k < 3; k++)
        total += hr_dict_size(&c->subs[k]);
    if (total == 0) return true;
    hc_conn *conn = hc_sub_conn(c, c->nodes[0], false);
    if (!conn || conn->state != HC_READY) return false;
    for (int k = 0; k < 3; k++) {
        bool all = true;
        hr_dict_iter it;
        hr_dict_iter_init(&it, &c->subs[k]);
        for (hr_dict_entry *e; (e = hr_dict_next(&it));) {
            if (!((hc_sub *)e->val)->confirmed) {
                all = false;
                break;
            }
        }
        hr_dict_iter_done(&it);
        if (!all) return false;
    }
    return true;
}

int herald_wait_subscribed(herald_client_t *c, int timeout_ms)
{
    if (!c || timeout_ms < 0) return HERALD_EINVAL;
    pthread_mutex_lock(&c->mu);
    bool ok = wait_until(c, &c->cond, pred_subscribed, NULL, hr_mono_ms() + (uint64_t)timeout_ms);
    int rc = c->stopping ? HERALD_ECLOSED : ok ? HERALD_OK : HERALD_ETIMEOUT;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- external loop --------------------------------------------------------- */

int herald_fd(herald_client_t *c)
{
    return c ? c->epfd : HERALD_EINVAL;
}

int herald_timeout_ms(herald_client_t *c)
{
    if (!c) return HERALD_EINVAL;
    pthread_mutex_lock(&c->mu);
    uint64_t now = hr_mono_ms(), next = UINT64_MAX;
    if (c->bp_resume) next = now;
    for (int i = 0; i < c->nnodes; i++) {
        hc_conn *conns[2] = {c->nodes[i]->cmd, c->nodes[i]->sub};
        for (int j = 0; j < 2; j++) {
            if (!conns[j]) continue;
            uint64_t t = hc_conn_next_deadline(conns[j]);
            if (t < next) next = t;
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (next == UINT64_MAX) return -1;
    if (next <= now) return 0;
    return next - now > 1000000 ? 1000000 : (int)(next - now);
}

int herald_process(herald_client_t *c)
{
    if (!c || c->opts.io_mode != HERALD_IO_EXTERNAL) return HERALD_EINVAL;
    if (pthread_mutex_trylock(&c->io_mu) != 0) return HERALD_OK; /* another thread is at it */
    pthread_mutex_lock(&c->mu);
    bool stopping = c->stopping;
    pthread_mutex_unlock(&c->mu);
    if (!stopping) io_iterate(c, 0);
    pthread_mutex_unlock(&c->io_mu);
    return stopping ? HERALD_ECLOSED : HERALD_OK;
}

/* ---- statistics ------------------------------------------------------------ */

void herald_get_stats(herald_client_t *c, herald_stats_t *out)
{
    if (!c || !out) return;
    pthread_mutex_lock(&c->mu);
    *out = c->stats;
    out->queue_length = c->dq_msgs;
    pthread_mutex_unlock(&c->mu);
}
