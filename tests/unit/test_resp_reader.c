/*
 * test_resp_reader.c - hr_reader, hr_reply and hr_resp_frame_len.
 *
 * Every input is fed whole, in two parts at every offset and byte by byte;
 * the replies (printed as a compact text form) must be identical.
 * hr_resp_frame_len is checked against the reader on the same inputs and
 * run on every prefix placed right before a PROT_NONE page.
 */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "alloc.h"
#include "resp.h"

static void esc(hr_buf *o, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && !strchr("[],;\\", c))
            hr_buf_append_char(o, (char)c);
        else
            hr_buf_appendf(o, "\\x%02x", c);
    }
}

/* Text form: +s -s :n $s _ ,d #t (n !s =fmt:s and aggregates as *[a,b]
 * (% ~ | > likewise). Also checks the hr_reply invariants. */
static void desc(hr_buf *o, const hr_reply *r)
{
    switch (r->type) {
    case HR_RESP_STRING:
    case HR_RESP_ERROR:
    case HR_RESP_BULK:
    case HR_RESP_BIGNUM:
    case HR_RESP_BLOBERR:
    case HR_RESP_DOUBLE:
    case HR_RESP_VERB: {
        static const char tc[] = {
            [HR_RESP_STRING] = '+', [HR_RESP_ERROR] = '-',   [HR_RESP_BULK] = '$',
            [HR_RESP_BIGNUM] = '(', [HR_RESP_BLOBERR] = '!', [HR_RESP_DOUBLE] = ',',
            [HR_RESP_VERB] = '='};
        assert_non_null(r->str);
        assert_int_equal(r->str[r->len], '\0');
        hr_buf_append_char(o, tc[r->type]);
        if (r->type == HR_RESP_VERB) {
            assert_int_equal(strlen(r->vtype), 3);
            hr_buf_appendf(o, "%s:", r->vtype);
        }
        esc(o, r->str, r->len);
        break;
    }
    case HR_RESP_INTEGER: hr_buf_appendf(o, ":%lld", r->integer); break;
    case HR_RESP_NIL: hr_buf_append_char(o, '_'); break;
    case HR_RESP_BOOL:
        assert_true(r->integer == 0 || r->integer == 1);
        hr_buf_append_str(o, r->integer ? "#t" : "#f");
        break;
    case HR_RESP_ARRAY:
    case HR_RESP_MAP:
    case HR_RESP_SET:
    case HR_RESP_ATTR:
    case HR_RESP_PUSH: {
        char t = r->type == HR_RESP_ARRAY  ? '*'
                 : r->type == HR_RESP_MAP  ? '%'
                 : r->type == HR_RESP_SET  ? '~'
                 : r->type == HR_RESP_ATTR ? '|'
                                           : '>';
        if (r->type == HR_RESP_MAP || r->type == HR_RESP_ATTR) assert_int_equal(r->elements % 2, 0);
        hr_buf_appendf(o, "%c[", t);
        for (size_t i = 0; i < r->elements; i++) {
            if (i) hr_buf_append_char(o, ',');
            assert_non_null(r->element[i]);
            desc(o, r->element[i]);
        }
        hr_buf_append_char(o, ']');
        break;
    }
    default: fail_msg("bad reply type %d", r->type);
    }
}

/* Feeds in[0..n) in steps (cumulative lengths), fetching replies after each
 * feed; appends "reply;" for each and "E(text);" on an error. */
static void drive(hr_reader *r, const char *in, size_t n, const size_t *steps, size_t nsteps,
                  hr_buf *out)
{
    size_t fed = 0;
    for (size_t s = 0; s < nsteps; s++) {
        size_t upto = steps[s];
        if (hr_reader_feed(r, in + fed, upto - fed) != 0) {
            hr_buf_appendf(out, "E(%s);", hr_reader_error(r));
            return;
        }
        fed = upto;
        for (;;) {
            void *rep = (void *)1;
            int rc = hr_reader_get(r, &rep);
            if (rc != 0) {
                assert_null(rep);
                assert_non_null(hr_reader_error(r));
                hr_buf_appendf(out, "E(%s);", hr_reader_error(r));
                return;
            }
            assert_null(hr_reader_error(r));
            if (!rep) break;
            desc(out, rep);
            hr_buf_append_char(out, ';');
            hr_reply_free(rep);
        }
    }
    (void)n;
}

typedef struct lims {
    int depth;
    long long elements, bulk;
} lims;

static char *run(const char *in, size_t n, const size_t *steps, size_t nsteps, const lims *l)
{
    hr_reader *r = hr_reader_new(NULL);
    if (l) hr_reader_set_limits(r, l->depth, l->elements, l->bulk);
    hr_buf out = HR_BUF_INIT;
    drive(r, in, n, steps, nsteps, &out);
    hr_buf_append_char(&out, '\0');
    hr_reader_free(r);
    return out.data;
}

static void check_all_splits_l(const char *in, size_t n, const char *expect, const lims *l)
{
    size_t *steps = malloc((n + 2) * sizeof(*steps));
    steps[0] = n;
    char *got = run(in, n, steps, 1, l);
    if (strcmp(got, expect) != 0) {
        print_bytes("input", in, n);
        fprintf(stderr, "\ngot    %s\nexpect %s\n", got, expect);
    }
    assert_string_equal(got, expect);
    free(got);
    for (size_t k = 0; k <= n; k++) {
        steps[0] = k;
        steps[1] = n;
        got = run(in, n, steps, 2, l);
        if (strcmp(got, expect) != 0) {
            print_bytes("input", in, n);
            fprintf(stderr, "\nsplit at %zu: got %s\n", k, got);
        }
        assert_string_equal(got, expect);
        free(got);
    }
    for (size_t k = 0; k < n; k++)
        steps[k] = k + 1;
    got = run(in, n, steps, n, l);
    if (strcmp(got, expect) != 0) {
        print_bytes("byte by byte", in, n);
        fputc('\n', stderr);
    }
    assert_string_equal(got, expect);
    free(got);
    free(steps);
}

static void check_all_splits(const char *in, size_t n, const char *expect)
{
    check_all_splits_l(in, n, expect, NULL);
}

typedef struct vec {
    const char *in;
    size_t len;
    const char *expect;
} vec;
#define V(lit, exp)                                                                                \
    {                                                                                              \
        lit, sizeof(lit) - 1, exp                                                                  \
    }

/* One value each (or an attribute and its value). */
static const vec ok_vecs[] = {
    V("+OK\r\n", "+OK;"),
    V("+\r\n", "+;"),
    V("+a\nb\r\n", "+a\\x0ab;"),
    V("-ERR unknown command\r\n", "-ERR unknown command;"),
    V(":0\r\n", ":0;"),
    V(":-1\r\n", ":-1;"),
    V(":9223372036854775807\r\n", ":9223372036854775807;"),
    V(":-9223372036854775808\r\n", ":-9223372036854775808;"),
    V("$5\r\nhello\r\n", "$hello;"),
    V("$0\r\n\r\n", "$;"),
    V("$4\r\n\r\n\0x\r\n", "$\\x0d\\x0a\\x00x;"),
    V("$-1\r\n", "_;"),
    V("*-1\r\n", "_;"),
    V("*0\r\n", "*[];"),
    V("*3\r\n:1\r\n$1\r\na\r\n*2\r\n+x\r\n-y\r\n", "*[:1,$a,*[+x,-y]];"),
    V("*2\r\n*0\r\n*1\r\n*0\r\n", "*[*[],*[*[]]];"),
    V("*2\r\n$-1\r\n*-1\r\n", "*[_,_];"),
    V("_\r\n", "_;"),
    V(",3.14\r\n", ",3.14;"),
    V(",-0\r\n", ",-0;"),
    V(",1e+20\r\n", ",1e+20;"),
    V(",1.5E-7\r\n", ",1.5E-7;"),
    V(",+2\r\n", ",+2;"),
    V(",inf\r\n", ",inf;"),
    V(",-inf\r\n", ",-inf;"),
    V(",nan\r\n", ",nan;"),
    V(",1e400\r\n", ",1e400;"),
    V("#t\r\n", "#t;"),
    V("#f\r\n", "#f;"),
    V("=15\r\ntxt:Some string\r\n", "=txt:Some string;"),
    V("=4\r\nmkd:\r\n", "=mkd:;"),
    V("(3492890328409238509324850943850943825024385\r\n",
      "(3492890328409238509324850943850943825024385;"),
    V("(-1\r\n", "(-1;"),
    V("!21\r\nSYNTAX invalid syntax\r\n", "!SYNTAX invalid syntax;"),
    V("%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n", "%[+a,:1,+b,:2];"),
    V("%0\r\n", "%[];"),
    V("~2\r\n+a\r\n+b\r\n", "~[+a,+b];"),
    V("~0\r\n", "~[];"),
    V(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n", ">[$message,$ch,$hello];"),
    V(">0\r\n", ">[];"),
    V("%1\r\n*2\r\n:1\r\n:2\r\n~1\r\n#t\r\n", "%[*[:1,:2],~[#t]];"),
    /* top-level attribute: a reply of its own, then the value */
    V("|1\r\n+key\r\n+val\r\n:42\r\n", "|[+key,+val];:42;"),
    V("|0\r\n:1\r\n", "|[];:1;"),
    V("|1\r\n+a\r\n*1\r\n:1\r\n*2\r\n:2\r\n:3\r\n", "|[+a,*[:1]];*[:2,:3];"),
    /* nested attributes are parsed and dropped */
    V("*2\r\n|1\r\n+k\r\n+v\r\n:1\r\n:2\r\n", "*[:1,:2];"),
    V("*2\r\n:1\r\n|1\r\n+k\r\n+v\r\n:2\r\n", "*[:1,:2];"),
    V("*1\r\n|1\r\n+k\r\n*1\r\n|0\r\n:5\r\n:7\r\n", "*[:7];"),
    V("*1\r\n|1\r\n+k\r\n|1\r\n+a\r\n+b\r\n*1\r\n:5\r\n%1\r\n+x\r\n+y\r\n", "*[%[+x,+y]];"),
    V("%1\r\n|0\r\n+k\r\n|0\r\n+v\r\n", "%[+k,+v];"),
};

/* Each is an error; the expected text. */
static const vec err_vecs[] = {
    V("x\r\n", "E(Protocol error: got \"x\" as reply type byte);"),
    V("\x01", "E(Protocol error: got \"\\x01\" as reply type byte);"),
    V("\r\n", "E(Protocol error: got \"\\x0d\" as reply type byte);"),
    V(":abc\r\n", "E(Protocol error: bad integer value);"),
    V(":+1\r\n", "E(Protocol error: bad integer value);"),
    V(":01\r\n", "E(Protocol error: bad integer value);"),
    V(": 1\r\n", "E(Protocol error: bad integer value);"),
    V(":-0\r\n", "E(Protocol error: bad integer value);"),
    V(":\r\n", "E(Protocol error: bad integer value);"),
    V(":99999999999999999999\r\n", "E(Protocol error: bad integer value);"),
    V(":123456789012345678901\r\n", "E(Protocol error: bad integer value);"),
    V(":1\rx", "E(Protocol error: bad line terminator);"),
    V("+a\rb\r\n", "E(Protocol error: bad line terminator);"),
    V("$-2\r\n", "E(Protocol error: bulk length out of range);"),
    V("$x\r\n", "E(Protocol error: bad bulk length);"),
    V("$3\r\nabcXY", "E(Protocol error: bad bulk string terminator);"),
    V("$3\r\nabc\rX", "E(Protocol error: bad bulk string terminator);"),
    V("$3\r\nabcd\r\n", "E(Protocol error: bad bulk string terminator);"),
    V("=3\r\nabc\r\n", "E(Protocol error: verbatim string too short);"),
    V("=5\r\ntxtx1\r\n", "E(Protocol error: bad verbatim string format);"),
    V("=-1\r\n", "E(Protocol error: bulk length out of range);"),
    V("!-1\r\n", "E(Protocol error: bulk length out of range);"),
    V("*-2\r\n", "E(Protocol error: aggregate length out of range);"),
    V("%-1\r\n", "E(Protocol error: aggregate length out of range);"),
    V("~-1\r\n", "E(Protocol error: aggregate length out of range);"),
    V(">-1\r\n", "E(Protocol error: aggregate length out of range);"),
    V("|-1\r\n", "E(Protocol error: aggregate length out of range);"),
    V("*1x\r\n", "E(Protocol error: bad aggregate length);"),
    V("*?\r\n", "E(Protocol error: bad aggregate length);"),
    V("$?\r\n", "E(Protocol error: bad bulk length);"),
    V("#x\r\n", "E(Protocol error: bad bool value);"),
    V("#tt\r\n", "E(Protocol error: bad bool value);"),
    V("#\r\n", "E(Protocol error: bad bool value);"),
    V("_x\r\n", "E(Protocol error: bad nil value);"),
    V(",abc\r\n", "E(Protocol error: bad double value);"),
    V(",1.\r\n", "E(Protocol error: bad double value);"),
    V(",.5\r\n", "E(Protocol error: bad double value);"),
    V(",1e\r\n", "E(Protocol error: bad double value);"),
    V(",\r\n", "E(Protocol error: bad double value);"),
    V(",+nan\r\n", "E(Protocol error: bad double value);"),
    V(",INF\r\n", "E(Protocol error: bad double value);"),
    V(", 1\r\n", "E(Protocol error: bad double value);"),
    V(",0x10\r\n", "E(Protocol error: bad double value);"),
    V("(abc\r\n", "E(Protocol error: bad bignum value);"),
    V("(\r\n", "E(Protocol error: bad bignum value);"),
    V("(-\r\n", "E(Protocol error: bad bignum value);"),
    V("(+1\r\n", "E(Protocol error: bad bignum value);"),
    /* errors inside a partly built tree (ASan checks it is freed) */
    V("*2\r\n:1\r\n:x\r\n", "E(Protocol error: bad integer value);"),
    V("*3\r\n$1\r\na\r\n*2\r\n+b\r\n%1\r\n+c\r\n?\r\n",
      "E(Protocol error: got \"?\" as reply type byte);"),
    V("*2\r\n|1\r\n+k\r\n:x\r\n", "E(Protocol error: bad integer value);"),
    V("*2\r\n|1\r\n+k\r\n*2\r\n:1\r\n|1\r\n*1\r\n+z\r\n#x\r\n",
      "E(Protocol error: bad bool value);"),
    /* a good reply, then an error */
    V("+OK\r\n:x\r\n", "+OK;E(Protocol error: bad integer value);"),
};

static void test_ok_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < NELEM(ok_vecs); i++)
        check_all_splits(ok_vecs[i].in, ok_vecs[i].len, ok_vecs[i].expect);
}

static void test_err_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < NELEM(err_vecs); i++) {
        const vec *v = &err_vecs[i];
        check_all_splits(v->in, v->len, v->expect);
    }
}

/* All good vectors as one stream. */
static void test_pipeline(void **state)
{
    (void)state;
    hr_buf in = HR_BUF_INIT, exp = HR_BUF_INIT;
    for (int rep = 0; rep < 2; rep++)
        for (size_t i = 0; i < NELEM(ok_vecs); i++) {
            hr_buf_append(&in, ok_vecs[i].in, ok_vecs[i].len);
            hr_buf_append_str(&exp, ok_vecs[i].expect);
        }
    hr_buf_append_char(&exp, '\0');
    check_all_splits(in.data, in.len, exp.data);
    hr_buf_release(&in);
    hr_buf_release(&exp);
}

static void test_reply_fields(void **state)
{
    (void)state;
    hr_reader *r = hr_reader_new(NULL);
    const char in[] = ",1.5\r\n,-inf\r\n,nan\r\n=8\r\nmkd:*x*\n\r\n#t\r\n:-7\r\n$3\r\na\0b\r\n";
    assert_int_equal(hr_reader_feed(r, in, sizeof(in) - 1), 0);
    hr_reply *rep;
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_int_equal(rep->type, HR_RESP_DOUBLE);
    assert_true(rep->dval == 1.5);
    assert_string_equal(rep->str, "1.5");
    hr_reply_free(rep);
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_true(isinf(rep->dval) && rep->dval < 0);
    hr_reply_free(rep);
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_true(isnan(rep->dval));
    hr_reply_free(rep);
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_int_equal(rep->type, HR_RESP_VERB);
    assert_string_equal(rep->vtype, "mkd");
    assert_int_equal(rep->len, 4);
    assert_string_equal(rep->str, "*x*\n");
    hr_reply_free(rep);
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_int_equal(rep->type, HR_RESP_BOOL);
    assert_int_equal(rep->integer, 1);
    hr_reply_free(rep);
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_int_equal(rep->type, HR_RESP_INTEGER);
    assert_int_equal(rep->integer, -7);
    hr_reply_free(rep);
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_int_equal(rep->type, HR_RESP_BULK);
    assert_int_equal(rep->len, 3);
    assert_memory_equal(rep->str, "a\0b", 4);
    hr_reply_free(rep);
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_null(rep);
    /* NULL reply pointer: the reply is dropped */
    assert_int_equal(hr_reader_feed(r, S("*1\r\n+x\r\n:1\r\n")), 0);
    assert_int_equal(hr_reader_get(r, NULL), 0);
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_int_equal(rep->integer, 1);
    hr_reply_free(rep);
    hr_reply_free(NULL);
    hr_reader_free(r);
    hr_reader_free(NULL);
}

static void test_sticky_error(void **state)
{
    (void)state;
    hr_reader *r = hr_reader_new(NULL);
    assert_int_equal(hr_reader_feed(r, S("+OK\r\n:x\r\n+more\r\n")), 0);
    hr_reply *rep;
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_non_null(rep);
    hr_reply_free(rep);
    assert_int_equal(hr_reader_get(r, (void **)&rep), -1);
    assert_null(rep);
    assert_string_equal(hr_reader_error(r), "Protocol error: bad integer value");
    assert_int_equal(hr_reader_get(r, (void **)&rep), -1);
    assert_int_equal(hr_reader_feed(r, S("+OK\r\n")), -1);
    assert_int_equal(hr_reader_get(r, (void **)&rep), -1);
    assert_null(rep);
    assert_string_equal(hr_reader_error(r), "Protocol error: bad integer value");
    hr_reader_free(r);
}

static char *nested(const char *open, int levels, const char *leaf, size_t *len)
{
    hr_buf b = HR_BUF_INIT;
    for (int i = 0; i < levels; i++)
        hr_buf_append_str(&b, open);
    hr_buf_append_str(&b, leaf);
    *len = b.len;
    hr_buf_append_char(&b, '\0');
    return b.data;
}

static char *run_whole(const char *in, size_t n, const lims *l)
{
    size_t steps[1] = {n};
    return run(in, n, steps, 1, l);
}

static void test_depth_limit(void **state)
{
    (void)state;
    size_t n;
    char *s = nested("*1\r\n", HR_RESP_MAX_DEPTH_DEFAULT, ":1\r\n", &n);
    char *got = run_whole(s, n, NULL);
    assert_int_equal(strncmp(got, "*[*[*[", 6), 0);
    free(got);
    free(s);
    s = nested("*1\r\n", HR_RESP_MAX_DEPTH_DEFAULT + 1, ":1\r\n", &n);
    check_all_splits(s, n, "E(Protocol error: aggregate nesting too deep);");
    free(s);
    /* an empty aggregate counts as a level too; scalars do not */
    lims l = {2, 0, 0};
    check_all_splits_l(S("*1\r\n*1\r\n:1\r\n"), "*[*[:1]];", &l);
    check_all_splits_l(S("*1\r\n*1\r\n*0\r\n"), "E(Protocol error: aggregate nesting too deep);",
                       &l);
    check_all_splits_l(S("*1\r\n%1\r\n+a\r\n~0\r\n"),
                       "E(Protocol error: aggregate nesting too deep);", &l);
    check_all_splits_l(S("*2\r\n*1\r\n:1\r\n*1\r\n:2\r\n"), "*[*[:1],*[:2]];", &l);
    l.depth = 1;
    check_all_splits_l(S("*0\r\n"), "*[];", &l);
    check_all_splits_l(S("*1\r\n*0\r\n"), "E(Protocol error: aggregate nesting too deep);", &l);
    /* deep trees are built and freed without recursion */
    s = nested("*1\r\n", 200000, ":1\r\n", &n);
    hr_reader *r = hr_reader_new(NULL);
    hr_reader_set_limits(r, 200000, 0, 0);
    assert_int_equal(hr_reader_feed(r, s, n), 0);
    hr_reply *rep;
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_non_null(rep);
    int depth = 0;
    for (hr_reply *x = rep; x->type == HR_RESP_ARRAY; x = x->element[0])
        depth++;
    assert_int_equal(depth, 200000);
    hr_reply_free(rep);
    assert_int_equal(hr_resp_frame_len(s, n), (ssize_t)n);
    /* a partial deep tree is freed on error and with the reader */
    s[n - 3] = 'x';
    assert_int_equal(hr_reader_feed(r, s, n), 0);
    assert_int_equal(hr_reader_get(r, (void **)&rep), -1);
    assert_int_equal(hr_resp_frame_len(s, n), -1);
    hr_reader_free(r);
    r = hr_reader_new(NULL);
    hr_reader_set_limits(r, 200000, 0, 0);
    assert_int_equal(hr_reader_feed(r, s, n - 5), 0);
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_null(rep);
    hr_reader_free(r);
    free(s);
}

static void test_element_and_bulk_limits(void **state)
{
    (void)state;
    lims l = {0, 3, 5};
    check_all_splits_l(S("*3\r\n:1\r\n:2\r\n:3\r\n"), "*[:1,:2,:3];", &l);
    check_all_splits_l(S("*4\r\n"), "E(Protocol error: aggregate length out of range);", &l);
    check_all_splits_l(S("~4\r\n"), "E(Protocol error: aggregate length out of range);", &l);
    check_all_splits_l(S(">4\r\n"), "E(Protocol error: aggregate length out of range);", &l);
    check_all_splits_l(S("%1\r\n:1\r\n:2\r\n"), "%[:1,:2];", &l);
    check_all_splits_l(S("%2\r\n"), "E(Protocol error: aggregate length out of range);", &l);
    check_all_splits_l(S("|2\r\n"), "E(Protocol error: aggregate length out of range);", &l);
    check_all_splits_l(S("$5\r\nabcde\r\n"), "$abcde;", &l);
    /* rejected from the header, before the payload arrives */
    check_all_splits_l(S("$6\r\n"), "E(Protocol error: bulk length out of range);", &l);
    check_all_splits_l(S("!6\r\n"), "E(Protocol error: bulk length out of range);", &l);
    check_all_splits_l(S("=6\r\n"), "E(Protocol error: bulk length out of range);", &l);
    /* simple lines obey the bulk limit too, even before their CR */
    check_all_splits_l(S("+abcde\r\n"), "+abcde;", &l);
    check_all_splits_l(S("+abcdef"), "E(Protocol error: line too long);", &l);
    check_all_splits_l(S("-abcdef\r\n"), "E(Protocol error: line too long);", &l);
    check_all_splits_l(S("(123456"), "E(Protocol error: line too long);", &l);
    /* numeric lines are at most 20 bytes */
    check_all_splits(S(":123456789012345678901"), "E(Protocol error: bad integer value);");
    check_all_splits(S("*123456789012345678901"), "E(Protocol error: bad aggregate length);");
    check_all_splits(S("_ "), "E(Protocol error: bad nil value);");
    check_all_splits(S("#tt"), "E(Protocol error: bad bool value);");
}

/* Declared counts and lengths are checked, never allocated up front. */
static void test_no_huge_alloc(void **state)
{
    (void)state;
    hr_reader *r = hr_reader_new(NULL);
    size_t before = hr_alloc_used();
    assert_int_equal(hr_reader_feed(r, S("*4294967295\r\n:1\r\n:2\r\n")), 0);
    hr_reply *rep;
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_null(rep);
    assert_true((long long)hr_alloc_used() - (long long)before < 256 * 1024);
    hr_reader_free(r);
    r = hr_reader_new(NULL);
    assert_int_equal(hr_reader_feed(r, S("*4294967296\r\n")), 0);
    assert_int_equal(hr_reader_get(r, (void **)&rep), -1);
    hr_reader_free(r);
    r = hr_reader_new(NULL);
    assert_int_equal(hr_reader_feed(r, S("%2147483647\r\n")), 0);
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_null(rep);
    hr_reader_free(r);
    r = hr_reader_new(NULL);
    assert_int_equal(hr_reader_feed(r, S("%2147483648\r\n")), 0);
    assert_int_equal(hr_reader_get(r, (void **)&rep), -1);
    hr_reader_free(r);
    r = hr_reader_new(NULL);
    before = hr_alloc_used();
    assert_int_equal(hr_reader_feed(r, S("$536870912\r\nabc")), 0);
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_null(rep);
    assert_true((long long)hr_alloc_used() - (long long)before < 256 * 1024);
    assert_int_equal(hr_reader_feed(r, S("$536870913\r\n")), 0);
    hr_reader_free(r);
    r = hr_reader_new(NULL);
    assert_int_equal(hr_reader_feed(r, S("$536870913\r\n")), 0);
    assert_int_equal(hr_reader_get(r, (void **)&rep), -1);
    hr_reader_free(r);

    /* big aggregates that do arrive: element arrays grow past the
     * preallocation */
    hr_buf b = HR_BUF_INIT;
    hr_buf_append_str(&b, "*5000\r\n");
    for (int i = 0; i < 5000; i++)
        hr_buf_appendf(&b, ":%d\r\n", i);
    size_t first_len = b.len;
    hr_buf_append_str(&b, "%3000\r\n");
    for (int i = 0; i < 3000; i++)
        hr_buf_appendf(&b, "$1\r\nk\r\n:%d\r\n", i);
    r = hr_reader_new(NULL);
    for (size_t k = 0; k < b.len; k += 777)
        assert_int_equal(hr_reader_feed(r, b.data + k, b.len - k < 777 ? b.len - k : 777), 0);
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_int_equal(rep->elements, 5000);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(rep->element[i]->integer, i);
    hr_reply_free(rep);
    assert_int_equal(hr_reader_get(r, (void **)&rep), 0);
    assert_int_equal(rep->type, HR_RESP_MAP);
    assert_int_equal(rep->elements, 6000);
    for (int i = 0; i < 3000; i++)
        assert_int_equal(rep->element[2 * i + 1]->integer, i);
    hr_reply_free(rep);
    assert_int_equal(hr_resp_frame_len(b.data, b.len), (ssize_t)first_len);
    assert_int_equal(hr_resp_frame_len(b.data + first_len, b.len - first_len),
                     (ssize_t)(b.len - first_len));
    hr_reader_free(r);
    /* partial big aggregate freed on error */
    r = hr_reader_new(NULL);
    assert_int_equal(hr_reader_feed(r, b.data, 20000), 0);
    assert_int_equal(hr_reader_feed(r, S("x")), 0);
    hr_reader_get(r, (void **)&rep); /* the reply is incomplete or bad */
    hr_reader_free(r);
    hr_buf_release(&b);
}

/* ---- custom callbacks ------------------------------------------------------------- */

typedef struct node {
    hr_resp_type type;
    int idx;
    size_t nchild;
    struct node *child[8];
} node;

static int live;
static hr_buf calls;

static void *mk(const hr_reader_task *t, const char *what)
{
    node *n = calloc(1, sizeof(*n));
    n->type = t->type;
    n->idx = t->idx;
    live++;
    hr_buf_appendf(&calls, "%s(t%d,i%d,p%d,e%lld);", what, (int)t->type, t->idx,
                   t->parent ? (int)t->parent->type : 0, t->elements);
    if (t->parent) {
        node *p = t->parent->obj;
        assert_int_equal((size_t)t->idx, p->nchild);
        assert_true(p->nchild < 8);
        p->child[p->nchild++] = n;
    }
    return n;
}

static void *c_string(const hr_reader_task *t, const char *s, size_t len)
{
    (void)s;
    (void)len;
    return mk(t, "str");
}
static void *c_array(const hr_reader_task *t, size_t n)
{
    assert_int_equal((long long)n, t->elements);
    return mk(t, "arr");
}
static void *c_integer(const hr_reader_task *t, long long v)
{
    (void)v;
    return mk(t, "int");
}
static void *c_double(const hr_reader_task *t, double v, const char *s, size_t len)
{
    (void)v;
    (void)s;
    (void)len;
    return mk(t, "dbl");
}
static void *c_nil(const hr_reader_task *t)
{
    return mk(t, "nil");
}
static void *c_bool(const hr_reader_task *t, int v)
{
    (void)v;
    return mk(t, "bool");
}
static void c_free(void *obj)
{
    node *n = obj;
    for (size_t i = 0; i < n->nchild; i++)
        c_free(n->child[i]);
    live--;
    free(n);
}

static const hr_reader_fns counting_fns = {c_string, c_array, c_integer, c_double,
                                           c_nil,    c_bool,  c_free};

static void test_custom_fns(void **state)
{
    (void)state;
    hr_buf_init(&calls);
    live = 0;
    hr_reader *r = hr_reader_new(&counting_fns);
    assert_int_equal(hr_reader_feed(r, S("*3\r\n%1\r\n+k\r\n:1\r\n,1.5\r\n|1\r\n_\r\n_\r\n#t\r\n")),
                     0);
    void *rep;
    assert_int_equal(hr_reader_get(r, &rep), 0);
    assert_non_null(rep);
    hr_buf_append_char(&calls, '\0');
    char expect[256];
    snprintf(expect, sizeof(expect),
             "arr(t%d,i-1,p0,e3);arr(t%d,i0,p%d,e2);str(t%d,i0,p%d,e0);int(t%d,i1,p%d,e0);"
             "dbl(t%d,i1,p%d,e0);arr(t%d,i-1,p0,e2);nil(t%d,i0,p%d,e0);nil(t%d,i1,p%d,e0);"
             "bool(t%d,i2,p%d,e0);",
             HR_RESP_ARRAY, HR_RESP_MAP, HR_RESP_ARRAY, HR_RESP_STRING, HR_RESP_MAP,
             HR_RESP_INTEGER, HR_RESP_MAP, HR_RESP_DOUBLE, HR_RESP_ARRAY, HR_RESP_ATTR, HR_RESP_NIL,
             HR_RESP_ATTR, HR_RESP_NIL, HR_RESP_ATTR, HR_RESP_BOOL, HR_RESP_ARRAY);
    assert_string_equal(calls.data, expect);
    node *root = rep;
    assert_int_equal(root->nchild, 3);
    assert_int_equal(root->child[2]->type, HR_RESP_BOOL);
    assert_int_equal(live, 6); /* the nested attribute was freed */
    c_free(rep);
    assert_int_equal(live, 0);
    /* on error the partial tree is freed with free_obj */
    assert_int_equal(hr_reader_feed(r, S("*2\r\n*2\r\n:1\r\n|1\r\n*1\r\n+a\r\n")), 0);
    assert_int_equal(hr_reader_get(r, &rep), 0);
    assert_null(rep);
    assert_int_equal(live, 6);
    assert_int_equal(hr_reader_feed(r, S("?")), 0);
    assert_int_equal(hr_reader_get(r, &rep), -1);
    assert_int_equal(live, 0);
    hr_reader_free(r);
    /* and when the reader is freed mid-reply */
    r = hr_reader_new(&counting_fns);
    assert_int_equal(hr_reader_feed(r, S("*2\r\n|1\r\n*1\r\n:1")), 0);
    assert_int_equal(hr_reader_get(r, &rep), 0);
    assert_int_equal(live, 3);
    hr_reader_free(r);
    assert_int_equal(live, 0);
    hr_buf_release(&calls);
}

/* NULL callbacks build nothing; the reader still parses and delivers a
 * non-NULL placeholder per reply. A NULL return fails the reader. */
static void *c_fail(const hr_reader_task *t, long long v)
{
    (void)t;
    (void)v;
    return NULL;
}

static void test_null_callbacks(void **state)
{
    (void)state;
    hr_reader_fns none = {0};
    hr_reader *r = hr_reader_new(&none);
    assert_int_equal(hr_reader_feed(r, S("*2\r\n:1\r\n$1\r\na\r\n+OK\r\n")), 0);
    void *rep;
    assert_int_equal(hr_reader_get(r, &rep), 0);
    assert_non_null(rep);
    assert_int_equal(hr_reader_get(r, &rep), 0);
    assert_non_null(rep);
    assert_int_equal(hr_reader_get(r, &rep), 0);
    assert_null(rep);
    hr_reader_free(r);
    hr_reader_fns failing = {0};
    failing.create_integer = c_fail;
    r = hr_reader_new(&failing);
    assert_int_equal(hr_reader_feed(r, S("+a\r\n:1\r\n")), 0);
    assert_int_equal(hr_reader_get(r, &rep), 0);
    assert_int_equal(hr_reader_get(r, &rep), -1);
    assert_string_equal(hr_reader_error(r), "Out of memory");
    hr_reader_free(r);
}

/* ---- frame length -------------------------------------------------------------------- */

/* Number of replies the reader delivers for the first value of in. */
static void test_frame_len(void **state)
{
    (void)state;
    for (size_t i = 0; i < NELEM(ok_vecs); i++) {
        const vec *v = &ok_vecs[i];
        /* the first frame is the first reply the reader delivers */
        char *exp1 = strdup(v->expect);
        *strchr(exp1, ';') = '\0';
        ssize_t fl = hr_resp_frame_len(v->in, v->len);
        assert_true(fl > 0);
        size_t steps[1] = {(size_t)fl};
        char *got = run(v->in, (size_t)fl, steps, 1, NULL);
        assert_int_equal(strlen(got), strlen(exp1) + 1);
        assert_memory_equal(got, exp1, strlen(exp1));
        /* the rest is exactly the other replies, frame by frame */
        size_t pos = (size_t)fl;
        while (pos < v->len) {
            ssize_t k = hr_resp_frame_len(v->in + pos, v->len - pos);
            assert_true(k > 0);
            pos += (size_t)k;
        }
        assert_int_equal(pos, v->len);
        for (size_t k = 0; k < (size_t)fl; k++)
            assert_int_equal(hr_resp_frame_len(v->in, k), 0);
        free(got);
        free(exp1);
    }
    for (size_t i = 0; i < NELEM(err_vecs); i++) {
        const vec *v = &err_vecs[i];
        if (strncmp(v->expect, "E(", 2) != 0) continue;
        assert_int_equal(hr_resp_frame_len(v->in, v->len), -1);
    }
    /* a count the rest of the buffer cannot hold: incomplete, at once */
    assert_int_equal(hr_resp_frame_len(S("*4294967295\r\n:1\r\n")), 0);
    assert_int_equal(hr_resp_frame_len(S("*4294967296\r\n")), -1);
    assert_int_equal(hr_resp_frame_len(S("$536870912\r\nabc")), 0);
    assert_int_equal(hr_resp_frame_len(S("")), 0);
    assert_int_equal(hr_resp_frame_len(S(":1\r\n:2\r\n")), 4);
    assert_int_equal(hr_resp_frame_len(S("|1\r\n:1\r\n:2\r\n:3\r\n")), 12);
    assert_int_equal(hr_resp_frame_len(S("*1\r\n|1\r\n:1\r\n:2\r\n:3\r\n")), 20);
    assert_int_equal(hr_resp_frame_len(S("*1\r\n|1\r\n:1\r\n:2\r\n")), 0);
}

/* frame_len reads nothing past len: every prefix of every vector ends
 * right before a PROT_NONE page. */
static void test_frame_len_guard_page(void **state)
{
    (void)state;
    long pg = sysconf(_SC_PAGESIZE);
    size_t region = 2 * (size_t)pg;
    char *base =
        mmap(NULL, region + (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(base != MAP_FAILED);
    assert_int_equal(mprotect(base + region, (size_t)pg, PROT_NONE), 0);
    char *end = base + region;
    const vec *sets[] = {ok_vecs, err_vecs};
    size_t counts[] = {NELEM(ok_vecs), NELEM(err_vecs)};
    for (size_t s = 0; s < 2; s++)
        for (size_t i = 0; i < counts[s]; i++) {
            const vec *v = &sets[s][i];
            for (size_t k = 0; k <= v->len; k++) {
                memcpy(end - k, v->in, k);
                ssize_t fl = hr_resp_frame_len(end - k, k);
                assert_true(fl >= -1 && fl <= (ssize_t)k);
                /* and the reader agrees on complete frames */
                if (fl > 0) {
                    hr_reader *r = hr_reader_new(NULL);
                    hr_reader_feed(r, end - k, (size_t)fl);
                    void *rep;
                    assert_int_equal(hr_reader_get(r, &rep), 0);
                    assert_non_null(rep);
                    hr_reply_free(rep);
                    assert_int_equal(hr_reader_get(r, &rep), 0);
                    assert_null(rep);
                    hr_reader_free(r);
                }
            }
        }
    munmap(base, region + (size_t)pg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_vectors),
        cmocka_unit_test(test_err_vectors),
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_reply_fields),
        cmocka_unit_test(test_sticky_error),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_element_and_bulk_limits),
        cmocka_unit_test(test_no_huge_alloc),
        cmocka_unit_test(test_custom_fns),
        cmocka_unit_test(test_null_callbacks),
        cmocka_unit_test(test_frame_len),
        cmocka_unit_test(test_frame_len_guard_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
