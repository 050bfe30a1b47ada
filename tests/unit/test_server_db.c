/* test_server_db.c - the keyspace core: object encodings, lazy and active
 * expiry, the volatile-key index, FLUSH/SWAPDB bookkeeping, eviction by
 * policy, and the SCAN cursor walk over a table that resizes between calls.
 * Runs against a real in-process server (listening on a private unix
 * socket only) so every hook a write goes through is the production one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "db.h"
#include "hrtime.h"

static int setup(void **state)
{
    hr_config cfg;
    hr_config_defaults(&cfg);
    cfg.port = 0;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/herald-test-db-%d.sock", (int)getpid());
    cfg.unixsocket = hr_strdup(path);
    char err[256];
    hr_server *s = hr_server_new(&cfg, err, sizeof(err));
    if (!s) fprintf(stderr, "server: %s\n", err);
    assert_non_null(s);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    hr_server_free(*state);
    return 0;
}

static hr_dict_entry *put(hr_server *s, int dbid, const char *key, const char *val)
{
    hr_db *db = &s->db[dbid];
    hr_dict_entry *e = hr_dict_find(&db->keys, key, strlen(key));
    hr_obj *o = hr_obj_string_try_int(s, val, strlen(val));
    if (e) {
        hr_db_replace(s, e, o);
        return e;
    }
    return hr_db_add(s, db, key, strlen(key), o);
}

static void test_encodings(void **state)
{
    hr_server *s = *state;
    struct {
        const char *val;
        const char *enc;
    } cases[] = {
        {"12345", "int"},
        {"-9223372036854775808", "int"},
        {"9223372036854775808", "embstr"}, /* overflows a long long */
        {"007", "embstr"},
        {"-0", "embstr"},
        {" 1", "embstr"},
        {"", "embstr"},
        {"12345678901234567890123456789012345678901234", "embstr"}, /* 44 bytes */
        {"123456789012345678901234567890123456789012345", "raw"},   /* 45 bytes */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hr_obj *o = hr_obj_string_try_int(s, cases[i].val, strlen(cases[i].val));
        assert_string_equal(hr_obj_encoding_name(o), cases[i].enc);
        char buf[24];
        size_t len;
        const char *p = hr_obj_bytes(o, buf, &len);
        assert_int_equal(len, strlen(cases[i].val));
        assert_memory_equal(p, cases[i].val, len);
        assert_int_equal(hr_obj_strlen(o), len);
        hr_obj_free(o);
    }
    /* Making an INT or EMBSTR writable turns it RAW, keeping the bytes. */
    hr_obj *o = hr_obj_from_ll(s, -42);
    char *w = hr_obj_make_raw(o, 10);
    assert_string_equal(hr_obj_encoding_name(o), "raw");
    assert_int_equal(o->len, 3);
    assert_memory_equal(w, "-42", 3);
    assert_true(o->cap >= 11);
    hr_obj_free(o);
    o = hr_obj_string(s, "abc", 3);
    w = hr_obj_make_raw(o, 100000);
    memset(w + 3, 'x', 99997);
    o->len = 100000;
    assert_true(o->cap >= 100001);
    hr_obj_free(o);
}

static void test_lazy_expiry(void **state)
{
    hr_server *s = *state;
    hr_db *db = &s->db[0];
    long long now = hr_wall_us() / 1000;
    s->cmd_time_ms = now;
    hr_dict_entry *e = put(s, 0, "k", "v");
    hr_db_set_expire(db, e, now + 1000);
    assert_int_equal(hr_db_volatile_count(db), 1);
    assert_int_equal(hr_db_get_expire(e), now + 1000);
    /* Not yet due: visible, a hit. */
    long long hits = s->stats.keyspace_hits;
    assert_non_null(hr_db_lookup_entry(s, db, "k", 1, 0));
    assert_int_equal(s->stats.keyspace_hits, hits + 1);
    /* Due only once its time has passed (Redis: now > when). */
    s->cmd_time_ms = now + 1000;
    assert_non_null(hr_db_lookup_entry(s, db, "k", 1, HR_LOOKUP_NOSTATS));
    /* NOEXPIRE reports it missing but keeps it. */
    s->cmd_time_ms = now + 1001;
    assert_null(hr_db_lookup_entry(s, db, "k", 1, HR_LOOKUP_NOEXPIRE));
    assert_int_equal(hr_dict_size(&db->keys), 1);
    /* Due: the lookup removes it, counts it and drops it from the index. */
    long long expired = s->stats.expired_keys, misses = s->stats.keyspace_misses;
    assert_null(hr_db_lookup_entry(s, db, "k", 1, 0));
    assert_int_equal(s->stats.expired_keys, expired + 1);
    assert_int_equal(s->stats.keyspace_misses, misses + 1);
    assert_int_equal(hr_dict_size(&db->keys), 0);
    assert_int_equal(hr_db_volatile_count(db), 0);
    /* PERSIST takes a key out of the index. */
    e = put(s, 0, "p", "v");
    hr_db_set_expire(db, e, now + 5);
    assert_true(hr_db_persist(db, e));
    assert_false(hr_db_persist(db, e));
    assert_int_equal(hr_db_get_expire(e), -1);
    assert_int_equal(hr_db_volatile_count(db), 0);
    s->cmd_time_ms = now + 10;
    assert_non_null(hr_db_lookup_entry(s, db, "p", 1, 0));
    s->cmd_time_ms = 0;
    hr_db_flush(s, -1, false);
}

static void test_active_expiry(void **state)
{
    hr_server *s = *state;
    long long now = hr_wall_us() / 1000;
    char key[32];
    /* 5000 keys already due in db 3, 500 far in the future, 500 without TTL. */
    for (int i = 0; i < 6000; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        hr_dict_entry *e = put(s, 3, key, "value");
        if (i < 5000)
            hr_db_set_expire(&s->db[3], e, now - 1);
        else if (i < 5500)
            hr_db_set_expire(&s->db[3], e, now + 3600 * 1000);
    }
    assert_int_equal(hr_db_volatile_count(&s->db[3]), 5500);
    /* Each pass is bounded; passes repeat while most samples are stale. */
    for (int pass = 0; pass < 200 && hr_dict_size(&s->db[3].keys) > 1000; pass++)
        hr_db_active_expire(s, false);
    assert_int_equal(hr_dict_size(&s->db[3].keys), 1000);
    assert_int_equal(hr_db_volatile_count(&s->db[3]), 500);
    assert_true(s->stats.expired_keys >= 5000);
    /* The average TTL estimate follows the keys that remain. */
    assert_true(s->db[3].avg_ttl > 3000 * 1000);
    hr_db_flush(s, -1, false);
}

static void test_flush_and_swap(void **state)
{
    hr_server *s = *state;
    put(s, 1, "a", "1");
    put(s, 1, "b", "2");
    put(s, 2, "c", "3");
    hr_db_swap(s, 1, 2);
    assert_int_equal(hr_dict_size(&s->db[1].keys), 1);
    assert_int_equal(hr_dict_size(&s->db[2].keys), 2);
    assert_non_null(hr_dict_find(&s->db[1].keys, "c", 1));
    assert_int_equal(s->db[1].id, 1); /* ids stay with the index */
    assert_int_equal(hr_db_flush(s, 2, false), 2);
    assert_int_equal(hr_dict_size(&s->db[1].keys), 1);
    /* An asynchronous flush of a large database frees it on a thread. */
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        put(s, 5, key, "some value of a decent size to free");
    }
    assert_int_equal(hr_db_flush(s, -1, true), 10001);
    for (int i = 0; i < 16; i++)
        assert_int_equal(hr_dict_size(&s->db[i].keys), 0);
}

static void test_eviction(void **state)
{
    hr_server *s = *state;
    long long now = hr_wall_us() / 1000;
    put(s, 0, "plain", "x");
    hr_dict_entry *e1 = put(s, 0, "soon", "x");
    hr_dict_entry *e2 = put(s, 0, "later", "x");
    hr_db_set_expire(&s->db[0], e1, now + 10000);
    hr_db_set_expire(&s->db[0], e2, now + 20000);
    /* A limit no process can meet: every policy evicts what it may, then
     * reports failure. */
    s->cfg.maxmemory = 1;
    s->cfg.maxmemory_policy = HR_MAXMEM_NOEVICTION;
    assert_int_equal(hr_evict_perform(s), -1);
    assert_int_equal(hr_dict_size(&s->db[0].keys), 3);
    s->cfg.maxmemory_policy = HR_MAXMEM_VOLATILE_TTL;
    s->cfg.maxmemory_samples = 64;
    long long evicted = s->stats.evicted_keys;
    assert_int_equal(hr_evict_perform(s), -1);
    assert_int_equal(s->stats.evicted_keys, evicted + 2);
    assert_non_null(hr_dict_find(&s->db[0].keys, "plain", 5)); /* not volatile */
    assert_int_equal(hr_db_volatile_count(&s->db[0]), 0);
    s->cfg.maxmemory_policy = HR_MAXMEM_ALLKEYS_LRU;
    assert_int_equal(hr_evict_perform(s), -1);
    assert_int_equal(hr_dict_size(&s->db[0].keys), 0);
    /* Without a limit nothing happens. */
    s->cfg.maxmemory = 0;
    put(s, 0, "kept", "x");
    assert_int_equal(hr_evict_perform(s), 0);
    assert_int_equal(hr_dict_size(&s->db[0].keys), 1);
    hr_db_flush(s, -1, false);
}

static void test_volatile_ttl_order(void **state)
{
    hr_server *s = *state;
    long long now = hr_wall_us() / 1000;
    hr_dict_entry *a = put(s, 0, "a", "x"), *b = put(s, 0, "b", "x"), *c = put(s, 0, "c", "x");
    hr_db_set_expire(&s->db[0], a, now + 30000);
    hr_db_set_expire(&s->db[0], b, now + 1000); /* nearest expiry: evicted first */
    hr_db_set_expire(&s->db[0], c, now + 60000);
    s->cfg.maxmemory_policy = HR_MAXMEM_VOLATILE_TTL;
    s->cfg.maxmemory_samples = 64;
    /* A limit just below current use: one eviction is enough... unless the
     * allocator keeps the freed bytes cached; either way "b" goes first. */
    s->cfg.maxmemory = (long long)hr_used_memory(s) - 1;
    hr_evict_perform(s);
    assert_null(hr_dict_find(&s->db[0].keys, "b", 1));
    s->cfg.maxmemory = 0;
    hr_db_flush(s, -1, false);
}

typedef struct scan_seen {
    char *seen;
    int n;
} scan_seen;

static void scan_cb(void *priv, const hr_dict_entry *e)
{
    scan_seen *ss = priv;
    int i = atoi(e->key);
    ss->seen[i] = 1;
}

static void test_scan_across_resize(void **state)
{
    (void)state;
    hr_dict d;
    hr_dict_init(&d);
    char key[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "%d", i);
        hr_dict_upsert(&d, key, strlen(key), NULL);
    }
    scan_seen ss = {calloc(5000, 1), 0};
    size_t cursor = 0;
    int calls = 0, added = 1000;
    do {
        cursor = hr_dict_scan(&d, cursor, scan_cb, &ss);
        calls++;
        /* Grow the table while the walk is in progress... */
        if (calls % 7 == 0 && added < 5000) {
            for (int k = 0; k < 200; k++, added++) {
                snprintf(key, sizeof(key), "%d", added);
                hr_dict_upsert(&d, key, strlen(key), NULL);
            }
        }
    } while (cursor != 0 && calls < 100000);
    /* ...every entry present from start to end was visited. */
    for (int i = 0; i < 1000; i++)
        assert_true(ss.seen[i]);
    /* Shrinking during a walk keeps the guarantee too. */
    memset(ss.seen, 0, 5000);
    cursor = 0;
    calls = 0;
    do {
        cursor = hr_dict_scan(&d, cursor, scan_cb, &ss);
        if (++calls == 50) {
            for (int k = 1000; k < added; k++) {
                snprintf(key, sizeof(key), "%d", k);
                hr_dict_delete(&d, key, strlen(key));
            }
        }
    } while (cursor != 0 && calls < 100000);
    for (int i = 0; i < 1000; i++)
        assert_true(ss.seen[i]);
    free(ss.seen);
    hr_dict_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_encodings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_and_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_volatile_ttl_order, setup, teardown),
        cmocka_unit_test(test_scan_across_resize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
