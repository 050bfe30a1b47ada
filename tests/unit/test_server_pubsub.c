/* test_server_pubsub.c - the subscription registry and fan-out: counts,
 * namespaces, frame sharing, exact frame bytes, delivery order, and the
 * literal-prefix pattern index checked against brute-force glob matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "glob.h"
#include "pubsub.h"

typedef struct fixture {
    hr_server *s;
    hr_conn *conns[8];
} fixture;

static hr_conn *mkconn(hr_server *s, int resp)
{
    hr_conn *c = calloc(1, sizeof(*c));
    c->srv = s;
    c->fd = -1;
    c->resp = resp;
    hr_outq_init(&c->out);
    hr_dict_init(&c->channels);
    hr_dict_init(&c->patterns);
    hr_dict_init(&c->shard_channels);
    return c;
}

static void freeconn(hr_server *s, hr_conn *c)
{
    hr_pubsub_unsubscribe_all(s, c);
    hr_outq_release(&c->out);
    free(c);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->s = calloc(1, sizeof(hr_server));
    hr_config_defaults(&f->s->cfg);
    f->s->loop = hr_loop_new(64);
    f->s->pubsub = hr_pubsub_new();
    for (int i = 0; i < 8; i++) f->conns[i] = mkconn(f->s, i == 2 ? 3 : 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 8; i++) freeconn(f->s, f->conns[i]);
    hr_pubsub_free(f->s->pubsub);
    hr_loop_free(f->s->loop);
    hr_config_release(&f->s->cfg);
    free(f->s);
    free(f);
    return 0;
}

/* Concatenates everything queued on c (frames and replies) into out. */
static size_t queued(hr_conn *c, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < c->out.count; i++) {
        hr_outq_entry *e = &c->out.ring[(c->out.head + i) & (c->out.cap - 1)];
        const char *base = e->frame ? e->frame->data : c->out.rbuf.data;
        assert_true(n + e->len <= cap);
        memcpy(out + n, base + e->off, e->len);
        n += e->len;
    }
    return n;
}

static hr_frame *frame_at(hr_conn *c, size_t i)
{
    return c->out.ring[(c->out.head + i) & (c->out.cap - 1)].frame;
}

static void test_subscribe_counts(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    hr_conn *a = f->conns[0], *b = f->conns[1];
    assert_int_equal(hr_pubsub_subscribe(s, a, HR_PS_CHANNEL, "ch", 2), 1);
    assert_int_equal(hr_pubsub_subscribe(s, a, HR_PS_CHANNEL, "ch", 2), 0); /* duplicate */
    assert_int_equal(hr_pubsub_subscribe(s, b, HR_PS_CHANNEL, "ch", 2), 1);
    assert_int_equal(hr_pubsub_subscribe(s, a, HR_PS_SHARD, "ch", 2), 1);
    assert_int_equal(hr_pubsub_numsub(s, HR_PS_CHANNEL, "ch", 2), 2);
    assert_int_equal(hr_pubsub_numsub(s, HR_PS_SHARD, "ch", 2), 1);
    assert_int_equal(hr_pubsub_count(s, HR_PS_CHANNEL), 1);
    assert_int_equal(hr_pubsub_unsubscribe(s, a, HR_PS_CHANNEL, "ch", 2), 1);
    assert_int_equal(hr_pubsub_unsubscribe(s, a, HR_PS_CHANNEL, "ch", 2), 0);
    assert_int_equal(hr_pubsub_numsub(s, HR_PS_CHANNEL, "ch", 2), 1);
    hr_pubsub_unsubscribe_all(s, b);
    assert_int_equal(hr_pubsub_count(s, HR_PS_CHANNEL), 0);
    assert_int_equal(hr_pubsub_count(s, HR_PS_SHARD), 1);
}

static void test_publish_shares_frames(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    hr_conn *a = f->conns[0], *b = f->conns[1], *c3 = f->conns[2];
    hr_pubsub_subscribe(s, a, HR_PS_CHANNEL, "news", 4);
    hr_pubsub_subscribe(s, b, HR_PS_CHANNEL, "news", 4);
    hr_pubsub_subscribe(s, c3, HR_PS_CHANNEL, "news", 4);
    assert_int_equal(hr_pubsub_publish(s, HR_PS_CHANNEL, "news", 4, "hi\0x", 4), 3);
    /* One RESP2 frame shared by a and b (a range of the RESP2 message slab,
     * which holds a reference of its own); c3 gets the RESP3 push. */
    assert_int_equal(a->out.count, 1);
    assert_ptr_equal(frame_at(a, 0), frame_at(b, 0));
    assert_ptr_not_equal(frame_at(a, 0), frame_at(c3, 0));
    assert_int_equal(frame_at(a, 0)->refcnt, 3);
    char buf[256];
    static const char r2[] = "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$4\r\nhi\0x\r\n";
    static const char r3[] = ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$4\r\nhi\0x\r\n";
    assert_int_equal(queued(a, buf, sizeof(buf)), sizeof(r2) - 1);
    assert_memory_equal(buf, r2, sizeof(r2) - 1);
    assert_int_equal(queued(c3, buf, sizeof(buf)), sizeof(r3) - 1);
    assert_memory_equal(buf, r3, sizeof(r3) - 1);
    /* No subscribers: nothing delivered, 0 receivers. */
    assert_int_equal(hr_pubsub_publish(s, HR_PS_CHANNEL, "other", 5, "x", 1), 0);
    /* Sharded channels are their own namespace. */
    assert_int_equal(hr_pubsub_publish(s, HR_PS_SHARD, "news", 4, "x", 1), 0);
}

static void test_channel_then_patterns(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    hr_conn *a = f->conns[0];
    hr_pubsub_subscribe(s, a, HR_PS_PATTERN, "n*", 2);
    hr_pubsub_subscribe(s, a, HR_PS_CHANNEL, "news", 4);
    assert_int_equal(hr_pubsub_publish(s, HR_PS_CHANNEL, "news", 4, "m", 1), 2);
    char buf[256];
    size_t n = queued(a, buf, sizeof(buf));
    static const char want[] = "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$1\r\nm\r\n"
                               "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$1\r\nm\r\n";
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(buf, want, n);
    /* Shard publish never reaches patterns. */
    hr_pubsub_subscribe(s, f->conns[1], HR_PS_PATTERN, "*", 1);
    assert_int_equal(hr_pubsub_publish(s, HR_PS_SHARD, "news", 4, "m", 1), 0);
}

static void rand_str(char *out, size_t len, const char *alpha)
{
    size_t an = strlen(alpha);
    for (size_t i = 0; i < len; i++) out[i] = alpha[(size_t)rand() % an];
    out[len] = '\0';
}

/* Publishes to random channels and checks each receiver count against a
 * brute-force glob match of every subscribed pattern. */
static void check_against_brute_force(fixture *f, int npub)
{
    hr_server *s = f->s;
    for (int k = 0; k < npub; k++) {
        char ch[16];
        rand_str(ch, (size_t)(rand() % 10), "ab.*?[]");
        long long expect = 0;
        for (int c = 0; c < 8; c++) {
            hr_dict_iter it;
            hr_dict_iter_init(&it, &f->conns[c]->patterns);
            for (hr_dict_entry *e; (e = hr_dict_next(&it));)
                if (hr_glob_match(e->key, e->klen, ch, strlen(ch), false)) expect++;
            hr_dict_iter_done(&it);
        }
        assert_int_equal(hr_pubsub_publish(s, HR_PS_CHANNEL, ch, strlen(ch), "p", 1), expect);
        for (int c = 0; c < 8; c++) {
            hr_outq_release(&f->conns[c]->out);
            hr_outq_init(&f->conns[c]->out);
        }
    }
}

/* The prefix index and the per-channel match cache must deliver exactly
 * what a scan of every pattern would, also after the pattern set changes. */
static void test_pattern_index_matches_brute_force(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    srand(12345);
    enum { NPAT = 400 };
    static char pats[NPAT][12];
    for (int i = 0; i < NPAT; i++) {
        rand_str(pats[i], (size_t)(1 + rand() % 8), "ab.*?[]^\\-");
        hr_pubsub_subscribe(s, f->conns[i % 8], HR_PS_PATTERN, pats[i], strlen(pats[i]));
    }
    assert_true(hr_pubsub_pattern_buckets(s) > 1);
    check_against_brute_force(f, 3000);
    /* Drop every other pattern, add new ones: cached matches must not be
     * reused for the old pattern set. */
    for (int i = 0; i < NPAT; i += 2)
        hr_pubsub_unsubscribe(s, f->conns[i % 8], HR_PS_PATTERN, pats[i], strlen(pats[i]));
    for (int i = 0; i < NPAT / 4; i++) {
        char p[12];
        rand_str(p, (size_t)(1 + rand() % 6), "ab*?");
        hr_pubsub_subscribe(s, f->conns[i % 8], HR_PS_PATTERN, p, strlen(p));
    }
    check_against_brute_force(f, 3000);
    /* The index shrinks back to nothing when the patterns go away. */
    for (int c = 0; c < 8; c++) hr_pubsub_unsubscribe_all(s, f->conns[c]);
    assert_int_equal(hr_pubsub_pattern_buckets(s), 0);
    assert_int_equal(hr_pubsub_count(s, HR_PS_PATTERN), 0);
    check_against_brute_force(f, 100);
}

/* Unsubscribing in any order keeps delivery in subscription order and the
 * counts right (removal leaves tombstones that are compacted away), and is
 * fast enough that mass disconnection is not quadratic. */
static void test_unsubscribe_keeps_order(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    enum { N = 1000 };
    hr_conn **cs = calloc(N, sizeof(*cs));
    for (int i = 0; i < N; i++) {
        cs[i] = mkconn(s, 2);
        cs[i]->id = (uint64_t)i;
        assert_int_equal(hr_pubsub_subscribe(s, cs[i], HR_PS_CHANNEL, "ch", 2), 1);
    }
    /* remove 900 in a random order, checking the count as we go */
    int *order = malloc(N * sizeof(int));
    for (int i = 0; i < N; i++) order[i] = i;
    srand(7);
    for (int i = N - 1; i > 0; i--) {
        int j = rand() % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    char *gone = calloc(N, 1);
    for (int k = 0; k < 900; k++) {
        assert_int_equal(hr_pubsub_unsubscribe(s, cs[order[k]], HR_PS_CHANNEL, "ch", 2), 1);
        gone[order[k]] = 1;
        assert_int_equal(hr_pubsub_numsub(s, HR_PS_CHANNEL, "ch", 2), N - 1 - k);
        if (k % 97 == 0) {
            /* the survivors, and only they, receive */
            assert_int_equal(hr_pubsub_publish(s, HR_PS_CHANNEL, "ch", 2, "m", 1), N - 1 - k);
            for (int i = 0; i < N; i++) {
                assert_int_equal(cs[i]->out.count, gone[i] ? 0 : 1);
                hr_outq_release(&cs[i]->out);
                hr_outq_init(&cs[i]->out);
            }
        }
    }
    /* subscription order is kept: the registry lists survivors by id */
    hr_subscribers *subs = hr_dict_get(hr_pubsub_dict(s, HR_PS_CHANNEL), "ch", 2);
    uint64_t last = 0;
    size_t live = 0;
    for (size_t i = 0; i < subs->n; i++) {
        if (!subs->conns[i]) continue;
        assert_true(live == 0 || subs->conns[i]->id > last);
        last = subs->conns[i]->id;
        live++;
    }
    assert_int_equal(live, 100);
    for (int i = 0; i < N; i++) freeconn(s, cs[i]);
    assert_int_equal(hr_pubsub_count(s, HR_PS_CHANNEL), 0);
    /* 100,000 subscribers of one channel leaving one by one: linear, not
     * quadratic (a memmove per removal moves about 40 GB here). */
    enum { BIG = 100000 };
    hr_conn **many = calloc(BIG, sizeof(*many));
    for (int i = 0; i < BIG; i++) {
        many[i] = mkconn(s, 2);
        hr_pubsub_subscribe(s, many[i], HR_PS_CHANNEL, "big", 3);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < BIG; i++) freeconn(s, many[i]);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(secs < 2.0);
    assert_int_equal(hr_pubsub_count(s, HR_PS_CHANNEL), 0);
    free(many);
    free(cs);
    free(order);
    free(gone);
}

/* A subscriber over its hard output limit is scheduled to close; others are
 * unaffected and the publish still counts it as a receiver. */
static void test_output_limit(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    /* Each 5000-byte message is a 5033-byte frame of its own (too big for a
     * slab), charged with its queue entry and frame header: 3 fit under
     * 15500 bytes, the 4th does not. */
    s->cfg.obl[HR_OBL_PUBSUB] = (hr_obl){15500, 0, 0};
    hr_server_limits_changed(s);
    hr_conn *slow = f->conns[0], *ok = f->conns[1];
    hr_pubsub_subscribe(s, slow, HR_PS_CHANNEL, "c", 1);
    hr_pubsub_subscribe(s, ok, HR_PS_CHANNEL, "c", 1);
    char payload[5000];
    memset(payload, 'x', sizeof(payload));
    for (int i = 0; i < 3; i++)
        assert_int_equal(hr_pubsub_publish(s, HR_PS_CHANNEL, "c", 1, payload, sizeof(payload)), 2);
    assert_false(slow->flags & HR_CONN_CLOSE_ASAP);
    assert_int_equal(slow->out.bytes, 3 * 5033);
    assert_int_equal(hr_conn_output_size(slow),
                     3 * (5033 + sizeof(hr_outq_entry) + sizeof(hr_frame)));
    /* drain "ok" so only "slow" keeps a backlog */
    hr_outq_release(&ok->out);
    hr_outq_init(&ok->out);
    assert_int_equal(hr_pubsub_publish(s, HR_PS_CHANNEL, "c", 1, payload, sizeof(payload)), 2);
    assert_true(slow->flags & HR_CONN_CLOSE_ASAP);
    assert_false(ok->flags & HR_CONN_CLOSE_ASAP);
    assert_int_equal(s->stats.client_obl_disconnections, 1);
    size_t before = slow->out.bytes;
    assert_int_equal(hr_pubsub_publish(s, HR_PS_CHANNEL, "c", 1, "y", 1), 2);
    assert_int_equal(slow->out.bytes, before); /* nothing more queued for it */
    s->pending_writes = NULL;
    slow->flags &= ~(HR_CONN_CLOSE_ASAP | HR_CONN_PENDING_WRITE);
    ok->flags &= ~HR_CONN_PENDING_WRITE;
}

/* Consecutive messages to one channel are consecutive bytes of one slab:
 * each subscriber holds them as a single range (one iovec), whatever its
 * protocol; a pattern subscriber's pmessages form their own run. */
static void test_batch_is_one_range(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    hr_conn *a = f->conns[0], *b = f->conns[1], *c3 = f->conns[2];
    hr_pubsub_subscribe(s, a, HR_PS_CHANNEL, "ch", 2);
    hr_pubsub_subscribe(s, b, HR_PS_PATTERN, "c*", 2);
    hr_pubsub_subscribe(s, c3, HR_PS_CHANNEL, "ch", 2);
    char want2[4096], want3[4096], wantp[4096], got[4096];
    size_t n2 = 0, n3 = 0, np = 0;
    for (int i = 0; i < 50; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof(msg), "msg-%d", i);
        assert_int_equal(hr_pubsub_publish(s, HR_PS_CHANNEL, "ch", 2, msg, (size_t)n), 3);
        n2 += (size_t)snprintf(want2 + n2, sizeof(want2) - n2,
                               "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$%d\r\n%s\r\n", n, msg);
        n3 += (size_t)snprintf(want3 + n3, sizeof(want3) - n3,
                               ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$%d\r\n%s\r\n", n, msg);
        np += (size_t)snprintf(wantp + np, sizeof(wantp) - np,
                               "*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$%d\r\n%s\r\n",
                               n, msg);
    }
    assert_int_equal(a->out.count, 1);
    assert_int_equal(b->out.count, 1);
    assert_int_equal(c3->out.count, 1);
    assert_int_equal(queued(a, got, sizeof(got)), n2);
    assert_memory_equal(got, want2, n2);
    assert_int_equal(queued(c3, got, sizeof(got)), n3);
    assert_memory_equal(got, want3, n3);
    assert_int_equal(queued(b, got, sizeof(got)), np);
    assert_memory_equal(got, wantp, np);
    /* charged for the slab it keeps alive, not per message */
    assert_int_equal(a->out.slab_bytes, n2);
    assert_true(hr_conn_output_size(a) <= 16 * 1024 + 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_subscribe_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_shares_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_channel_then_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pattern_index_matches_brute_force, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsubscribe_keeps_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_is_one_range, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
