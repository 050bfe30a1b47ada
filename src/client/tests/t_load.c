/*
 * t_load.c - libherald under load, against herald-server and redis-server,
 * RESP2 and RESP3:
 *  - 8 threads publish at once through one client (half blocking, half
 *    pipelined fire-and-forget): a live subscriber gets every message and
 *    each publisher's messages in its order;
 *  - a message callback that blocks: with DROP_OLDEST the queue stays at
 *    queue_max, the I/O thread keeps serving commands and exactly the
 *    overflow is dropped and counted (the newest messages survive); with
 *    BACKPRESSURE the subscriber connection stops being read and every
 *    message arrives, in order, once the callback unblocks.
 */
#include "testlib.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8
#define PER_THREAD 2000

typedef struct tally {
    pthread_mutex_t mu;
    long last[THREADS];
    long count[THREADS];
    long total;
    long disorder;
} tally;

static void tally_cb(herald_client_t *c, const herald_message_t *m, void *ud)
{
    (void)c;
    tally *t = ud;
    int id = -1;
    long seq = -1;
    if (sscanf(m->payload, "t%d:%ld", &id, &seq) != 2 || id < 0 || id >= THREADS) return;
    pthread_mutex_lock(&t->mu);
    if (seq != t->last[id] + 1) t->disorder++;
    t->last[id] = seq;
    t->count[id]++;
    t->total++;
    pthread_mutex_unlock(&t->mu);
}

static long tally_total(tally *t)
{
    pthread_mutex_lock(&t->mu);
    long n = t->total;
    pthread_mutex_unlock(&t->mu);
    return n;
}

typedef struct pubarg {
    herald_client_t *pub;
    int id;
    int errors;
} pubarg;

static void *publisher(void *arg)
{
    pubarg *a = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char p[32];
        int n = snprintf(p, sizeof(p), "t%d:%d", a->id, i);
        if (a->id < THREADS / 2) {
            if (herald_publish(a->pub, "load", p, (size_t)n) != 1) a->errors++;
        } else {
            if (herald_publish_async(a->pub, "load", p, (size_t)n, NULL, NULL) != HERALD_OK)
                a->errors++;
        }
    }
    return NULL;
}

static void test_threads(tl_server *s, int proto)
{
    tally t;
    memset(&t, 0, sizeof(t));
    pthread_mutex_init(&t.mu, NULL);
    for (int i = 0; i < THREADS; i++)
        t.last[i] = -1;
    herald_options_t o;
    herald_options_init(&o);
    o.protocol = proto;
    o.overflow = HERALD_OVERFLOW_BACKPRESSURE;
    o.queue_max = 1000;
    herald_client_t *sub = NULL, *pub = NULL;
    CHECK(herald_connect(s->url, &o, &sub) == HERALD_OK, "sub");
    herald_options_init(&o);
    o.protocol = proto;
    CHECK(herald_connect(s->url, &o, &pub) == HERALD_OK, "pub");
    if (!sub || !pub) goto out;
    herald_subscribe(sub, "load", tally_cb, &t);
    CHECK(herald_wait_subscribed(sub, 3000) == HERALD_OK, "subscribed");
    pthread_t th[THREADS];
    pubarg args[THREADS];
    uint64_t t0 = tl_now_ms();
    for (int i = 0; i < THREADS; i++) {
        args[i] = (pubarg){pub, i, 0};
        pthread_create(&th[i], NULL, publisher, &args[i]);
    }
    int errors = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        errors += args[i].errors;
    }
    CHECK(errors == 0, "publish errors: %d", errors);
    CHECK(herald_flush(pub, 10000) == HERALD_OK, "flush");
    CHECK(WAIT_FOR(tally_total(&t) == THREADS * PER_THREAD, 20000), "all %d received (%ld)",
          THREADS * PER_THREAD, tally_total(&t));
    printf("  %s: %d messages from %d threads in %llu ms\n", tl_context, THREADS * PER_THREAD,
           THREADS, (unsigned long long)(tl_now_ms() - t0));
    pthread_mutex_lock(&t.mu);
    CHECK(t.disorder == 0, "per-publisher order kept (%ld out of order)", t.disorder);
    for (int i = 0; i < THREADS; i++)
        CHECK(t.count[i] == PER_THREAD, "thread %d: %ld messages", i, t.count[i]);
    pthread_mutex_unlock(&t.mu);
    herald_stats_t st;
    herald_get_stats(sub, &st);
    CHECK(st.messages_dropped == 0, "nothing dropped");
out:
    herald_free(sub);
    herald_free(pub);
    pthread_mutex_destroy(&t.mu);
}

/* ---- a callback that blocks ------------------------------------------------------- */

#define BURST 3000
#define QMAX 100

typedef struct blocker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool release;
    bool blocked;
    long *seqs;
    size_t n;
} blocker;

static void blocking_cb(herald_client_t *c, const herald_message_t *m, void *ud)
{
    (void)c;
    blocker *b = ud;
    pthread_mutex_lock(&b->mu);
    b->seqs[b->n++] = strtol(m->payload, NULL, 10);
    if (b->n == 1) {
        b->blocked = true;
        pthread_cond_broadcast(&b->cv);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 15; /* bounded */
        while (!b->release)
            if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) != 0) break;
    }
    pthread_mutex_unlock(&b->mu);
}

static size_t blocker_n(blocker *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->n;
    pthread_mutex_unlock(&b->mu);
    return n;
}

static void blocker_release(blocker *b)
{
    pthread_mutex_lock(&b->mu);
    b->release = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static herald_stats_t stats(herald_client_t *c)
{
    herald_stats_t st;
    herald_get_stats(c, &st);
    return st;
}

static bool ping(herald_client_t *c)
{
    const char *argv[1] = {"PING"};
    herald_reply_t *r = NULL;
    int rc = herald_command(c, 1, argv, NULL, &r);
    herald_reply_free(r);
    return rc == HERALD_OK;
}

static void test_blocking_cb(tl_server *s, int proto, herald_overflow_t policy)
{
    blocker b;
    memset(&b, 0, sizeof(b));
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    b.seqs = calloc(BURST, sizeof(long));
    herald_options_t o;
    herald_options_init(&o);
    o.protocol = proto;
    o.overflow = policy;
    o.queue_max = QMAX;
    o.health_interval_ms = 100;
    o.health_timeout_ms = 500;
    herald_client_t *sub = NULL, *pub = NULL;
    CHECK(herald_connect(s->url, &o, &sub) == HERALD_OK, "sub");
    herald_options_init(&o);
    o.protocol = proto;
    CHECK(herald_connect(s->url, &o, &pub) == HERALD_OK, "pub");
    if (!sub || !pub) goto out;
    herald_subscribe(sub, "burst", blocking_cb, &b);
    CHECK(herald_wait_subscribed(sub, 3000) == HERALD_OK, "subscribed");
    for (int i = 0; i < BURST; i++) {
        char p[16];
        int n = snprintf(p, sizeof(p), "%d", i);
        herald_publish_async(pub, "burst", p, (size_t)n, NULL, NULL);
    }
    CHECK(herald_flush(pub, 5000) == HERALD_OK, "published");
    CHECK(WAIT_FOR(blocker_n(&b) == 1, 3000), "first callback runs (and blocks)");

    if (policy == HERALD_OVERFLOW_DROP_OLDEST) {
        CHECK(WAIT_FOR(stats(sub).messages_received == BURST, 5000), "all read (%llu)",
              stats(sub).messages_received);
        herald_stats_t st = stats(sub);
        /* One message is in the blocked callback, up to QMAX wait: which one
         * the delivery thread popped first depends on timing. */
        CHECK(st.queue_length >= QMAX - 1 && st.queue_length <= QMAX, "queue full at %llu",
              st.queue_length);
        CHECK(st.queue_peak <= QMAX, "peak %llu <= queue_max", st.queue_peak);
        CHECK(st.messages_dropped >= BURST - QMAX - 1 && st.messages_dropped <= BURST - QMAX,
              "dropped %llu", st.messages_dropped);
        CHECK(ping(sub), "the I/O thread still serves commands");
        tl_sleep_ms(700);
        CHECK(stats(sub).disconnects == 0, "health check unaffected by the slow callback");
        size_t expect = BURST - (size_t)st.messages_dropped;
        blocker_release(&b);
        CHECK(WAIT_FOR(blocker_n(&b) == expect, 3000), "queue drained (%zu)", blocker_n(&b));
        tl_sleep_ms(50);
        pthread_mutex_lock(&b.mu);
        bool newest = b.n >= QMAX;
        for (size_t i = 0; newest && i < QMAX; i++)
            newest = b.seqs[b.n - QMAX + i] == (long)(BURST - QMAX + i);
        CHECK(newest, "the oldest were dropped, the newest delivered: n %zu, seqs %ld %ld .. %ld",
              b.n, b.seqs[0], b.seqs[1], b.seqs[b.n - 1]);
        pthread_mutex_unlock(&b.mu);
        st = stats(sub);
        CHECK(st.messages_delivered == expect &&
                  st.messages_delivered + st.messages_dropped == BURST,
              "delivered %llu + dropped %llu", st.messages_delivered, st.messages_dropped);
    } else {
        tl_sleep_ms(300);
        herald_stats_t st = stats(sub);
        CHECK(st.backpressure_pauses >= 1, "paused");
        CHECK(st.queue_length <= QMAX, "queue bounded (%llu)", st.queue_length);
        CHECK(st.messages_received < BURST, "reading stopped (%llu read)", st.messages_received);
        CHECK(st.messages_dropped == 0, "nothing dropped");
        if (proto == 2) CHECK(ping(sub), "RESP2: the command connection is not paused");
        tl_sleep_ms(700);
        CHECK(stats(sub).disconnects == 0, "no health-check disconnect while paused");
        blocker_release(&b);
        CHECK(WAIT_FOR(blocker_n(&b) == BURST, 10000), "every message delivered (%zu)",
              blocker_n(&b));
        bool ordered = true;
        for (size_t i = 0; i < b.n && ordered; i++)
            ordered = b.seqs[i] == (long)i;
        CHECK(ordered, "in order");
        st = stats(sub);
        CHECK(st.messages_dropped == 0 && st.messages_delivered == BURST, "no drops");
        CHECK(ping(sub), "commands after resuming");
    }
out:
    blocker_release(&b);
    herald_free(sub);
    herald_free(pub);
    free(b.seqs);
    pthread_cond_destroy(&b.cv);
    pthread_mutex_destroy(&b.mu);
}

static void load_suite(tl_server *s, const char *kind, int proto)
{
    (void)kind;
    test_threads(s, proto);
    test_blocking_cb(s, proto, HERALD_OVERFLOW_DROP_OLDEST);
    test_blocking_cb(s, proto, HERALD_OVERFLOW_BACKPRESSURE);
}

int main(void)
{
    tl_run_matrix(load_suite, true);
    return tl_report("client_load");
}
