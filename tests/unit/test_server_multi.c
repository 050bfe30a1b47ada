/* test_server_multi.c - WATCH bookkeeping: one watch per (db, key) and
 * connection, the per-database watcher lists and their cleanup, who gets
 * HR_CONN_DIRTY_CAS on a key change, FLUSH / SWAPDB rules for keys that were
 * already expired, and what RESET / a doomed transaction keep. Replies are
 * switched off: the exact bytes are the differential tests' business. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "db.h"
#include "multi.h"

#define NOW 1000000LL

typedef struct fixture {
    hr_server *s;
    hr_conn *c[3];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->s = calloc(1, sizeof(hr_server));
    hr_config_defaults(&f->s->cfg);
    hr_db_init_all(f->s);
    f->s->cmd_time_ms = NOW;
    for (int i = 0; i < 3; i++) {
        hr_conn *c = calloc(1, sizeof(*c));
        c->srv = f->s;
        c->fd = -1;
        c->resp = 2;
        c->id = (uint64_t)i + 1;
        c->flags = HR_CONN_REPLY_OFF;
        f->c[i] = c;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 3; i++) {
        hr_multi_reset(f->c[i]);
        assert_null(f->c[i]->multi);
        free(f->c[i]);
    }
    for (int i = 0; i < f->s->cfg.databases; i++)
        assert_int_equal(hr_dict_size(&f->s->db[i].watched), 0);
    hr_db_free_all(f->s);
    hr_dict_release(&f->s->errorstats); /* filled by error replies */
    hr_config_release(&f->s->cfg);
    free(f->s);
    free(f);
    return 0;
}

/* Runs a command handler with string arguments. */
static void run(hr_conn *c, hr_command_fn *fn, int argc, const char **args)
{
    hr_arg argv[16];
    for (int i = 0; i < argc; i++)
        argv[i] = (hr_arg){args[i], strlen(args[i])};
    fn(c, argc, argv);
}

#define WATCH(c, ...)                                                                              \
    do {                                                                                           \
        const char *a_[] = {"watch", __VA_ARGS__};                                                 \
        run(c, hr_cmd_watch, (int)(sizeof(a_) / sizeof(a_[0])), a_);                               \
    } while (0)

/* Adds key to db; expires_at 0 for none (an absolute UNIX ms time). */
static void put(fixture *f, int dbid, const char *key, long long expires_at)
{
    hr_db *db = &f->s->db[dbid];
    hr_dict_entry *e = hr_dict_upsert(&db->keys, key, strlen(key), NULL);
    e->val = hr_obj_string(f->s, "v", 1);
    e->aux = (size_t)expires_at;
}

/* Removes key from db without any signal (as the dict would look after an
 * expiry deleted it, before the signal). */
static void drop(fixture *f, int dbid, const char *key)
{
    hr_obj_free(hr_dict_delete(&f->s->db[dbid].keys, key, strlen(key)));
}

static bool dirty(const hr_conn *c)
{
    return (c->flags & HR_CONN_DIRTY_CAS) != 0;
}

static void touch(fixture *f, int dbid, const char *key)
{
    hr_multi_touch_key(f->s, &f->s->db[dbid], key, strlen(key));
}

static void test_watch_dedupe_and_unwatch(void **state)
{
    fixture *f = *state;
    hr_conn *c = f->c[0];
    assert_null(c->multi);
    assert_int_equal(hr_multi_watched(c), 0);
    assert_int_equal(hr_multi_queued(c), -1);
    WATCH(c, "a", "b", "a");
    WATCH(c, "b");
    assert_int_equal(hr_multi_watched(c), 2);
    assert_int_equal(hr_dict_size(&f->s->db[0].watched), 2);
    c->db = 3; /* the same name in another database is another key */
    WATCH(c, "a");
    assert_int_equal(hr_multi_watched(c), 3);
    assert_int_equal(hr_dict_size(&f->s->db[3].watched), 1);
    const char *unwatch[] = {"unwatch"};
    run(c, hr_cmd_unwatch, 1, unwatch);
    assert_int_equal(hr_multi_watched(c), 0);
    assert_null(c->multi);
    assert_int_equal(hr_dict_size(&f->s->db[0].watched), 0);
    assert_int_equal(hr_dict_size(&f->s->db[3].watched), 0);
}

static void test_touch_flags_watchers_of_that_db(void **state)
{
    fixture *f = *state;
    hr_conn *a = f->c[0], *b = f->c[1], *other = f->c[2];
    WATCH(a, "k", "x");
    WATCH(b, "k");
    other->db = 1;
    WATCH(other, "k");
    touch(f, 0, "unrelated");
    assert_false(dirty(a) || dirty(b) || dirty(other));
    touch(f, 0, "k");
    assert_true(dirty(a));
    assert_true(dirty(b));
    assert_false(dirty(other));
    /* A dirty connection drops its watches; the key's entry goes with the
     * last watcher. */
    assert_int_equal(hr_multi_watched(a), 0);
    assert_int_equal(hr_multi_watched(b), 0);
    assert_null(a->multi);
    assert_int_equal(hr_dict_size(&f->s->db[0].watched), 0);
    assert_int_equal(hr_multi_watched(other), 1);
    /* Watching after that changes nothing; UNWATCH clears the flag. */
    WATCH(a, "y");
    assert_int_equal(hr_multi_watched(a), 0);
    const char *unwatch[] = {"unwatch"};
    run(a, hr_cmd_unwatch, 1, unwatch);
    assert_false(dirty(a));
}

static void test_key_expired_when_watched(void **state)
{
    fixture *f = *state;
    hr_conn *c = f->c[0];
    put(f, 0, "k", NOW - 10);
    WATCH(c, "k");
    /* Its deletion by expiry is no change... */
    drop(f, 0, "k");
    touch(f, 0, "k");
    assert_false(dirty(c));
    assert_int_equal(hr_multi_watched(c), 1);
    /* ...but from then on it is a missing key like any other. */
    put(f, 0, "k", 0);
    touch(f, 0, "k");
    assert_true(dirty(c));
}

static void test_flush_rules(void **state)
{
    fixture *f = *state;
    hr_conn *live = f->c[0], *missing = f->c[1], *expired = f->c[2];
    put(f, 0, "live", 0);
    put(f, 0, "old", NOW - 1);
    WATCH(live, "live", "missing");
    WATCH(missing, "missing");
    WATCH(expired, "old", "missing");
    hr_multi_touch_all_in_db(f->s, &f->s->db[0], NULL);
    assert_true(dirty(live));
    assert_false(dirty(missing));
    assert_false(dirty(expired));
    /* Flagged only: the watches stay until the next touch or EXEC. */
    assert_int_equal(hr_multi_watched(live), 2);
}

static void test_swapdb_rules(void **state)
{
    fixture *f = *state;
    hr_conn *a = f->c[0], *b = f->c[1], *c = f->c[2];
    put(f, 1, "e", NOW - 1);  /* missing in 0, expired in 1 */
    put(f, 1, "l", 0);        /* missing in 0, live in 1 */
    put(f, 0, "ee", NOW - 1); /* expired on both sides */
    put(f, 1, "ee", NOW - 1);
    WATCH(a, "e");
    WATCH(b, "l");
    WATCH(c, "ee", "none");
    hr_multi_touch_all_in_db(f->s, &f->s->db[0], &f->s->db[1]);
    hr_multi_touch_all_in_db(f->s, &f->s->db[1], &f->s->db[0]);
    assert_false(dirty(a));
    assert_true(dirty(b));
    assert_false(dirty(c));
}

static void noop_fn(hr_conn *c, int argc, hr_arg *argv)
{
    (void)c, (void)argc, (void)argv;
}

static void test_queue_and_reset(void **state)
{
    fixture *f = *state;
    hr_conn *c = f->c[0], *d = f->c[1];
    static const hr_command cmd = {
        .name = "set", .fn = noop_fn, .arity = -3, .flags = HR_CMD_WRITE | HR_CMD_DENYOOM};
    WATCH(c, "k");
    const char *multi[] = {"multi"};
    run(c, hr_cmd_multi, 1, multi);
    assert_true(c->flags & HR_CONN_MULTI);
    assert_int_equal(hr_multi_queued(c), 0);
    char buf[] = "set key value";
    hr_arg argv[3] = {{buf, 3}, {buf + 4, 3}, {buf + 8, 5}};
    hr_multi_queue(c, &cmd, 3, argv);
    memset(buf, 'x', sizeof(buf) - 1); /* the queue keeps its own copy */
    hr_multi_queue(c, &cmd, 3, argv);
    assert_int_equal(hr_multi_queued(c), 2);
    assert_int_equal(hr_multi_queued_flags(c), HR_CMD_WRITE | HR_CMD_DENYOOM);
    hr_multi_reset(c);
    assert_null(c->multi);
    assert_int_equal(c->flags & (HR_CONN_MULTI | HR_CONN_DIRTY_CAS | HR_CONN_DIRTY_EXEC), 0);
    assert_int_equal(hr_multi_queued(c), -1);
    assert_int_equal(hr_dict_size(&f->s->db[0].watched), 0);

    /* A doomed transaction keeps nothing but still counts as MULTI. */
    run(d, hr_cmd_multi, 1, multi);
    d->flags |= HR_CONN_DIRTY_EXEC;
    hr_multi_queue(d, &cmd, 3, argv);
    assert_int_equal(hr_multi_queued(d), 0);
    /* EXEC itself rejected: the transaction is gone. */
    hr_multi_exec_abort(d, "ERR wrong number of arguments for 'exec' command");
    assert_int_equal(d->flags & (HR_CONN_MULTI | HR_CONN_DIRTY_EXEC), 0);
    assert_null(d->multi);
}

static void test_discard_and_exec_errors(void **state)
{
    fixture *f = *state;
    hr_conn *c = f->c[0];
    const char *multi[] = {"multi"}, *discard[] = {"discard"}, *exec[] = {"exec"};
    run(c, hr_cmd_discard, 1, discard); /* DISCARD without MULTI: no state */
    run(c, hr_cmd_exec, 1, exec);
    assert_null(c->multi);
    WATCH(c, "k");
    run(c, hr_cmd_multi, 1, multi);
    run(c, hr_cmd_multi, 1, multi); /* nested: an error, the MULTI stays */
    assert_true(c->flags & HR_CONN_MULTI);
    WATCH(c, "j"); /* refused inside MULTI */
    assert_int_equal(hr_multi_watched(c), 1);
    run(c, hr_cmd_discard, 1, discard);
    assert_false(c->flags & HR_CONN_MULTI);
    assert_int_equal(hr_multi_watched(c), 0);
    assert_null(c->multi);
    /* EXEC of a dirty transaction discards it without running anything. */
    WATCH(c, "k");
    run(c, hr_cmd_multi, 1, multi);
    touch(f, 0, "k");
    run(c, hr_cmd_exec, 1, exec);
    assert_int_equal(c->flags & (HR_CONN_MULTI | HR_CONN_DIRTY_CAS), 0);
    assert_null(c->multi);
    /* A key live when watched that has expired since aborts EXEC. */
    put(f, 0, "t", NOW + 5);
    WATCH(c, "t");
    run(c, hr_cmd_multi, 1, multi);
    f->s->cmd_time_ms = NOW + 10;
    run(c, hr_cmd_exec, 1, exec);
    assert_null(c->multi);
    assert_int_equal(f->s->stats.total_error_replies, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_watch_dedupe_and_unwatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_touch_flags_watchers_of_that_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_expired_when_watched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapdb_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_and_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discard_and_exec_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
