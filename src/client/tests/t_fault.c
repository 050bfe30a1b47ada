/*
 * t_fault.c - libherald under failures, against herald-server and
 * redis-server, RESP2 and RESP3:
 *  - the server is killed (SIGKILL) and restarted on the same port while a
 *    publisher streams: the subscriber reconnects, replays its channel,
 *    pattern and shard subscriptions exactly once (PUBSUB NUMSUB /
 *    SHARDNUMSUB / NUMPAT), and the stream resumes in order;
 *  - the server is frozen (SIGSTOP): the health check notices, the client
 *    keeps trying, and recovers after SIGCONT;
 *  - a loopback proxy starts dropping all traffic silently: the health check
 *    notices and the client reconnects through a fresh proxied connection.
 */
#include "testlib.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static herald_client_t *client(const char *url, int proto, tl_events *ev, int lazy)
{
    herald_options_t o;
    herald_options_init(&o);
    o.protocol = proto;
    o.connect_timeout_ms = 1000;
    o.reconnect_initial_ms = 30;
    o.reconnect_max_ms = 300;
    o.health_interval_ms = 200;
    o.health_timeout_ms = 600;
    o.lazy_connect = lazy;
    o.on_event = ev ? tl_events_cb : NULL;
    o.event_userdata = ev;
    herald_client_t *c = NULL;
    int rc = herald_connect(url, &o, &c);
    CHECK(rc == HERALD_OK, "connect %s: %s", url, herald_strerror(rc));
    return c;
}

static long long numpat(const char *url)
{
    herald_client_t *c = NULL;
    herald_options_t o;
    herald_options_init(&o);
    o.reconnect = 0;
    if (herald_connect(url, &o, &c) != HERALD_OK) return -1;
    const char *argv[2] = {"PUBSUB", "NUMPAT"};
    herald_reply_t *r = NULL;
    long long n = -1;
    if (herald_command(c, 2, argv, NULL, &r) == HERALD_OK && r->type == HERALD_REPLY_INTEGER)
        n = r->integer;
    herald_reply_free(r);
    herald_free(c);
    return n;
}

/* ---- kill and restart ---------------------------------------------------------- */

typedef struct streamer {
    herald_client_t *pub;
    pthread_mutex_t mu;
    bool stop;
    int sent;
} streamer;

static void *stream_main(void *arg)
{
    streamer *st = arg;
    for (int i = 0; i < 100000; i++) {
        pthread_mutex_lock(&st->mu);
        bool stop = st->stop;
        pthread_mutex_unlock(&st->mu);
        if (stop) break;
        char p[24];
        int n = snprintf(p, sizeof(p), "%d", i);
        if (herald_publish_async(st->pub, "fault", p, (size_t)n, NULL, NULL) == HERALD_OK) {
            pthread_mutex_lock(&st->mu);
            st->sent++;
            pthread_mutex_unlock(&st->mu);
        }
        tl_sleep_ms(2);
    }
    return NULL;
}

/* Channel messages (not pattern ones) must carry strictly increasing numbers. */
static bool stream_ordered(tl_inbox *in, size_t *channel_msgs)
{
    long last = -1;
    size_t k = 0;
    for (size_t i = 0, n = tl_inbox_count(in); i < n; i++) {
        tl_msg *m = tl_inbox_get(in, i);
        if (m->kind == HERALD_SUB_CHANNEL && strcmp(m->channel, "fault") == 0) {
            long v = strtol(m->payload, NULL, 10);
            if (v <= last) {
                fprintf(stderr, "  out of order: %ld after %ld\n", v, last);
                tl_msg_free(m);
                return false;
            }
            last = v;
            k++;
        }
        tl_msg_free(m);
    }
    *channel_msgs = k;
    return true;
}

static void test_kill_restart(const char *kind, int proto)
{
    tl_server s;
    if (tl_server_start(&s, kind, 0, NULL) != 0) {
        CHECK(0, "start");
        return;
    }
    tl_events *ev = tl_events_new();
    herald_client_t *sub = client(s.url, proto, ev, 0);
    herald_client_t *pub = client(s.url, proto, NULL, 0);
    tl_inbox *in = tl_inbox_new();
    if (!sub || !pub) goto out;
    herald_subscribe(sub, "fault", tl_inbox_cb, in);
    herald_psubscribe(sub, "fau*", tl_inbox_cb, in);
    herald_ssubscribe(sub, "sfault", tl_inbox_cb, in);
    CHECK(herald_wait_subscribed(sub, 3000) == HERALD_OK, "subscribed");

    streamer st = {pub, PTHREAD_MUTEX_INITIALIZER, false, 0};
    pthread_t th;
    pthread_create(&th, NULL, stream_main, &st);
    CHECK(WAIT_FOR(tl_inbox_count(in) >= 20, 3000), "stream flowing");

    for (int cycle = 0; cycle < 2; cycle++) {
        int resub = tl_events_count(ev, HERALD_EVENT_RESUBSCRIBED, 0);
        int disc = tl_events_count(ev, HERALD_EVENT_DISCONNECTED, 0);
        tl_server_kill(&s);
        CHECK(WAIT_FOR(tl_events_count(ev, HERALD_EVENT_DISCONNECTED, 0) > disc, 3000),
              "DISCONNECTED reported (cycle %d)", cycle);
        CHECK(tl_events_last_err(ev, HERALD_EVENT_DISCONNECTED) == HERALD_EIO, "lost: EIO");
        tl_sleep_ms(150);
        CHECK(herald_publish(pub, "fault", "x", 1) == HERALD_ENOTCONN, "down: ENOTCONN");
        CHECK(tl_server_restart(&s) == 0, "restart on port %d", s.port);
        CHECK(WAIT_FOR(tl_events_count(ev, HERALD_EVENT_RESUBSCRIBED, 0) > resub, 5000),
              "RESUBSCRIBED (cycle %d)", cycle);
        CHECK(herald_wait_subscribed(sub, 3000) == HERALD_OK, "subscribed again");
        size_t n0 = tl_inbox_count(in);
        CHECK(WAIT_FOR(tl_inbox_count(in) >= n0 + 20, 5000), "stream resumed (cycle %d)", cycle);
        CHECK(tl_numsub(s.url, "fault", false) == 1, "NUMSUB 1, no duplicate (cycle %d)", cycle);
        CHECK(tl_numsub(s.url, "sfault", true) == 1, "SHARDNUMSUB 1 (cycle %d)", cycle);
        CHECK(numpat(s.url) == 1, "NUMPAT 1 (cycle %d)", cycle);
    }
    pthread_mutex_lock(&st.mu);
    st.stop = true;
    pthread_mutex_unlock(&st.mu);
    pthread_join(th, NULL);
    CHECK(herald_flush(pub, 3000) == HERALD_OK, "flush");
    size_t k = 0;
    CHECK(stream_ordered(in, &k), "stream in order, no duplicates");
    CHECK(k >= 30, "stream messages received: %zu", k);

    /* after the restarts, nothing is lost while connected */
    tl_inbox_clear(in);
    for (int i = 0; i < 50; i++)
        CHECK(herald_publish(pub, "fault", "z", 1) == 2, "2 receivers");
    CHECK(herald_spublish(pub, "sfault", "s", 1) == 1, "shard receiver");
    CHECK(WAIT_FOR(tl_inbox_count(in) == 101, 3000), "101 messages (%zu)", tl_inbox_count(in));
    herald_stats_t sst;
    herald_get_stats(sub, &sst);
    CHECK(sst.reconnects >= 2 && sst.disconnects >= 2, "stats: %llu reconnects, %llu disconnects",
          sst.reconnects, sst.disconnects);
out:
    herald_free(sub);
    herald_free(pub);
    tl_inbox_free(in);
    tl_events_free(ev);
    tl_server_stop(&s);
}

/* ---- SIGSTOP ------------------------------------------------------------------- */

static void test_sigstop(const char *kind, int proto)
{
    tl_server s;
    if (tl_server_start(&s, kind, 0, NULL) != 0) {
        CHECK(0, "start");
        return;
    }
    tl_events *ev = tl_events_new();
    herald_client_t *sub = client(s.url, proto, ev, 0);
    tl_inbox *in = tl_inbox_new();
    herald_client_t *pub = NULL;
    if (!sub) goto out;
    herald_subscribe(sub, "frozen", tl_inbox_cb, in);
    CHECK(herald_wait_subscribed(sub, 3000) == HERALD_OK, "subscribed");
    int resub = tl_events_count(ev, HERALD_EVENT_RESUBSCRIBED, 0);

    uint64_t t0 = tl_now_ms();
    tl_server_signal(&s, SIGSTOP);
    CHECK(WAIT_FOR(tl_events_count(ev, HERALD_EVENT_DISCONNECTED, HERALD_ROLE_SUBSCRIBER) +
                           tl_events_count(ev, HERALD_EVENT_DISCONNECTED, HERALD_ROLE_BOTH) >=
                       1,
                   4000),
          "health check noticed the frozen server");
    uint64_t took = tl_now_ms() - t0;
    CHECK(took < 2500, "noticed within %llu ms", (unsigned long long)took);
    CHECK(tl_events_last_err(ev, HERALD_EVENT_DISCONNECTED) == HERALD_ETIMEOUT,
          "reported as a timeout");
    tl_sleep_ms(400); /* reconnect attempts reach the frozen server's backlog */
    CHECK(herald_is_connected(sub) == 0, "not connected while frozen");
    CHECK(herald_wait_subscribed(sub, 0) == HERALD_ETIMEOUT, "not subscribed while frozen");
    tl_server_signal(&s, SIGCONT);
    CHECK(WAIT_FOR(tl_events_count(ev, HERALD_EVENT_RESUBSCRIBED, 0) > resub, 5000),
          "resubscribed after SIGCONT");
    CHECK(herald_wait_subscribed(sub, 3000) == HERALD_OK, "subscribed");
    pub = client(s.url, proto, NULL, 0);
    if (pub) {
        CHECK(WAIT_FOR(tl_numsub(s.url, "frozen", false) == 1, 3000), "NUMSUB 1");
        CHECK(herald_publish(pub, "frozen", "thawed", 6) == 1, "one receiver");
        CHECK(WAIT_FOR(tl_inbox_count(in) == 1, 3000), "message after thaw");
    }
out:
    herald_free(sub);
    herald_free(pub);
    tl_inbox_free(in);
    tl_events_free(ev);
    tl_server_stop(&s);
}

/* ---- black-holing proxy ------------------------------------------------------------ */

static void test_blackhole(const char *kind, int proto)
{
    tl_server s;
    if (tl_server_start(&s, kind, 0, NULL) != 0) {
        CHECK(0, "start");
        return;
    }
    tl_proxy *px = tl_proxy_start(s.port);
    CHECK(px != NULL, "proxy");
    tl_events *ev = tl_events_new();
    tl_inbox *in = tl_inbox_new();
    herald_client_t *sub = NULL, *pub = NULL;
    if (!px) goto out;
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", tl_proxy_port(px));
    sub = client(url, proto, ev, 0);
    pub = client(s.url, proto, NULL, 0);
    if (!sub || !pub) goto out;
    herald_subscribe(sub, "hole", tl_inbox_cb, in);
    CHECK(herald_wait_subscribed(sub, 3000) == HERALD_OK, "subscribed through the proxy");
    CHECK(herald_publish(pub, "hole", "before", 6) == 1, "one receiver");
    CHECK(WAIT_FOR(tl_inbox_count(in) == 1, 3000), "delivered through the proxy");
    int resub = tl_events_count(ev, HERALD_EVENT_RESUBSCRIBED, 0);
    int disc = tl_events_count(ev, HERALD_EVENT_DISCONNECTED, 0);

    tl_proxy_blackhole(px);
    uint64_t t0 = tl_now_ms();
    /* the server still counts the subscriber; this message is lost (at most once) */
    CHECK(herald_publish(pub, "hole", "lost", 4) == 1, "server still sees the subscriber");
    CHECK(WAIT_FOR(tl_events_count(ev, HERALD_EVENT_DISCONNECTED, 0) > disc, 4000),
          "health check noticed the black hole");
    CHECK(tl_now_ms() - t0 < 2500, "within 2.5 s");
    CHECK(tl_events_last_err(ev, HERALD_EVENT_DISCONNECTED) == HERALD_ETIMEOUT, "as a timeout");
    CHECK(WAIT_FOR(tl_events_count(ev, HERALD_EVENT_RESUBSCRIBED, 0) > resub, 5000),
          "resubscribed through a new proxied connection");
    CHECK(herald_wait_subscribed(sub, 3000) == HERALD_OK, "subscribed");
    CHECK(WAIT_FOR(tl_numsub(s.url, "hole", false) == 1, 3000), "NUMSUB back to 1");
    CHECK(herald_publish(pub, "hole", "after", 5) == 1, "one receiver after recovery");
    CHECK(WAIT_FOR(tl_inbox_count(in) == 2, 3000), "delivered after recovery (%zu)",
          tl_inbox_count(in));
    tl_msg *m = tl_inbox_get(in, 1);
    CHECK(m && strcmp(m->payload, "after") == 0, "the black-holed message was lost, not late");
    tl_msg_free(m);
out:
    herald_free(sub);
    herald_free(pub);
    tl_proxy_stop(px);
    tl_inbox_free(in);
    tl_events_free(ev);
    tl_server_stop(&s);
}

/* Each fault test starts (and kills) its own server. */
static void fault_suite(tl_server *s, const char *kind, int proto)
{
    (void)s;
    test_kill_restart(kind, proto);
    test_sigstop(kind, proto);
    test_blackhole(kind, proto);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the proxy writes to sockets */
    tl_run_matrix(fault_suite, false);
    return tl_report("client_fault");
}
