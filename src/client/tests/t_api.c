/*
 * t_api.c - libherald API tests against herald-server and redis-server, with
 * RESP2 and RESP3: publish / subscribe (channels, patterns, shard channels),
 * binary and large payloads, unsubscribe, the generic command call, async
 * publish (callback and fire-and-forget) and herald_flush, events, stats,
 * subscriptions made while disconnected, URLs (TCP, unix, db, auth), RESP3
 * pushes (client tracking, redis only), the external-loop mode and
 * herald_free from a callback.
 */
#include "testlib.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static herald_client_t *connect_opts(const char *url, int proto, herald_options_t *o)
{
    herald_options_t d;
    if (!o) {
        herald_options_init(&d);
        o = &d;
    }
    o->protocol = proto;
    herald_client_t *c = NULL;
    int rc = herald_connect(url, o, &c);
    CHECK(rc == HERALD_OK, "connect %s: %s", url, herald_strerror(rc));
    return c;
}

static bool msg_is(tl_inbox *b, size_t i, herald_sub_kind_t kind, const char *ch, const char *pat,
                   const char *payload)
{
    tl_msg *m = tl_inbox_get(b, i);
    bool ok = m && m->kind == kind && strcmp(m->channel, ch) == 0 &&
              (pat ? m->pattern && strcmp(m->pattern, pat) == 0 : m->pattern == NULL) &&
              m->payload_len == strlen(payload) && memcmp(m->payload, payload, m->payload_len) == 0;
    if (!ok && m)
        fprintf(stderr, "  message %zu: kind %d channel %s pattern %s payload %.40s\n", i, m->kind,
                m->channel, m->pattern ? m->pattern : "(null)", m->payload);
    tl_msg_free(m);
    return ok;
}

/* ---- publish / subscribe ----------------------------------------------------- */

typedef struct counter {
    pthread_mutex_t mu;
    int calls, ok;
    long long last;
} counter;

static void count_publish(herald_client_t *c, long long result, void *ud)
{
    (void)c;
    counter *k = ud;
    pthread_mutex_lock(&k->mu);
    k->calls++;
    if (result == 1) k->ok++;
    k->last = result;
    pthread_mutex_unlock(&k->mu);
}

static int counter_calls(counter *k)
{
    pthread_mutex_lock(&k->mu);
    int n = k->calls;
    pthread_mutex_unlock(&k->mu);
    return n;
}

static void echo_cb(herald_client_t *c, int status, const herald_reply_t *r, void *ud)
{
    (void)c;
    counter *k = ud;
    pthread_mutex_lock(&k->mu);
    k->calls++;
    if (status == HERALD_OK && r && r->type == HERALD_REPLY_BULK && strcmp(r->str, "hi") == 0)
        k->ok++;
    pthread_mutex_unlock(&k->mu);
}

static void test_pubsub(tl_server *s, int proto)
{
    tl_events *ev = tl_events_new();
    herald_options_t o;
    herald_options_init(&o);
    o.client_name = "t-api";
    o.on_event = tl_events_cb;
    o.event_userdata = ev;
    herald_client_t *sub = connect_opts(s->url, proto, &o);
    herald_client_t *pub = connect_opts(s->url, proto, NULL);
    if (!sub || !pub) goto out;
    CHECK(herald_is_connected(sub) == 1, "connected");

    CHECK(herald_publish(pub, "news", "nobody", 6) == 0, "publish without subscribers");

    tl_inbox *in = tl_inbox_new();
    CHECK(herald_subscribe(sub, "news", tl_inbox_cb, in) == HERALD_OK, "subscribe");
    CHECK(herald_wait_subscribed(sub, 3000) == HERALD_OK, "wait_subscribed");
    CHECK(herald_publish(pub, "news", "hello", 5) == 1, "publish to one subscriber");
    CHECK(WAIT_FOR(tl_inbox_count(in) == 1, 3000), "message arrived");
    CHECK(msg_is(in, 0, HERALD_SUB_CHANNEL, "news", NULL, "hello"), "message content");

    CHECK(herald_psubscribe(sub, "ne*", tl_inbox_cb, in) == HERALD_OK, "psubscribe");
    CHECK(herald_wait_subscribed(sub, 3000) == HERALD_OK, "wait_subscribed p");
    CHECK(herald_publish(pub, "news", "both", 4) == 2, "channel + pattern receivers");
    CHECK(WAIT_FOR(tl_inbox_count(in) == 3, 3000), "two deliveries");
    CHECK(msg_is(in, 1, HERALD_SUB_CHANNEL, "news", NULL, "both"), "message first");
    CHECK(msg_is(in, 2, HERALD_SUB_PATTERN, "news", "ne*", "both"), "pmessage second");

    CHECK(herald_ssubscribe(sub, "shard-1", tl_inbox_cb, in) == HERALD_OK, "ssubscribe");
    CHECK(herald_wait_subscribed(sub, 3000) == HERALD_OK, "wait_subscribed s");
    CHECK(herald_spublish(pub, "shard-1", "sharded", 7) == 1, "spublish");
    CHECK(WAIT_FOR(tl_inbox_count(in) == 4, 3000), "smessage arrived");
    CHECK(msg_is(in, 3, HERALD_SUB_SHARD, "shard-1", NULL, "sharded"), "smessage content");
    CHECK(tl_numsub(s->url, "shard-1", true) == 1, "SHARDNUMSUB 1");
    CHECK(tl_numsub(s->url, "news", false) == 1, "NUMSUB 1");

    /* binary-safe and large payloads */
    char bin[5] = {'a', 0, 'b', '\r', '\n'};
    CHECK(herald_publish(pub, "news", bin, sizeof(bin)) == 2, "binary publish");
    size_t big = 1 << 20;
    char *large = malloc(big);
    for (size_t i = 0; i < big; i++)
        large[i] = (char)('a' + i % 26);
    CHECK(herald_publish(pub, "other", large, big) == 0, "large publish, no receiver");
    CHECK(herald_subscribe(sub, "other", tl_inbox_cb, in) == HERALD_OK, "subscribe other");
    CHECK(herald_wait_subscribed(sub, 3000) == HERALD_OK, "wait other");
    CHECK(herald_publish(pub, "other", large, big) == 1, "large publish");
    CHECK(WAIT_FOR(tl_inbox_count(in) == 7, 3000), "binary x2 + large");
    tl_msg *m = tl_inbox_get(in, 4);
    CHECK(m && m->payload_len == 5 && memcmp(m->payload, bin, 5) == 0, "binary payload intact");
    tl_msg_free(m);
    m = tl_inbox_get(in, 6);
    CHECK(m && m->payload_len == big && memcmp(m->payload, large, big) == 0, "1 MB payload intact");
    tl_msg_free(m);
    free(large);

    /* unsubscribe */
    CHECK(herald_unsubscribe(sub, "news") == HERALD_OK, "unsubscribe");
    CHECK(herald_unsubscribe(sub, "news") == HERALD_ENOENT, "unsubscribe twice");
    CHECK(herald_punsubscribe(sub, "nope*") == HERALD_ENOENT, "punsubscribe unknown");
    CHECK(WAIT_FOR(tl_numsub(s->url, "news", false) == 0, 3000), "NUMSUB 0 after unsubscribe");
    CHECK(herald_publish(pub, "news", "p-only", 6) == 1, "only the pattern is left");
    CHECK(WAIT_FOR(tl_inbox_count(in) == 8, 3000), "pattern delivery");
    CHECK(msg_is(in, 7, HERALD_SUB_PATTERN, "news", "ne*", "p-only"), "pattern message");
    CHECK(herald_punsubscribe(sub, "ne*") == HERALD_OK, "punsubscribe");
    CHECK(herald_sunsubscribe(sub, "shard-1") == HERALD_OK, "sunsubscribe");
    CHECK(WAIT_FOR(herald_publish(pub, "news", "x", 1) == 0, 3000), "nobody left on news");
    CHECK(WAIT_FOR(tl_numsub(s->url, "shard-1", true) == 0, 3000), "SHARDNUMSUB 0");
    /* resubscribe after unsubscribe, and replacing a callback */
    CHECK(herald_subscribe(sub, "news", tl_inbox_cb, in) == HERALD_OK, "subscribe again");
    CHECK(herald_subscribe(sub, "news", tl_inbox_cb, in) == HERALD_OK, "subscribe twice");
    CHECK(herald_wait_subscribed(sub, 3000) == HERALD_OK, "wait again");
    CHECK(tl_numsub(s->url, "news", false) == 1, "subscribed once on the server");

    /* generic commands */
    herald_reply_t *r = NULL;
    const char *echo[2] = {"ECHO", "hi"};
    CHECK(herald_command(pub, 2, echo, NULL, &r) == HERALD_OK && r &&
              r->type == HERALD_REPLY_BULK && r->len == 2 && strcmp(r->str, "hi") == 0,
          "ECHO");
    herald_reply_free(r);
    const char *bad[1] = {"NOSUCHCOMMAND"};
    int rc = herald_command(pub, 1, bad, NULL, &r);
    CHECK(rc == HERALD_ESERVER && r && r->type == HERALD_REPLY_ERROR &&
              strncmp(r->str, "ERR unknown command", 19) == 0,
          "unknown command: %s", herald_strerror(rc));
    herald_reply_free(r);
    const char *subcmd[2] = {"subscribe", "x"};
    CHECK(herald_command(pub, 2, subcmd, NULL, &r) == HERALD_EINVAL && !r, "SUBSCRIBE refused");
    const char *getname[2] = {"CLIENT", "GETNAME"};
    CHECK(herald_command(sub, 2, getname, NULL, &r) == HERALD_OK && r &&
              r->type == HERALD_REPLY_BULK && strcmp(r->str, "t-api") == 0,
          "client name set");
    herald_reply_free(r);
    const char *ping[1] = {"PING"};
    CHECK(herald_command(sub, 1, ping, NULL, &r) == HERALD_OK && r && strcmp(r->str, "PONG") == 0,
          "PING on the subscribing client");
    herald_reply_free(r);
    if (proto == 3) {
        const char *hello[2] = {"HELLO", "3"};
        CHECK(herald_command(pub, 2, hello, NULL, &r) == HERALD_EINVAL, "HELLO refused");
        const char *cfg[3] = {"CONFIG", "GET", "port"};
        CHECK(herald_command(pub, 3, cfg, NULL, &r) == HERALD_OK && r &&
                  r->type == HERALD_REPLY_MAP && r->elements == 2,
              "RESP3 map reply");
        herald_reply_free(r);
    }

    /* asynchronous publish: callbacks, then fire-and-forget, then flush */
    counter k = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    tl_inbox_clear(in);
    for (int i = 0; i < 100; i++) {
        char p[16];
        int n = snprintf(p, sizeof(p), "a%d", i);
        CHECK(herald_publish_async(pub, "news", p, (size_t)n, count_publish, &k) == HERALD_OK,
              "publish_async");
    }
    for (int i = 100; i < 200; i++) {
        char p[16];
        int n = snprintf(p, sizeof(p), "a%d", i);
        CHECK(herald_publish_async(pub, "news", p, (size_t)n, NULL, NULL) == HERALD_OK,
              "fire and forget");
    }
    CHECK(herald_flush(pub, 5000) == HERALD_OK, "flush");
    CHECK(counter_calls(&k) == 100 && k.ok == 100, "100 callbacks with 1 receiver (%d, %d)",
          k.calls, k.ok);
    CHECK(WAIT_FOR(tl_inbox_count(in) == 200, 5000), "200 async messages (%zu)",
          tl_inbox_count(in));
    bool order = true;
    for (size_t i = 0; i < 200 && order; i++) {
        char p[16];
        snprintf(p, sizeof(p), "a%zu", i);
        order = msg_is(in, i, HERALD_SUB_CHANNEL, "news", NULL, p);
    }
    CHECK(order, "async messages in order");
    counter e = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    CHECK(herald_command_async(pub, 2, echo, NULL, echo_cb, &e) == HERALD_OK, "command_async");
    CHECK(herald_flush(pub, 5000) == HERALD_OK && e.calls == 1 && e.ok == 1, "async ECHO");
    counter sp = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    CHECK(herald_spublish_async(pub, "nobody", "x", 1, count_publish, &sp) == HERALD_OK,
          "spublish_async");
    CHECK(herald_flush(pub, 5000) == HERALD_OK && sp.calls == 1 && sp.last == 0,
          "spublish_async result 0");

    herald_stats_t st;
    herald_get_stats(sub, &st);
    /* a message may arrive just after an unsubscribe: read, not delivered */
    CHECK(st.messages_received >= 208 && st.messages_delivered >= 208 &&
              st.messages_delivered <= st.messages_received && st.messages_dropped == 0,
          "stats: received %llu delivered %llu", st.messages_received, st.messages_delivered);
    CHECK(tl_events_count(ev, HERALD_EVENT_CONNECTED, 0) == (proto == 2 ? 2 : 1),
          "CONNECTED events (%d)", tl_events_count(ev, HERALD_EVENT_CONNECTED, 0));
    CHECK(tl_events_count(ev, HERALD_EVENT_DISCONNECTED, 0) == 0, "no DISCONNECTED");

    herald_free(sub);
    sub = NULL;
    CHECK(WAIT_FOR(tl_numsub(s->url, "news", false) == 0, 3000), "free closes subscriptions");
    tl_inbox_free(in);
out:
    herald_free(sub);
    herald_free(pub);
    tl_events_free(ev);
}

/* ---- subscriptions made while disconnected, lazy connect ------------------------- */

static void test_offline(const char *kind, int proto)
{
    int port = tl_free_port();
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);

    herald_client_t *c = NULL;
    uint64_t t0 = tl_now_ms();
    int rc = herald_connect(url, NULL, &c);
    CHECK(rc == HERALD_ECONNECT && !c, "connect to a closed port: %s", herald_strerror(rc));
    CHECK(tl_now_ms() - t0 < 2000, "fails fast");

    tl_events *ev = tl_events_new();
    herald_options_t o;
    herald_options_init(&o);
    o.protocol = proto;
    o.lazy_connect = 1;
    o.reconnect_initial_ms = 20;
    o.reconnect_max_ms = 100;
    o.on_event = tl_events_cb;
    o.event_userdata = ev;
    rc = herald_connect(url, &o, &c);
    CHECK(rc == HERALD_OK && c, "lazy connect");
    if (!c) goto out;
    tl_inbox *in = tl_inbox_new();
    CHECK(herald_subscribe(c, "later", tl_inbox_cb, in) == HERALD_OK, "subscribe offline");
    CHECK(herald_psubscribe(c, "lat*", tl_inbox_cb, in) == HERALD_OK, "psubscribe offline");
    CHECK(herald_ssubscribe(c, "slater", tl_inbox_cb, in) == HERALD_OK, "ssubscribe offline");
    CHECK(herald_subscribe(c, "gone", tl_inbox_cb, in) == HERALD_OK, "subscribe offline 2");
    CHECK(herald_unsubscribe(c, "gone") == HERALD_OK, "unsubscribe offline");
    CHECK(herald_publish(c, "later", "x", 1) == HERALD_ENOTCONN, "publish while down");
    CHECK(herald_publish_async(c, "later", "x", 1, NULL, NULL) == HERALD_ENOTCONN,
          "async publish while down");
    CHECK(herald_wait_subscribed(c, 100) == HERALD_ETIMEOUT, "not subscribed yet");
    CHECK(herald_is_connected(c) == 0, "not connected");

    tl_server s;
    CHECK(tl_server_start(&s, kind, port, NULL) == 0, "start %s on %d", kind, port);
    CHECK(herald_wait_subscribed(c, 5000) == HERALD_OK, "subscribed on connect");
    CHECK(WAIT_FOR(tl_events_count(ev, HERALD_EVENT_RESUBSCRIBED, 0) == 1, 3000),
          "RESUBSCRIBED event");
    CHECK(WAIT_FOR(herald_is_connected(c) == 1, 3000), "connected");
    CHECK(herald_publish(c, "later", "now", 3) == 2, "channel + pattern");
    CHECK(herald_spublish(c, "slater", "s", 1) == 1, "shard");
    CHECK(herald_publish(c, "gone", "x", 1) == 0, "unsubscribed while offline");
    CHECK(WAIT_FOR(tl_inbox_count(in) == 3, 3000), "3 deliveries");
    herald_free(c);
    tl_server_stop(&s);
    tl_inbox_free(in);
out:
    tl_events_free(ev);
}

/* ---- URLs, unix sockets, db, auth ------------------------------------------------ */

static void test_urls(tl_server *s, int proto)
{
    herald_client_t *c = NULL;
    static const char *const bad[] = {"",
                                      "http://x",
                                      "redis://",
                                      "redis://host:0",
                                      "redis://host:65536",
                                      "redis://host:12x",
                                      "redis://host/x",
                                      "redis://host/1?x=1",
                                      "redis://[::1",
                                      "redis://:%zz@host",
                                      "unix://",
                                      "unix://relative",
                                      NULL};
    for (int i = 0; bad[i]; i++) {
        int rc = herald_connect(bad[i], NULL, &c);
        CHECK(rc == HERALD_EURL && !c, "bad URL '%s' -> %s", bad[i], herald_strerror(rc));
    }
    CHECK(herald_connect("rediss://127.0.0.1:1", NULL, &c) == HERALD_ENOTSUP, "TLS later");
    CHECK(herald_connect(NULL, NULL, &c) == HERALD_EINVAL, "NULL url");
    herald_options_t o;
    herald_options_init(&o);
    o.protocol = 4;
    CHECK(herald_connect(s->url, &o, &c) == HERALD_EINVAL, "bad protocol");
    herald_options_init(&o);
    o.client_name = "has space";
    CHECK(herald_connect(s->url, &o, &c) == HERALD_EINVAL, "bad client name");

    char url[256];
    snprintf(url, sizeof(url), "unix://%s", s->sock);
    c = connect_opts(url, proto, NULL);
    if (c) {
        CHECK(herald_publish(c, "x", "y", 1) == 0, "publish over a unix socket");
        herald_free(c);
    }
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/3", s->port);
    c = connect_opts(url, proto, NULL);
    if (c) {
        const char *info[2] = {"CLIENT", "INFO"};
        herald_reply_t *r = NULL;
        int rc = herald_command(c, 2, info, NULL, &r);
        CHECK(rc == HERALD_OK && r && r->str && strstr(r->str, " db=3 "), "db from the URL: %s",
              r && r->str ? r->str : herald_strerror(rc));
        herald_reply_free(r);
        herald_free(c);
    }
    snprintf(url, sizeof(url), "unix://%s?db=2", s->sock);
    c = connect_opts(url, proto, NULL);
    if (c) {
        const char *info[2] = {"CLIENT", "INFO"};
        herald_reply_t *r = NULL;
        CHECK(herald_command(c, 2, info, NULL, &r) == HERALD_OK && r && r->str &&
                  strstr(r->str, " db=2 "),
              "db from a unix URL");
        herald_reply_free(r);
        herald_free(c);
    }
}

static void test_auth(int proto)
{
    const char *extra[] = {"--requirepass", "s3cr%t", NULL};
    tl_server s;
    if (tl_server_start(&s, "redis", 0, extra) != 0) {
        CHECK(0, "start redis with requirepass");
        return;
    }
    char url[128];
    herald_client_t *c = NULL;
    herald_options_t o;
    herald_options_init(&o);
    o.protocol = proto;
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", s.port);
    int rc = herald_connect(url, &o, &c);
    if (rc == HERALD_OK) {
        /* RESP2 without AUTH: PING is refused, but the handshake (PING) got
         * an error reply -> EAUTH. */
        herald_free(c);
        c = NULL;
    }
    CHECK(rc == HERALD_EAUTH, "no password: %s", herald_strerror(rc));
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d", s.port);
    rc = herald_connect(url, &o, &c);
    CHECK(rc == HERALD_EAUTH && !c, "wrong password: %s", herald_strerror(rc));
    snprintf(url, sizeof(url), "redis://default:s3cr%%25t@127.0.0.1:%d", s.port);
    tl_events *ev = tl_events_new();
    o.on_event = tl_events_cb;
    o.event_userdata = ev;
    o.reconnect_initial_ms = 20;
    o.client_name = "authed";
    rc = herald_connect(url, &o, &c);
    CHECK(rc == HERALD_OK, "user:password: %s", herald_strerror(rc));
    if (c) {
        tl_inbox *in = tl_inbox_new();
        herald_subscribe(c, "sec", tl_inbox_cb, in);
        CHECK(herald_wait_subscribed(c, 3000) == HERALD_OK, "subscribed with auth");
        /* kill every connection: AUTH and SETNAME must be replayed */
        herald_client_t *admin = NULL;
        CHECK(herald_connect(url, NULL, &admin) == HERALD_OK, "admin");
        if (admin) {
            const char *kill[4] = {"CLIENT", "KILL", "SKIPME", "yes"};
            herald_reply_t *r = NULL;
            int before = tl_events_count(ev, HERALD_EVENT_RESUBSCRIBED, 0);
            CHECK(herald_command(admin, 4, kill, NULL, &r) == HERALD_OK, "CLIENT KILL");
            herald_reply_free(r);
            CHECK(WAIT_FOR(tl_events_count(ev, HERALD_EVENT_RESUBSCRIBED, 0) > before, 5000),
                  "resubscribed after kill");
            CHECK(herald_wait_subscribed(c, 3000) == HERALD_OK, "subscribed again");
            CHECK(WAIT_FOR(herald_publish(admin, "sec", "x", 1) == 1, 3000), "one receiver");
            CHECK(WAIT_FOR(tl_inbox_count(in) >= 1, 3000), "received after re-AUTH");
            const char *list[2] = {"CLIENT", "LIST"};
            CHECK(herald_command(admin, 2, list, NULL, &r) == HERALD_OK && r && r->str &&
                      strstr(r->str, "name=authed"),
                  "name replayed");
            herald_reply_free(r);
            herald_free(admin);
        }
        herald_free(c);
        tl_inbox_free(in);
    }
    tl_events_free(ev);
    tl_server_stop(&s);
}

/* ---- RESP3 pushes (client tracking) ------------------------------------------------ */

typedef struct pushes {
    pthread_mutex_t mu;
    int invalidations;
} pushes;

static void on_push(herald_client_t *c, const herald_reply_t *p, void *ud)
{
    (void)c;
    pushes *x = ud;
    if (p->type == HERALD_REPLY_PUSH && p->elements == 2 && p->element[0]->str &&
        strcmp(p->element[0]->str, "invalidate") == 0) {
        pthread_mutex_lock(&x->mu);
        x->invalidations++;
        pthread_mutex_unlock(&x->mu);
    }
}

static int invalidations(pushes *x)
{
    pthread_mutex_lock(&x->mu);
    int n = x->invalidations;
    pthread_mutex_unlock(&x->mu);
    return n;
}

static void test_push(tl_server *s)
{
    pushes x = {PTHREAD_MUTEX_INITIALIZER, 0};
    herald_options_t o;
    herald_options_init(&o);
    o.on_push = on_push;
    o.push_userdata = &x;
    herald_client_t *c = connect_opts(s->url, 3, &o);
    herald_client_t *w = connect_opts(s->url, 3, NULL);
    if (c && w) {
        herald_reply_t *r = NULL;
        const char *on[3] = {"CLIENT", "TRACKING", "ON"};
        CHECK(herald_command(c, 3, on, NULL, &r) == HERALD_OK, "CLIENT TRACKING ON");
        herald_reply_free(r);
        const char *get[2] = {"GET", "k"};
        CHECK(herald_command(c, 2, get, NULL, &r) == HERALD_OK, "GET");
        herald_reply_free(r);
        const char *set[3] = {"SET", "k", "v"};
        CHECK(herald_command(w, 3, set, NULL, &r) == HERALD_OK, "SET");
        herald_reply_free(r);
        CHECK(WAIT_FOR(invalidations(&x) == 1, 3000), "invalidate push delivered");
        herald_stats_t st;
        herald_get_stats(c, &st);
        CHECK(st.pushes_received == 1, "pushes counted");
    }
    herald_free(c);
    herald_free(w);
}

/* ---- external loop -------------------------------------------------------------------- */

static void test_external(tl_server *s, int proto)
{
    herald_options_t o;
    herald_options_init(&o);
    o.io_mode = HERALD_IO_EXTERNAL;
    o.health_interval_ms = 100;
    herald_client_t *c = connect_opts(s->url, proto, &o); /* drives its own I/O */
    herald_client_t *pub = connect_opts(s->url, proto, NULL);
    if (c && pub) {
        CHECK(herald_fd(c) >= 0, "fd");
        tl_inbox *in = tl_inbox_new();
        herald_subscribe(c, "ext", tl_inbox_cb, in);
        /* the application's loop */
        uint64_t end = tl_now_ms() + 3000;
        bool published = false;
        while (tl_now_ms() < end && tl_inbox_count(in) < 1) {
            struct pollfd p = {herald_fd(c), POLLIN, 0};
            int t = herald_timeout_ms(c);
            poll(&p, 1, t < 0 || t > 50 ? 50 : t);
            CHECK(herald_process(c) == HERALD_OK, "process");
            if (!published && herald_wait_subscribed(c, 0) == HERALD_OK) {
                published = herald_publish(pub, "ext", "loop", 4) == 1;
            }
        }
        CHECK(published && tl_inbox_count(in) == 1, "message through the external loop");
        /* a blocking call from the loop's own thread drives the I/O itself */
        CHECK(herald_publish(c, "ext", "self", 4) == 1, "blocking call in external mode");
        CHECK(WAIT_FOR((herald_process(c), tl_inbox_count(in) == 2), 3000), "self delivery");
        CHECK(herald_timeout_ms(c) >= 0 && herald_timeout_ms(c) <= 1000, "timeout bounded");
        /* idle: the health check runs from herald_process() too */
        uint64_t idle_end = tl_now_ms() + 400;
        while (tl_now_ms() < idle_end) {
            struct pollfd p = {herald_fd(c), POLLIN, 0};
            int t = herald_timeout_ms(c);
            poll(&p, 1, t < 0 || t > 50 ? 50 : t);
            herald_process(c);
        }
        herald_stats_t st;
        herald_get_stats(c, &st);
        CHECK(st.disconnects == 0, "still connected after idling");
        CHECK(herald_process(pub) == HERALD_EINVAL, "process in thread mode");
        herald_free(c);
        c = NULL;
        tl_inbox_free(in);
    }
    herald_free(c);
    herald_free(pub);
}

/* ---- herald_free from a callback -------------------------------------------------------- */

static pthread_mutex_t self_mu = PTHREAD_MUTEX_INITIALIZER;
static int self_freed;

static void free_in_cb(herald_client_t *c, const herald_message_t *m, void *ud)
{
    (void)m;
    (void)ud;
    herald_free(c);
    pthread_mutex_lock(&self_mu);
    self_freed = 1;
    pthread_mutex_unlock(&self_mu);
}

static int get_self_freed(void)
{
    pthread_mutex_lock(&self_mu);
    int v = self_freed;
    pthread_mutex_unlock(&self_mu);
    return v;
}

static void test_free_in_callback(tl_server *s, int proto)
{
    self_freed = 0;
    herald_client_t *c = connect_opts(s->url, proto, NULL);
    herald_client_t *pub = connect_opts(s->url, proto, NULL);
    if (c && pub) {
        herald_subscribe(c, "bye", free_in_cb, NULL);
        CHECK(herald_wait_subscribed(c, 3000) == HERALD_OK, "subscribed");
        CHECK(herald_publish(pub, "bye", "x", 1) == 1, "publish");
        CHECK(WAIT_FOR(get_self_freed() == 1, 3000), "freed from its callback");
        CHECK(WAIT_FOR(tl_numsub(s->url, "bye", false) == 0, 3000), "connection closed");
    }
    herald_free(pub);
}

static void test_strerror(void)
{
    int seen = 0;
#define T(name, value, text)                                                                       \
    CHECK(strcmp(herald_strerror(value), text) == 0, #name);                                       \
    seen++;
    HERALD_ERRORS(T)
#undef T
    CHECK(seen >= 14, "error table");
    CHECK(strcmp(herald_strerror(12345), "unknown error") == 0, "unknown code");
}

/* One server kind and protocol; AUTH replay and invalidate pushes need
 * redis-server (herald has no AUTH or client tracking yet). */
static void api_suite(tl_server *s, const char *kind, int proto)
{
    bool redis = strcmp(kind, "redis") == 0;
    test_pubsub(s, proto);
    test_urls(s, proto);
    test_external(s, proto);
    test_free_in_callback(s, proto);
    test_offline(kind, proto);
    if (redis) test_auth(proto);
    if (redis && proto == 3) test_push(s);
}

int main(void)
{
    test_strerror();
    tl_run_matrix(api_suite, true);
    return tl_report("client_api");
}
