/*
 * test_resp_writer.c - hr_resp_w_* and hr_resp_fmt_double.
 *
 * Exact bytes for every writer in RESP2 and RESP3 (the forms redis-server 7
 * sends; the double texts were compared with redis-server 7.0's ZSCORE
 * replies where 7.0 prints 17 digits), then round trips: writer -> hr_reader
 * and hr_resp_w_command -> hr_reqparser.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "resp.h"

static hr_buf b;

static int setup(void **state)
{
    (void)state;
    hr_buf_init(&b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hr_buf_release(&b);
    return 0;
}

/* b holds exactly lit; then b is emptied. */
#define EXPECT(lit) expect_bytes(lit, sizeof(lit) - 1)
static void expect_bytes(const char *exp, size_t n)
{
    if (b.len != n || memcmp(b.data, exp, n) != 0) {
        fprintf(stderr, "got %zu bytes: \"%.*s\"\nexpected %zu: \"%.*s\"\n", b.len, (int)b.len,
                b.data, n, (int)n, exp);
    }
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, exp, n);
    b.len = 0;
}

static void test_scalars(void **state)
{
    (void)state;
    hr_resp_w_simple(&b, S("OK"));
    EXPECT("+OK\r\n");
    hr_resp_w_simple(&b, "", 0);
    EXPECT("+\r\n");
    hr_resp_w_simple(&b, S("a\r\nb\nc\r"));
    EXPECT("+a  b c \r\n");
    hr_resp_w_error(&b, S("ERR unknown command 'x'"));
    EXPECT("-ERR unknown command 'x'\r\n");
    hr_resp_w_error(&b, S("ERR bad\r\nthing"));
    EXPECT("-ERR bad  thing\r\n");
    hr_resp_w_int(&b, 0);
    EXPECT(":0\r\n");
    hr_resp_w_int(&b, -1);
    EXPECT(":-1\r\n");
    hr_resp_w_int(&b, LLONG_MAX);
    EXPECT(":9223372036854775807\r\n");
    hr_resp_w_int(&b, LLONG_MIN);
    EXPECT(":-9223372036854775808\r\n");
    hr_resp_w_bulk(&b, S("hello"));
    EXPECT("$5\r\nhello\r\n");
    hr_resp_w_bulk(&b, "", 0);
    EXPECT("$0\r\n\r\n");
    hr_resp_w_bulk(&b, NULL, 0);
    EXPECT("$0\r\n\r\n");
    hr_resp_w_bulk(&b, S("a\0\r\nb"));
    EXPECT("$5\r\na\0\r\nb\r\n");
    hr_resp_w_bulk_str(&b, "message");
    EXPECT("$7\r\nmessage\r\n");
    hr_resp_w_bulk_ll(&b, -42);
    EXPECT("$3\r\n-42\r\n");
    hr_resp_w_bulk_ll(&b, LLONG_MIN);
    EXPECT("$20\r\n-9223372036854775808\r\n");
    hr_resp_w_bulk_ll(&b, 0);
    EXPECT("$1\r\n0\r\n");
}

static void test_big_bulk(void **state)
{
    (void)state;
    size_t n = 100000;
    char *s = malloc(n);
    memset(s, 'x', n);
    hr_resp_w_bulk(&b, s, n);
    assert_int_equal(b.len, 9 + n + 2);
    assert_memory_equal(b.data, "$100000\r\n", 9);
    assert_memory_equal(b.data + 9, s, n);
    assert_memory_equal(b.data + 9 + n, "\r\n", 2);
    b.len = 0;
    free(s);
}

static void test_headers(void **state)
{
    (void)state;
    hr_resp_w_array_hdr(&b, 3);
    EXPECT("*3\r\n");
    hr_resp_w_array_hdr(&b, 0);
    EXPECT("*0\r\n");
    hr_resp_w_array_hdr(&b, -1);
    EXPECT("*-1\r\n");
    hr_resp_w_map_hdr(&b, 3, 2);
    EXPECT("%2\r\n");
    hr_resp_w_map_hdr(&b, 2, 2);
    EXPECT("*4\r\n");
    hr_resp_w_map_hdr(&b, 2, 0);
    EXPECT("*0\r\n");
    hr_resp_w_set_hdr(&b, 3, 5);
    EXPECT("~5\r\n");
    hr_resp_w_set_hdr(&b, 2, 5);
    EXPECT("*5\r\n");
    hr_resp_w_push_hdr(&b, 3, 3);
    EXPECT(">3\r\n");
    hr_resp_w_push_hdr(&b, 2, 3);
    EXPECT("*3\r\n");
    hr_resp_w_null(&b, 3);
    EXPECT("_\r\n");
    hr_resp_w_null(&b, 2);
    EXPECT("$-1\r\n");
    hr_resp_w_null_array(&b, 3);
    EXPECT("_\r\n");
    hr_resp_w_null_array(&b, 2);
    EXPECT("*-1\r\n");
    hr_resp_w_bool(&b, 3, true);
    EXPECT("#t\r\n");
    hr_resp_w_bool(&b, 3, false);
    EXPECT("#f\r\n");
    hr_resp_w_bool(&b, 2, true);
    EXPECT(":1\r\n");
    hr_resp_w_bool(&b, 2, false);
    EXPECT(":0\r\n");
    hr_resp_w_verbatim(&b, 3, S("Some string"));
    EXPECT("=15\r\ntxt:Some string\r\n");
    hr_resp_w_verbatim(&b, 3, "", 0);
    EXPECT("=4\r\ntxt:\r\n");
    hr_resp_w_verbatim(&b, 2, S("Some string"));
    EXPECT("$11\r\nSome string\r\n");
    const char *argv[] = {"SET", "key", ""};
    size_t lens[] = {3, 3, 0};
    hr_resp_w_command(&b, 3, argv, lens);
    EXPECT("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n");
    hr_resp_w_command(&b, 0, NULL, NULL);
    EXPECT("*0\r\n");
    /* a pub/sub message as Redis 7 sends it */
    hr_resp_w_push_hdr(&b, 3, 3);
    hr_resp_w_bulk_str(&b, "message");
    hr_resp_w_bulk_str(&b, "ch");
    hr_resp_w_bulk_str(&b, "hi");
    EXPECT(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
}

typedef struct dvec {
    double v;
    const char *text;
} dvec;

/* Texts: shortest round-trip digits in "%.17g" layout. Where redis-server
 * 7.0 (which prints "%.17g") sends the same, the comment says so. */
static const dvec dvecs[] = {
    {0.0, "0"},
    {-0.0, "-0"},
    {3.0, "3"}, /* 7.0: ",3" */
    {-3.0, "-3"},
    {0.1, "0.1"}, /* 7.0: ",0.10000000000000001" */
    {1.5, "1.5"},
    {1e20, "1e+20"},            /* 7.0: ",1e+20" */
    {1e15, "1000000000000000"}, /* 7.0: ",1000000000000000" */
    {1e16, "10000000000000000"},
    {1e17, "1e+17"},
    {123456789012345678.0, "1.2345678901234568e+17"}, /* 7.0: same */
    {1.5e-7, "1.5e-07"},                              /* 7.0: ",1.4999999999999999e-07" */
    {0.0001, "0.0001"},
    {0.00001, "1e-05"},
    {0.1 + 0.2, "0.30000000000000004"},
    {1.0 / 3.0, "0.3333333333333333"},
    {2.0 / 3.0, "0.6666666666666666"},
    {100.0, "100"},
    {12345.678, "12345.678"},
    {-2.5e-300, "-2.5e-300"},
    {DBL_MAX, "1.7976931348623157e+308"},
    {DBL_MIN, "2.2250738585072014e-308"},
    {4.9406564584124654e-324, "5e-324"},
    {9007199254740993.0, "9007199254740992"},
    {0.5, "0.5"},
    {1e-4 * 3, "0.00030000000000000003"},
    {1e-310, "1e-310"},       /* subnormals */
    {-3.5e-320, "-3.5e-320"}, /* %.17g: "-3.4999610351393905e-320" */
    {1.23456789e-315, "1.23456789e-315"},
};

static void test_double_text(void **state)
{
    (void)state;
    char t[HR_RESP_DOUBLE_MAX];
    for (size_t i = 0; i < NELEM(dvecs); i++) {
        size_t n = hr_resp_fmt_double(t, dvecs[i].v);
        if (strcmp(t, dvecs[i].text) != 0) fprintf(stderr, "%.17g: got %s\n", dvecs[i].v, t);
        assert_string_equal(t, dvecs[i].text);
        assert_int_equal(n, strlen(t));
    }
    assert_int_equal(hr_resp_fmt_double(t, INFINITY), 3);
    assert_string_equal(t, "inf");
    hr_resp_fmt_double(t, -INFINITY);
    assert_string_equal(t, "-inf");
    hr_resp_fmt_double(t, NAN);
    assert_string_equal(t, "nan");
    hr_resp_fmt_double(t, -NAN);
    assert_string_equal(t, "nan");
}

static void test_double_writers(void **state)
{
    (void)state;
    hr_resp_w_double(&b, 3, 0.1);
    EXPECT(",0.1\r\n");
    hr_resp_w_double(&b, 2, 0.1);
    EXPECT("$3\r\n0.1\r\n");
    hr_resp_w_double(&b, 3, 1e20);
    EXPECT(",1e+20\r\n"); /* redis 7.0 */
    hr_resp_w_double(&b, 2, 1e20);
    EXPECT("$5\r\n1e+20\r\n"); /* redis 7.0 */
    hr_resp_w_double(&b, 3, INFINITY);
    EXPECT(",inf\r\n"); /* redis 7.0 */
    hr_resp_w_double(&b, 2, INFINITY);
    EXPECT("$3\r\ninf\r\n"); /* redis 7.0 */
    hr_resp_w_double(&b, 3, -INFINITY);
    EXPECT(",-inf\r\n");
    hr_resp_w_double(&b, 2, -INFINITY);
    EXPECT("$4\r\n-inf\r\n");
    hr_resp_w_double(&b, 3, NAN);
    EXPECT(",nan\r\n");
    hr_resp_w_double(&b, 2, NAN);
    EXPECT("$3\r\nnan\r\n");
    hr_resp_w_double(&b, 3, 123456789012345678.0);
    EXPECT(",1.2345678901234568e+17\r\n"); /* redis 7.0 */
    hr_resp_w_double(&b, 2, 3);
    EXPECT("$1\r\n3\r\n"); /* redis 7.0 */
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Significant digits of a %g / our text. */
static int sig_digits(const char *s)
{
    int n = 0, first = -1, last = -1, i = 0;
    for (; s[i] && s[i] != 'e'; i++)
        if (s[i] >= '0' && s[i] <= '9') {
            if (first < 0 && s[i] != '0') first = n;
            if (s[i] != '0') last = n;
            n++;
        }
    return first < 0 ? 1 : last - first + 1;
}

/* For many doubles: the text reads back as the value, has as few
 * significant digits as any "%.<p>g" that reads back, is never longer than
 * "%.17g" and equals it whenever 17 digits are needed. */
static void test_double_properties(void **state)
{
    (void)state;
    char t[HR_RESP_DOUBLE_MAX], g[64];
    for (int i = 0; i < 300000; i++) {
        double v;
        uint64_t bits = xorshift();
        if (i % 4 == 0) {
            memcpy(&v, &bits, sizeof(v));
        } else if (i % 4 == 1) {
            v = (double)(int64_t)(bits % 2000001) / 1000.0 - 1000.0; /* "k.xyz" values */
        } else if (i % 4 == 2) {
            v = ldexp((double)(bits >> 11), (int)(bits % 200) - 100 - 53);
        } else {
            bits &= (1ULL << 52) - 1 + (bits & (1ULL << 63)); /* subnormal */
            memcpy(&v, &bits, sizeof(v));
        }
        if (isnan(v) || isinf(v)) continue;
        size_t n = hr_resp_fmt_double(t, v);
        assert_true(n < HR_RESP_DOUBLE_MAX);
        assert_true(strtod(t, NULL) == v);
        assert_int_equal(signbit(strtod(t, NULL)), signbit(v));
        int minp = 17;
        for (int p = 1; p <= 17; p++) {
            snprintf(g, sizeof(g), "%.*g", p, v);
            if (strtod(g, NULL) == v) {
                minp = p;
                break;
            }
        }
        assert_int_equal(sig_digits(t), sig_digits(g));
        assert_true(sig_digits(t) <= minp);
        snprintf(g, sizeof(g), "%.17g", v);
        assert_true(n <= strlen(g));
        if (minp == 17) assert_string_equal(t, g);
        /* the layout is %.17g's: exponent form iff %.17g uses it */
        assert_true((strchr(t, 'e') != NULL) == (strchr(g, 'e') != NULL));
    }
}

/* ---- round trips -------------------------------------------------------------------- */

static char *read_all(const char *in, size_t n)
{
    hr_reader *r = hr_reader_new(NULL);
    hr_buf out = HR_BUF_INIT;
    assert_int_equal(hr_reader_feed(r, in, n), 0);
    for (;;) {
        hr_reply *rep;
        assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
        if (!rep) break;
        /* flat text form: type letter and payload per node, depth first */
        hr_reply *stack[64];
        int sp = 0;
        stack[sp++] = rep;
        while (sp) {
            hr_reply *x = stack[--sp];
            switch (x->type) {
            case HR_RESP_INTEGER:
            case HR_RESP_BOOL: hr_buf_appendf(&out, "%d:%lld ", x->type, x->integer); break;
            case HR_RESP_NIL: hr_buf_appendf(&out, "%d ", x->type); break;
            case HR_RESP_ARRAY:
            case HR_RESP_MAP:
            case HR_RESP_SET:
            case HR_RESP_PUSH:
            case HR_RESP_ATTR:
                hr_buf_appendf(&out, "%d[%zu] ", x->type, x->elements);
                for (size_t i = x->elements; i > 0; i--)
                    stack[sp++] = x->element[i - 1];
                break;
            case HR_RESP_VERB:
                hr_buf_appendf(&out, "%d:%s:%.*s ", x->type, x->vtype, (int)x->len, x->str);
                break;
            default: hr_buf_appendf(&out, "%d:%.*s ", x->type, (int)x->len, x->str); break;
            }
        }
        hr_buf_append_str(&out, "| ");
        hr_reply_free(rep);
    }
    hr_reader_free(r);
    hr_buf_append_char(&out, '\0');
    return out.data;
}

static void write_sample(int proto)
{
    hr_resp_w_push_hdr(&b, proto, 3);
    hr_resp_w_bulk_str(&b, "message");
    hr_resp_w_bulk_str(&b, "chan");
    hr_resp_w_bulk(&b, S("pay\r\nload"));
    hr_resp_w_map_hdr(&b, proto, 2);
    hr_resp_w_simple(&b, S("a"));
    hr_resp_w_double(&b, proto, 0.25);
    hr_resp_w_bulk_ll(&b, 7);
    hr_resp_w_set_hdr(&b, proto, 2);
    hr_resp_w_bool(&b, proto, true);
    hr_resp_w_null(&b, proto);
    hr_resp_w_null_array(&b, proto);
    hr_resp_w_error(&b, S("ERR x"));
    hr_resp_w_int(&b, -5);
    hr_resp_w_verbatim(&b, proto, S("v"));
    hr_resp_w_array_hdr(&b, 0);
}

static void test_round_trip_reader(void **state)
{
    (void)state;
    char exp3[512], exp2[512];
    snprintf(exp3, sizeof(exp3),
             "%d[3] %d:message %d:chan %d:pay\r\nload | "
             "%d[4] %d:a %d:0.25 %d:7 %d[2] %d:1 %d | %d | %d:ERR x | %d:-5 | %d:txt:v | %d[0] | ",
             HR_RESP_PUSH, HR_RESP_BULK, HR_RESP_BULK, HR_RESP_BULK, HR_RESP_MAP, HR_RESP_STRING,
             HR_RESP_DOUBLE, HR_RESP_BULK, HR_RESP_SET, HR_RESP_BOOL, HR_RESP_NIL, HR_RESP_NIL,
             HR_RESP_ERROR, HR_RESP_INTEGER, HR_RESP_VERB, HR_RESP_ARRAY);
    snprintf(exp2, sizeof(exp2),
             "%d[3] %d:message %d:chan %d:pay\r\nload | "
             "%d[4] %d:a %d:0.25 %d:7 %d[2] %d:1 %d | %d | %d:ERR x | %d:-5 | %d:v | %d[0] | ",
             HR_RESP_ARRAY, HR_RESP_BULK, HR_RESP_BULK, HR_RESP_BULK, HR_RESP_ARRAY, HR_RESP_STRING,
             HR_RESP_BULK, HR_RESP_BULK, HR_RESP_ARRAY, HR_RESP_INTEGER, HR_RESP_NIL, HR_RESP_NIL,
             HR_RESP_ERROR, HR_RESP_INTEGER, HR_RESP_BULK, HR_RESP_ARRAY);
    write_sample(3);
    char *got = read_all(b.data, b.len);
    assert_string_equal(got, exp3);
    free(got);
    /* every frame boundary is found by hr_resp_frame_len */
    size_t pos = 0;
    int frames = 0;
    while (pos < b.len) {
        ssize_t k = hr_resp_frame_len(b.data + pos, b.len - pos);
        assert_true(k > 0);
        pos += (size_t)k;
        frames++;
    }
    assert_int_equal(frames, 7);
    b.len = 0;
    write_sample(2);
    got = read_all(b.data, b.len);
    assert_string_equal(got, exp2);
    free(got);
    b.len = 0;
}

/* Doubles survive writer -> reader bit for bit, both protocols. */
static void test_round_trip_doubles(void **state)
{
    (void)state;
    hr_reader *r = hr_reader_new(NULL);
    for (int i = 0; i < 50000; i++) {
        double v;
        uint64_t bits = xorshift();
        memcpy(&v, &bits, sizeof(v));
        if (i < (int)NELEM(dvecs)) v = dvecs[i].v;
        if (isnan(v)) continue;
        int proto = i % 2 ? 3 : 2;
        hr_resp_w_double(&b, proto, v);
        assert_int_equal(hr_reader_feed(r, b.data, b.len), 0);
        b.len = 0;
        hr_reply *rep;
        assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
        assert_non_null(rep);
        double back = proto == 3 ? rep->dval : strtod(rep->str, NULL);
        assert_int_equal(rep->type, proto == 3 ? HR_RESP_DOUBLE : HR_RESP_BULK);
        assert_memory_equal(&back, &v, sizeof(v));
        hr_reply_free(rep);
    }
    hr_reader_free(r);
}

/* hr_resp_w_command output is parsed back by hr_reqparser. */
static void test_round_trip_command(void **state)
{
    (void)state;
    hr_reqparser p;
    hr_reqparser_init(&p, 0);
    for (int round = 0; round < 2000; round++) {
        int argc = 1 + (int)(xorshift() % 20);
        char *args[20];
        size_t lens[20];
        for (int i = 0; i < argc; i++) {
            lens[i] = xorshift() % 40;
            args[i] = malloc(lens[i] + 1);
            for (size_t k = 0; k < lens[i]; k++)
                args[i][k] = (char)xorshift();
        }
        hr_resp_w_command(&b, argc, (const char *const *)args, lens);
        assert_int_equal(hr_reqparser_parse(&p, b.data, b.len), (ssize_t)b.len);
        assert_int_equal(p.argc, argc);
        for (int i = 0; i < argc; i++) {
            assert_int_equal(p.argv[i].len, lens[i]);
            if (lens[i]) assert_memory_equal(p.argv[i].ptr, args[i], lens[i]);
            free(args[i]);
        }
        assert_int_equal(hr_resp_frame_len(b.data, b.len), (ssize_t)b.len);
        b.len = 0;
    }
    hr_reqparser_release(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_bulk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double_properties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_doubles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_command, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
