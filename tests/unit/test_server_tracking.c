/* test_server_tracking.c - client-side caching: what the tracking table
 * remembers (readonly commands only, OPTIN / OPTOUT / CLIENT CACHING rules,
 * the flag's lifetime across commands and transactions), who gets an
 * invalidation and in which exact bytes (RESP3 push, RESP2 redirect message,
 * broken redirect, NOLOOP, closed or switched connections), BCAST prefixes
 * (matching, per-prefix batches in key order, NOLOOP filtering, overlap
 * errors), FLUSH's null invalidation, tracking-table-max-keys, and the
 * counters. Connections are in-memory (no socket): the test reads what was
 * queued on them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cmds.h"
#include "server_int.h"
#include "tracking.h"

#define NCONN 6

typedef struct fixture {
    hr_server *s;
    hr_conn *c[NCONN];
} fixture;

static hr_conn *mkconn(hr_server *s, uint64_t id, int resp)
{
    hr_conn *c = calloc(1, sizeof(*c));
    c->srv = s;
    c->fd = -1;
    c->id = id;
    c->resp = resp;
    hr_outq_init(&c->out);
    hr_dict_init(&c->channels);
    hr_dict_init(&c->patterns);
    hr_dict_init(&c->shard_channels);
    c->prev = s->clients_tail;
    if (s->clients_tail)
        s->clients_tail->next = c;
    else
        s->clients_head = c;
    s->clients_tail = c;
    s->nclients++;
    hr_dict_upsert(&s->clients_by_id, (const char *)&c->id, sizeof(c->id), NULL)->val = c;
    return c;
}

/* Removes c from the server as conn.c does on close. */
static void dropconn(hr_server *s, hr_conn *c)
{
    hr_tracking_disable(c);
    hr_dict_delete(&s->clients_by_id, (const char *)&c->id, sizeof(c->id));
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        s->clients_tail = c->prev;
    s->nclients--;
    hr_outq_release(&c->out);
    for (uint32_t i = 0; i < c->ndeferred; i++)
        hr_frame_decref(c->deferred[i].frame);
    hr_free(c->deferred);
    hr_dict_release(&c->channels);
    hr_dict_release(&c->patterns);
    hr_dict_release(&c->shard_channels);
    free(c);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->s = calloc(1, sizeof(hr_server));
    hr_config_defaults(&f->s->cfg);
    hr_dict_init(&f->s->clients_by_id);
    f->s->tracking = hr_tracking_new();
    /* c[0], c[1] RESP3; the others RESP2. Ids start at 10. */
    for (int i = 0; i < NCONN; i++)
        f->c[i] = mkconn(f->s, 10 + (uint64_t)i, i < 2 ? 3 : 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < NCONN; i++)
        if (f->c[i]) dropconn(f->s, f->c[i]);
    assert_int_equal(hr_tracking_clients(f->s), 0);
    assert_int_equal(hr_tracking_total_prefixes(f->s), 0);
    hr_tracking_free(f->s->tracking);
    hr_dict_release(&f->s->clients_by_id);
    hr_dict_release(&f->s->errorstats); /* filled by error replies */
    hr_config_release(&f->s->cfg);
    free(f->s);
    free(f);
    return 0;
}

/* Everything queued on c (replies and frames) as a NUL-terminated string in
 * a static buffer; the queue is emptied. Binary-safe enough for the test's
 * keys (no NUL in them except where noted). */
static const char *take(hr_conn *c)
{
    static char buf[65536];
    size_t n = 0;
    for (size_t i = 0; i < c->out.count; i++) {
        hr_outq_entry *e = &c->out.ring[(c->out.head + i) & (c->out.cap - 1)];
        const char *base = e->frame ? e->frame->data : c->out.rbuf.data;
        assert_true(n + e->len < sizeof(buf));
        memcpy(buf + n, base + e->off, e->len);
        n += e->len;
    }
    buf[n] = '\0';
    hr_outq_release(&c->out);
    hr_outq_init(&c->out);
    return buf;
}

static size_t nframes(const hr_conn *c)
{
    return c->out.count;
}

#define NARGS(...) ((int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)))

static void call(hr_conn *c, hr_command_fn *fn, int argc, const char **args)
{
    hr_arg argv[32];
    assert_true(argc <= 32);
    for (int i = 0; i < argc; i++)
        argv[i] = (hr_arg){args[i], strlen(args[i])};
    fn(c, argc, argv);
}

/* CLIENT TRACKING ...; returns the reply. */
#define TRACKING(c, ...)                                                                           \
    (call(c, hr_cmd_client_tracking, 2 + NARGS(__VA_ARGS__),                                       \
          (const char *[]){"client", "tracking", __VA_ARGS__}),                                    \
     take(c))
#define CACHING(c, yn)                                                                             \
    (call(c, hr_cmd_client_caching, 3, (const char *[]){"client", "caching", yn}), take(c))

static const hr_command CMD_GET = {
    .name = "get", .flags = HR_CMD_READONLY, .first_key = 1, .last_key = 1, .key_step = 1};
static const hr_command CMD_MGET = {
    .name = "mget", .flags = HR_CMD_READONLY, .first_key = 1, .last_key = -1, .key_step = 1};
static const hr_command CMD_LCS = {
    .name = "lcs", .flags = HR_CMD_READONLY, .first_key = 1, .last_key = 2, .key_step = 1};
static const hr_command CMD_SET = {
    .name = "set", .flags = HR_CMD_WRITE, .first_key = 1, .last_key = 1, .key_step = 1};
static const hr_command CMD_DBSIZE = {.name = "dbsize", .flags = HR_CMD_READONLY};
static const hr_command CMD_PING = {.name = "ping"};
static const hr_command CMD_CLIENT = {.name = "client", .flags = HR_CMD_CONTAINER};
static const hr_command CMD_CLIENT_ID = {.name = "id", .parent = &CMD_CLIENT};
static const hr_command CMD_OBJECT = {.name = "object", .flags = HR_CMD_CONTAINER};
static const hr_command CMD_OBJECT_ENC = {.name = "encoding",
                                          .flags = HR_CMD_READONLY,
                                          .first_key = 2,
                                          .last_key = 2,
                                          .key_step = 1,
                                          .parent = &CMD_OBJECT};

/* An executed command: the dispatcher's hr_tracking_after_command call. */
#define RAN(c, cmd, ...)                                                                           \
    do {                                                                                           \
        const char *a_[] = {__VA_ARGS__};                                                          \
        hr_arg v_[16];                                                                             \
        int n_ = NARGS(__VA_ARGS__);                                                               \
        for (int i_ = 0; i_ < n_; i_++)                                                            \
            v_[i_] = (hr_arg){a_[i_], strlen(a_[i_])};                                             \
        hr_tracking_after_command(c, cmd, n_, v_);                                                 \
    } while (0)

static void modified(hr_server *s, hr_conn *writer, const char *key)
{
    hr_tracking_invalidate_key(s, writer, key, strlen(key), true);
}

#define INV(k) ">2\r\n$10\r\ninvalidate\r\n*1\r\n$" k
#define MSG2 "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"

static void test_remember_and_invalidate(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    hr_conn *a = f->c[0], *b = f->c[1];
    assert_string_equal(TRACKING(a, "on"), "+OK\r\n");
    assert_string_equal(TRACKING(b, "ON"), "+OK\r\n");
    assert_int_equal(hr_tracking_clients(s), 2);
    RAN(a, &CMD_GET, "get", "k");
    RAN(b, &CMD_GET, "get", "k");
    RAN(a, &CMD_GET, "get", "k"); /* a repeat adds nothing */
    RAN(a, &CMD_MGET, "mget", "x", "y", "x");
    assert_int_equal(hr_tracking_total_keys(s), 3);
    assert_int_equal(hr_tracking_total_items(s), 4);

    modified(s, NULL, "k");
    assert_int_equal(nframes(a), 1);
    /* Both RESP3: one frame shared by the two connections. */
    assert_ptr_equal(a->out.ring[a->out.head].frame, b->out.ring[b->out.head].frame);
    assert_string_equal(take(a), INV("1\r\nk\r\n"));
    assert_string_equal(take(b), INV("1\r\nk\r\n"));
    assert_int_equal(hr_tracking_total_keys(s), 2);
    assert_int_equal(hr_tracking_total_items(s), 2);
    /* Forgotten once invalidated: a second change sends nothing. */
    modified(s, NULL, "k");
    assert_int_equal(nframes(a) + nframes(b), 0);
    /* A key nobody read. */
    modified(s, NULL, "zzz");
    assert_int_equal(nframes(a) + nframes(b), 0);
    /* bcast false (an eviction) still invalidates the readers. */
    RAN(a, &CMD_GET, "get", "x");
    hr_tracking_invalidate_key(s, NULL, "x", 1, false);
    assert_string_equal(take(a), INV("1\r\nx\r\n"));
    assert_int_equal(hr_tracking_total_items(s), 1); /* y */
    assert_int_equal(s->stats.tracking_invalidations, 3);
}

static void test_what_is_remembered(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    hr_conn *a = f->c[0];
    /* Not tracking: nothing. */
    RAN(a, &CMD_GET, "get", "k");
    assert_int_equal(hr_tracking_total_keys(s), 0);
    TRACKING(a, "on");
    RAN(a, &CMD_SET, "set", "k", "v"); /* writes are not remembered */
    RAN(a, &CMD_DBSIZE, "dbsize");     /* no keys */
    assert_int_equal(hr_tracking_total_keys(s), 0);
    RAN(a, &CMD_LCS, "lcs", "k1", "k2", "LEN"); /* last_key 2: LEN is not a key */
    RAN(a, &CMD_OBJECT_ENC, "object", "encoding", "k3");
    assert_int_equal(hr_tracking_total_keys(s), 3);
    modified(s, NULL, "LEN");
    modified(s, NULL, "encoding");
    assert_int_equal(nframes(a), 0);
    modified(s, NULL, "k3");
    assert_string_equal(take(a), INV("2\r\nk3\r\n"));
    /* Rejected commands (argv NULL) remember nothing. */
    hr_tracking_after_command(a, &CMD_GET, 0, NULL);
    assert_int_equal(hr_tracking_total_keys(s), 2);
    /* Commands queued by MULTI remember nothing; those run by EXEC do. */
    a->flags |= HR_CONN_MULTI;
    RAN(a, &CMD_GET, "get", "q");
    assert_int_equal(hr_tracking_total_keys(s), 2);
    a->flags |= HR_CONN_IN_EXEC;
    RAN(a, &CMD_GET, "get", "q");
    assert_int_equal(hr_tracking_total_keys(s), 3);
    a->flags &= ~(HR_CONN_MULTI | HR_CONN_IN_EXEC);
    /* BCAST connections are never in the table. */
    TRACKING(a, "off");
    TRACKING(a, "on", "bcast");
    RAN(a, &CMD_GET, "get", "r");
    assert_int_equal(hr_tracking_total_keys(s), 3);
}

static void test_optin_optout_caching(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    hr_conn *a = f->c[0];
    assert_string_equal(
        CACHING(a, "yes"),
        "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or "
        "OPTOUT mode enabled\r\n");
    TRACKING(a, "on", "optin");
    assert_string_equal(
        CACHING(a, "no"),
        "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n");
    assert_string_equal(CACHING(a, "maybe"), "-ERR syntax error\r\n");
    RAN(a, &CMD_GET, "get", "k1"); /* OPTIN without CACHING yes */
    assert_int_equal(hr_tracking_total_keys(s), 0);
    assert_string_equal(CACHING(a, "YES"), "+OK\r\n");
    assert_true(a->tflags & HR_TRACK_CACHING);
    /* Any CLIENT subcommand keeps the flag; the next other command uses it
     * and clears it. */
    RAN(a, &CMD_CLIENT_ID, "client", "id");
    assert_true(a->tflags & HR_TRACK_CACHING);
    RAN(a, &CMD_GET, "get", "k2");
    assert_false(a->tflags & HR_TRACK_CACHING);
    RAN(a, &CMD_GET, "get", "k3");
    assert_int_equal(hr_tracking_total_keys(s), 1);
    /* A command that does not read keys still consumes it. */
    CACHING(a, "yes");
    RAN(a, &CMD_PING, "ping");
    RAN(a, &CMD_GET, "get", "k4");
    assert_int_equal(hr_tracking_total_keys(s), 1);
    /* So does a rejected command, even an unknown one (cmd NULL). */
    CACHING(a, "yes");
    hr_tracking_after_command(a, NULL, 0, NULL);
    assert_false(a->tflags & HR_TRACK_CACHING);
    /* A transaction: the flag covers all of it and ends with EXEC. */
    CACHING(a, "yes");
    a->flags |= HR_CONN_MULTI;
    RAN(a, &CMD_PING, "multi");
    RAN(a, &CMD_GET, "get", "t1"); /* queued */
    a->flags |= HR_CONN_IN_EXEC;
    RAN(a, &CMD_GET, "get", "t1");
    RAN(a, &CMD_GET, "get", "t2");
    a->flags &= ~(HR_CONN_MULTI | HR_CONN_IN_EXEC);
    RAN(a, &CMD_PING, "exec");
    RAN(a, &CMD_GET, "get", "t3");
    assert_int_equal(hr_tracking_total_keys(s), 3);
    modified(s, NULL, "t1");
    modified(s, NULL, "t2");
    modified(s, NULL, "t3");
    assert_string_equal(take(a), INV("2\r\nt1\r\n") INV("2\r\nt2\r\n"));

    /* OPTOUT: tracked unless CACHING no. */
    assert_string_equal(TRACKING(a, "on", "optout"),
                        "-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for "
                        "this client, and then re-enabling it with a different mode.\r\n");
    TRACKING(a, "off");
    assert_false(a->tflags);
    TRACKING(a, "on", "optout");
    assert_string_equal(
        CACHING(a, "yes"),
        "-ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.\r\n");
    assert_string_equal(CACHING(a, "no"), "+OK\r\n");
    RAN(a, &CMD_GET, "get", "o1");
    RAN(a, &CMD_GET, "get", "o2");
    modified(s, NULL, "o1");
    modified(s, NULL, "o2");
    assert_string_equal(take(a), INV("2\r\no2\r\n"));
}

static void test_noloop_and_skips(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    hr_conn *a = f->c[0], *b = f->c[1], *r2 = f->c[2];
    TRACKING(a, "on", "noloop");
    TRACKING(b, "on");
    RAN(a, &CMD_GET, "get", "k");
    RAN(b, &CMD_GET, "get", "k");
    /* a's own command changes k: a is spared, b told, the key forgotten. */
    s->current = a;
    modified(s, a, "k");
    s->current = NULL;
    assert_int_equal(nframes(a) + a->ndeferred, 0);
    assert_string_equal(take(b), INV("1\r\nk\r\n"));
    assert_int_equal(hr_tracking_total_keys(s), 0);
    /* Without NOLOOP the writer is told too. */
    RAN(b, &CMD_GET, "get", "k");
    s->current = b;
    modified(s, b, "k");
    s->current = NULL;
    /* (held back until the command's reply is queued, by hr_conn_push) */
    assert_int_equal(nframes(b), 0);
    assert_int_equal(b->ndeferred, 1);
    hr_conn_flush_deferred(b);
    assert_string_equal(take(b), INV("1\r\nk\r\n"));

    /* Ids that turned tracking off, switched to BCAST, or went away. */
    RAN(a, &CMD_GET, "get", "j");
    RAN(b, &CMD_GET, "get", "j");
    RAN(r2, &CMD_GET, "get", "j"); /* not tracking: not remembered */
    TRACKING(r2, "on");
    RAN(r2, &CMD_GET, "get", "j");
    assert_int_equal(hr_tracking_total_items(s), 3);
    TRACKING(a, "off");
    TRACKING(b, "off");
    TRACKING(b, "on", "bcast", "prefix", "zz");
    dropconn(s, r2);
    f->c[2] = NULL;
    modified(s, NULL, "j");
    assert_int_equal(nframes(a) + nframes(b), 0);
    assert_int_equal(hr_tracking_total_items(s), 0);
    /* RESP2 without a redirect: remembered, but nothing can be sent. */
    hr_conn *p = f->c[3];
    TRACKING(p, "on");
    RAN(p, &CMD_GET, "get", "m");
    assert_int_equal(hr_tracking_total_keys(s), 1);
    modified(s, NULL, "m");
    assert_int_equal(nframes(p), 0);
    assert_int_equal(hr_tracking_total_keys(s), 0);
}

static void test_redirect(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    hr_conn *a3 = f->c[0], *t3 = f->c[1], *c2 = f->c[2], *t2 = f->c[3], *u2 = f->c[4];
    assert_string_equal(TRACKING(c2, "on", "redirect", "999"),
                        "-ERR The client ID you want redirect to does not exist\r\n");
    assert_string_equal(TRACKING(c2, "on", "redirect", "x1"),
                        "-ERR value is not an integer or out of range\r\n");
    assert_string_equal(TRACKING(c2, "on", "redirect", "13", "redirect", "13"),
                        "-ERR A client can only redirect to a single other client\r\n");
    assert_string_equal(TRACKING(c2, "off", "redirect", "0"),
                        "-ERR The client ID you want redirect to does not exist\r\n");
    assert_int_equal(c2->tflags, 0);

    /* RESP2 client -> RESP2 target with a subscription: a Pub/Sub message. */
    hr_dict_upsert(&t2->channels, "__redis__:invalidate", 20, NULL);
    assert_string_equal(TRACKING(c2, "on", "redirect", "13"), "+OK\r\n");
    RAN(c2, &CMD_GET, "get", "k");
    modified(s, NULL, "k");
    assert_int_equal(nframes(c2), 0);
    assert_string_equal(take(t2), MSG2 "*1\r\n$1\r\nk\r\n");
    /* ... RESP2 target without one: nothing. */
    TRACKING(c2, "on", "redirect", "14");
    RAN(c2, &CMD_GET, "get", "k");
    modified(s, NULL, "k");
    assert_int_equal(nframes(c2) + nframes(u2), 0);
    /* RESP2 client -> RESP3 target: a push. */
    TRACKING(c2, "on", "redirect", "11");
    RAN(c2, &CMD_GET, "get", "k");
    modified(s, NULL, "k");
    assert_string_equal(take(t3), INV("1\r\nk\r\n"));

    /* The target goes away: a RESP3 client gets tracking-redir-broken
     * (every time), a RESP2 one only the flag. */
    TRACKING(a3, "on", "redirect", "11");
    RAN(a3, &CMD_GET, "get", "k");
    RAN(c2, &CMD_GET, "get", "k");
    dropconn(s, t3);
    f->c[1] = NULL;
    modified(s, NULL, "k");
    assert_string_equal(take(a3), ">2\r\n$21\r\ntracking-redir-broken\r\n:11\r\n");
    assert_true(a3->tflags & HR_TRACK_BROKEN_REDIR);
    assert_true(c2->tflags & HR_TRACK_BROKEN_REDIR);
    assert_int_equal(nframes(c2), 0);
    hr_buf fl = HR_BUF_INIT;
    hr_conn_describe(a3, &fl); /* CLIENT LIST line */
    hr_buf_append_char(&fl, '\0');
    assert_non_null(strstr(fl.data, " flags=tR "));
    hr_buf_release(&fl);
    /* Re-enabling clears the flag. */
    TRACKING(a3, "on");
    assert_false(a3->tflags & HR_TRACK_BROKEN_REDIR);
    call(a3, hr_cmd_client_getredir, 2, (const char *[]){"client", "getredir"});
    assert_string_equal(take(a3), ":0\r\n");
    TRACKING(a3, "off");
    call(a3, hr_cmd_client_getredir, 2, (const char *[]){"client", "getredir"});
    assert_string_equal(take(a3), ":-1\r\n");
}

static void test_flush(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    hr_conn *a3 = f->c[0], *b3 = f->c[1], *c2 = f->c[2], *t2 = f->c[3], *d2 = f->c[4];
    hr_dict_upsert(&t2->channels, "x", 1, NULL);
    TRACKING(a3, "on");
    TRACKING(b3, "on", "bcast");
    TRACKING(c2, "on", "redirect", "13");
    TRACKING(d2, "on"); /* RESP2, no redirect: nothing */
    RAN(a3, &CMD_GET, "get", "k");
    RAN(c2, &CMD_MGET, "mget", "k", "j");
    hr_tracking_invalidate_all(s);
    assert_int_equal(hr_tracking_total_keys(s), 0);
    assert_int_equal(hr_tracking_total_items(s), 0);
    assert_string_equal(take(a3), ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    assert_string_equal(take(b3), ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    assert_string_equal(take(t2), MSG2 "$-1\r\n");
    assert_int_equal(nframes(c2) + nframes(d2), 0);
    /* The null follows the tracking connection's protocol, not the
     * target's (Redis does the same). */
    TRACKING(a3, "on", "redirect", "13");
    hr_tracking_invalidate_all(s);
    assert_string_equal(take(t2), MSG2 "_\r\n" MSG2 "$-1\r\n");
    take(b3);
    /* Nobody tracking: nothing to send. */
    for (int i = 0; i < 5; i++)
        TRACKING(f->c[i], "off");
    hr_tracking_invalidate_all(s);
    for (int i = 0; i < 5; i++)
        assert_int_equal(nframes(f->c[i]), 0);
}

static void test_prefix_checks(void **state)
{
    fixture *f = *state;
    hr_conn *a = f->c[0];
    assert_string_equal(TRACKING(a, "on", "prefix", "a"),
                        "-ERR PREFIX option requires BCAST mode to be enabled\r\n");
    assert_string_equal(TRACKING(a, "on", "bcast", "optin"),
                        "-ERR OPTIN and OPTOUT are not compatible with BCAST\r\n");
    assert_string_equal(TRACKING(a, "on", "optin", "optout"),
                        "-ERR You can't specify both OPTIN mode and OPTOUT mode\r\n");
    assert_string_equal(TRACKING(a, "on", "foo"), "-ERR syntax error\r\n");
    assert_string_equal(TRACKING(a, "maybe"), "-ERR syntax error\r\n");
    assert_string_equal(TRACKING(a, "on", "prefix"), "-ERR syntax error\r\n");
    assert_string_equal(TRACKING(a, "on", "bcast", "prefix", "a", "prefix", "ab"),
                        "-ERR Prefix 'a' overlaps with another provided prefix 'ab'. Prefixes for "
                        "a single client must not overlap.\r\n");
    /* Redis 7.x answers this one (an overlap found past the first prefix)
     * with the error and then +OK, enabling tracking: herald only errs. */
    assert_string_equal(TRACKING(a, "on", "bcast", "prefix", "b", "prefix", "c", "prefix", "c"),
                        "-ERR Prefix 'c' overlaps with another provided prefix 'c'. Prefixes for "
                        "a single client must not overlap.\r\n");
    assert_int_equal(a->tflags, 0);
    assert_int_equal(hr_tracking_total_prefixes(f->s), 0);
    assert_string_equal(TRACKING(a, "on", "bcast", "prefix", "b", "prefix", "a"), "+OK\r\n");
    assert_string_equal(TRACKING(a, "on"),
                        "-ERR You can't switch BCAST mode on/off before disabling tracking for "
                        "this client, and then re-enabling it with a different mode.\r\n");
    /* Against the existing ones: the first overlapping in byte order. */
    assert_string_equal(TRACKING(a, "on", "bcast", "prefix", ""),
                        "-ERR Prefix '' overlaps with an existing prefix 'a'. Prefixes for a "
                        "single client must not overlap.\r\n");
    assert_string_equal(TRACKING(a, "on", "bcast", "prefix", "bc"),
                        "-ERR Prefix 'bc' overlaps with an existing prefix 'b'. Prefixes for a "
                        "single client must not overlap.\r\n");
    assert_string_equal(TRACKING(a, "on", "bcast", "prefix", "c"), "+OK\r\n");
    /* BCAST without PREFIX adds the empty prefix, unchecked. */
    assert_string_equal(TRACKING(a, "on", "bcast"), "+OK\r\n");
    assert_int_equal(hr_tracking_total_prefixes(f->s), 4);
    call(a, hr_cmd_client_trackinginfo, 2, (const char *[]){"client", "trackinginfo"});
    assert_string_equal(take(a), "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n"
                                 "$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n"
                                 "*4\r\n$0\r\n\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    TRACKING(a, "off");
    assert_null(a->tracking_prefixes);
    assert_int_equal(hr_tracking_total_prefixes(f->s), 0);
    call(a, hr_cmd_client_trackinginfo, 2, (const char *[]){"client", "trackinginfo"});
    assert_string_equal(take(a), "%3\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n"
                                 "$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n");
    /* RESP2 shape, with the OPTIN / CACHING / NOLOOP flags. */
    hr_conn *p = f->c[2];
    TRACKING(p, "on", "optin", "noloop");
    CACHING(p, "yes");
    call(p, hr_cmd_client_trackinginfo, 2, (const char *[]){"client", "trackinginfo"});
    assert_string_equal(take(p), "*6\r\n$5\r\nflags\r\n*4\r\n$2\r\non\r\n$5\r\noptin\r\n"
                                 "$11\r\ncaching-yes\r\n$6\r\nnoloop\r\n"
                                 "$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n");
}

static void test_bcast(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    hr_conn *a = f->c[0], *b = f->c[1], *c2 = f->c[2], *t2 = f->c[3];
    TRACKING(a, "on", "bcast", "prefix", "user:", "prefix", "ab", "noloop");
    TRACKING(b, "on", "bcast", "prefix", "user:");
    hr_dict_upsert(&t2->channels, "x", 1, NULL);
    TRACKING(c2, "on", "bcast", "redirect", "13"); /* everything */
    assert_int_equal(hr_tracking_total_prefixes(s), 3);
    modified(s, b, "user:2");
    modified(s, a, "user:1");
    modified(s, NULL, "abc");
    modified(s, b, "user:10");
    modified(s, a, "ab");
    modified(s, b, "user:2"); /* again: once per batch */
    modified(s, NULL, "zz");
    hr_tracking_invalidate_key(s, NULL, "user:3", 6, false);    /* eviction: no broadcast */
    assert_int_equal(nframes(a) + nframes(b) + nframes(t2), 0); /* before sleep only */
    hr_tracking_before_sleep(s);
    /* a: prefix "ab" then "user:", without the keys a changed itself. */
    assert_string_equal(take(a),
                        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nabc\r\n"
                        ">2\r\n$10\r\ninvalidate\r\n*2\r\n$7\r\nuser:10\r\n$6\r\nuser:2\r\n");
    assert_string_equal(take(b), ">2\r\n$10\r\ninvalidate\r\n"
                                 "*3\r\n$6\r\nuser:1\r\n$7\r\nuser:10\r\n$6\r\nuser:2\r\n");
    assert_string_equal(take(t2), MSG2 "*6\r\n$2\r\nab\r\n$3\r\nabc\r\n$6\r\nuser:1\r\n"
                                       "$7\r\nuser:10\r\n$6\r\nuser:2\r\n$2\r\nzz\r\n");
    assert_int_equal(nframes(c2), 0);
    /* Sent once. */
    hr_tracking_before_sleep(s);
    assert_int_equal(nframes(a) + nframes(b) + nframes(t2), 0);
    /* Only keys a changed: a gets nothing; the last writer counts. */
    modified(s, a, "user:5");
    modified(s, b, "ab1");
    modified(s, a, "ab1");
    hr_tracking_before_sleep(s);
    assert_int_equal(nframes(a), 0);
    assert_string_equal(take(b), ">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nuser:5\r\n");
    take(t2);
    /* Turning off (or closing) drops the subscriptions; a prefix goes away
     * with its last subscriber. */
    dropconn(s, a);
    f->c[0] = NULL;
    assert_int_equal(hr_tracking_total_prefixes(s), 2);
    modified(s, NULL, "abc");
    modified(s, NULL, "user:7");
    TRACKING(c2, "off");
    assert_int_equal(hr_tracking_total_prefixes(s), 1);
    hr_tracking_before_sleep(s);
    assert_string_equal(take(b), ">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nuser:7\r\n");
    assert_int_equal(nframes(t2), 0);
    hr_buf fl = HR_BUF_INIT;
    hr_conn_describe(b, &fl); /* CLIENT LIST line */
    hr_buf_append_char(&fl, '\0');
    assert_non_null(strstr(fl.data, " flags=tB "));
    hr_buf_release(&fl);
}

static void test_max_keys(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    hr_conn *a = f->c[0], *b = f->c[1];
    TRACKING(a, "on");
    TRACKING(b, "on", "bcast");
    char key[32];
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        RAN(a, &CMD_GET, "get", key);
    }
    s->cfg.tracking_table_max_keys = 0; /* no limit */
    hr_tracking_before_sleep(s);
    assert_int_equal(hr_tracking_total_keys(s), 500);
    assert_int_equal(nframes(a), 0);
    /* Over the limit: the first call evicts at most 100 keys, the next
     * more, until the table is within the limit. */
    s->cfg.tracking_table_max_keys = 50;
    hr_tracking_before_sleep(s);
    assert_int_equal(hr_tracking_total_keys(s), 400);
    assert_int_equal(nframes(a), 100);
    hr_tracking_before_sleep(s);
    assert_int_equal(hr_tracking_total_keys(s), 200);
    hr_tracking_before_sleep(s);
    assert_int_equal(hr_tracking_total_keys(s), 50);
    assert_int_equal(hr_tracking_total_items(s), 50);
    assert_int_equal(nframes(a), 450);
    /* Evictions are invalidations of their own (not broadcast). */
    assert_int_equal(nframes(b), 0);
    hr_tracking_before_sleep(s);
    assert_int_equal(hr_tracking_total_keys(s), 50);
    take(a);
}

static void test_many_readers(void **state)
{
    fixture *f = *state;
    hr_server *s = f->s;
    enum { N = 300 };
    hr_conn *cs[N];
    for (int i = 0; i < N; i++) {
        cs[i] = mkconn(s, 1000 + (uint64_t)i, 3);
        TRACKING(cs[i], "on");
        RAN(cs[i], &CMD_GET, "get", "hot");
        RAN(cs[i], &CMD_GET, "get", "hot");
    }
    assert_int_equal(hr_tracking_total_keys(s), 1);
    assert_int_equal(hr_tracking_total_items(s), N);
    dropconn(s, cs[7]);
    modified(s, NULL, "hot");
    size_t got = 0;
    for (int i = 0; i < N; i++) {
        if (i == 7) continue;
        got += nframes(cs[i]);
        assert_string_equal(take(cs[i]), INV("3\r\nhot\r\n"));
    }
    assert_int_equal(got, N - 1);
    assert_int_equal(hr_tracking_total_items(s), 0);
    for (int i = 0; i < N; i++)
        if (i != 7) dropconn(s, cs[i]);
    assert_int_equal(hr_tracking_clients(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_remember_and_invalidate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_what_is_remembered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_optin_optout_caching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_noloop_and_skips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bcast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_readers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
