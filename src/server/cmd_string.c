/*
 * cmd_string.c - the string commands: GET/SET and their variants (SETEX,
 * PSETEX, SETNX, GETDEL, GETEX, GETSET, MGET, MSET, MSETNX), STRLEN, APPEND,
 * the counters (INCR, INCRBY, INCRBYFLOAT, DECR, DECRBY), ranges (GETRANGE,
 * SUBSTR, SETRANGE), the bit commands (SETBIT, GETBIT, BITCOUNT, BITPOS,
 * BITOP) and LCS.
 *
 * Behaviour, error texts, keyspace events and the encoding of stored values
 * follow Redis 7: a fresh value from SET and friends is INT when it is a
 * canonical integer, else EMBSTR/RAW by length; counters store INT;
 * INCRBYFLOAT stores its text; commands that edit a value in place (APPEND,
 * SETRANGE, SETBIT) leave it RAW; BITOP stores RAW.
 *
 * Every size a client controls (SETRANGE offset, SETBIT offset, LCS table) is
 * checked against proto-max-bulk-len before anything is allocated for it.
 */
#include "server.h"
#include "alloc.h"
#include "cmds.h"
#include "db.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_NOT_INT "ERR value is not an integer or out of range"
#define ERR_TOO_BIG "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
#define ERR_BIT_OFFSET "ERR bit offset is not an integer or out of range"
#define ERR_BIT_VALUE "ERR bit is not an integer or out of range"

/* Longest text accepted for a long double, as Redis (5 KB). */
#define LD_MAX_CHARS (5 * 1024)

/* --- shared helpers -------------------------------------------------------- */

static bool arg_ll_or_reply(hr_conn *c, const hr_arg *a, long long *v)
{
    if (hr_arg_ll(a, v)) return true;
    hr_reply_error(c, ERR_NOT_INT);
    return false;
}

/* A write changed key: WATCH/tracking, the keyspace event, the dirty count. */
static void key_changed(hr_conn *c, hr_db *db, const hr_arg *key, int type, const char *event)
{
    hr_signal_modified_key(c->srv, c, db, key->ptr, key->len);
    hr_notify_keyspace_event(c->srv, type, event, key->ptr, key->len, db->id);
    c->srv->dirty++;
}

static hr_dict_entry *lookup_write_entry(hr_conn *c, hr_db *db, const hr_arg *key)
{
    return hr_db_lookup_entry(c->srv, db, key->ptr, key->len, HR_LOOKUP_WRITE);
}

/* Whether a string of size + extra bytes is allowed; replies the error when
 * not. */
static bool size_ok(hr_conn *c, unsigned long long size, unsigned long long extra)
{
    unsigned long long max = (unsigned long long)c->srv->cfg.proto_max_bulk_len;
    if (size > max || extra > max - size) {
        hr_reply_error(c, ERR_TOO_BIG);
        return false;
    }
    return true;
}

/* A RAW string object owning buf (len bytes plus a NUL, hr_malloc'd). */
static hr_obj *raw_adopt(hr_server *s, char *buf, size_t len)
{
    hr_obj *o = hr_obj_raw(s, NULL, 0);
    hr_free(o->v.ptr);
    buf[len] = '\0';
    o->v.ptr = buf;
    o->cap = len + 1;
    o->len = len;
    return o;
}

/* A RAW string of len zero bytes (calloc: large ones stay untouched pages). */
static hr_obj *zeroed_raw(hr_server *s, size_t len)
{
    return raw_adopt(s, hr_calloc(1, len + 1), len);
}

/* Makes o RAW with at least len bytes (new bytes are zero); returns the
 * buffer. */
static unsigned char *raw_grow(hr_obj *o, size_t len)
{
    size_t olen = hr_obj_strlen(o); /* o->len is not the length of an INT */
    char *buf = hr_obj_make_raw(o, len > olen ? len : olen);
    if (len > olen) {
        memset(buf + olen, 0, len - olen);
        o->len = len;
        buf[len] = '\0';
    }
    return (unsigned char *)buf;
}

/* --- SET and its options ---------------------------------------------------- */

enum {
    OPT_NX = 1 << 0,
    OPT_XX = 1 << 1,
    OPT_GET = 1 << 2,
    OPT_KEEPTTL = 1 << 3,
    OPT_PERSIST = 1 << 4,
    OPT_EX = 1 << 5,
    OPT_PX = 1 << 6,
    OPT_EXAT = 1 << 7,
    OPT_PXAT = 1 << 8,
};
#define OPT_ANY_EXPIRE (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

/* Parses the options of SET (is_set) or GETEX from argv[first]. Redis's rules:
 * NX/XX exclude each other, an expiry excludes the other expiry forms and
 * KEEPTTL/PERSIST, a repeated option is accepted (the last expiry wins).
 * Replies the syntax error and returns false on anything else. */
static bool parse_set_options(hr_conn *c, int argc, hr_arg *argv, int first, bool is_set,
                              int *flags, const hr_arg **expire)
{
    int f = 0;
    *expire = NULL;
    for (int j = first; j < argc; j++) {
        const hr_arg *opt = &argv[j];
        bool has_next = j + 1 < argc;
        if (is_set && hr_arg_eq(opt, "nx") && !(f & OPT_XX)) {
            f |= OPT_NX;
        } else if (is_set && hr_arg_eq(opt, "xx") && !(f & OPT_NX)) {
            f |= OPT_XX;
        } else if (is_set && hr_arg_eq(opt, "get")) {
            f |= OPT_GET;
        } else if (is_set && hr_arg_eq(opt, "keepttl") && !(f & (OPT_PERSIST | OPT_ANY_EXPIRE))) {
            f |= OPT_KEEPTTL;
        } else if (!is_set && hr_arg_eq(opt, "persist") && !(f & (OPT_KEEPTTL | OPT_ANY_EXPIRE))) {
            f |= OPT_PERSIST;
        } else {
            static const struct {
                const char *name;
                int flag;
            } exp[] = {{"ex", OPT_EX}, {"px", OPT_PX}, {"exat", OPT_EXAT}, {"pxat", OPT_PXAT}};
            int which = 0;
            for (size_t k = 0; k < sizeof(exp) / sizeof(exp[0]); k++)
                if (hr_arg_eq(opt, exp[k].name)) which = exp[k].flag;
            int others = (OPT_ANY_EXPIRE & ~which) | OPT_KEEPTTL | OPT_PERSIST;
            if (!which || (f & others) || !has_next) {
                hr_reply_syntax_error(c);
                return false;
            }
            f |= which;
            *expire = &argv[++j];
        }
    }
    *flags = f;
    return true;
}

/* The absolute expiry (UNIX ms) an EX/PX/EXAT/PXAT argument asks for.
 * Replies the error and returns false when it is not a positive integer or
 * overflows. */
static bool expire_at_ms(hr_conn *c, const hr_arg *arg, int flags, const char *cmd, long long *out)
{
    long long v;
    if (!arg_ll_or_reply(c, arg, &v)) return false;
    bool seconds = flags & (OPT_EX | OPT_EXAT);
    bool relative = flags & (OPT_EX | OPT_PX);
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) goto invalid;
    if (seconds) v *= 1000;
    if (relative) {
        long long now = hr_db_now_ms(c->srv);
        if (v > LLONG_MAX - now) goto invalid;
        v += now;
    }
    *out = v;
    return true;
invalid:
    hr_reply_errorf(c, "ERR invalid expire time in '%s' command", cmd);
    return false;
}

enum { REPLY_OK_NULL, REPLY_ONE_ZERO };

static void set_generic(hr_conn *c, int flags, const hr_arg *key, const hr_arg *val,
                        const hr_arg *expire, const char *cmd, int reply_kind)
{
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    long long when = 0;
    if (expire && !expire_at_ms(c, expire, flags, cmd, &when)) return;
    if (flags & OPT_GET) {
        hr_obj *old = hr_db_lookup_read(c, key);
        if (old)
            hr_reply_obj(c, old);
        else
            hr_reply_null(c);
    }
    bool found = hr_db_lookup_write(c, key) != NULL;
    if (((flags & OPT_NX) && found) || ((flags & OPT_XX) && !found)) {
        if (flags & OPT_GET) return;
        if (reply_kind == REPLY_ONE_ZERO)
            hr_reply_int(c, 0);
        else
            hr_reply_null(c);
        return;
    }
    hr_obj *o = hr_obj_string_try_int(s, val->ptr, val->len);
    hr_dict_entry *e =
        hr_db_set_key(c, db, key->ptr, key->len, o, (flags & OPT_KEEPTTL) ? HR_SETKEY_KEEPTTL : 0);
    if (expire) hr_db_set_expire(db, e, when);
    s->dirty++;
    hr_notify_keyspace_event(s, HR_NOTIFY_STRING, "set", key->ptr, key->len, db->id);
    if (expire)
        hr_notify_keyspace_event(s, HR_NOTIFY_GENERIC, "expire", key->ptr, key->len, db->id);
    if (flags & OPT_GET) return;
    if (reply_kind == REPLY_ONE_ZERO)
        hr_reply_int(c, 1);
    else
        hr_reply_ok(c);
}

HR_CMD(set)
{
    int flags;
    const hr_arg *expire;
    if (!parse_set_options(c, argc, argv, 3, true, &flags, &expire)) return;
    set_generic(c, flags, &argv[1], &argv[2], expire, "set", REPLY_OK_NULL);
}

HR_CMD(setex)
{
    (void)argc;
    set_generic(c, OPT_EX, &argv[1], &argv[3], &argv[2], "setex", REPLY_OK_NULL);
}

HR_CMD(psetex)
{
    (void)argc;
    set_generic(c, OPT_PX, &argv[1], &argv[3], &argv[2], "psetex", REPLY_OK_NULL);
}

HR_CMD(setnx)
{
    (void)argc;
    set_generic(c, OPT_NX, &argv[1], &argv[2], NULL, "setnx", REPLY_ONE_ZERO);
}

/* --- reads and read-and-modify ------------------------------------------------ */

HR_CMD(get)
{
    (void)argc;
    hr_obj *o = hr_db_lookup_read(c, &argv[1]);
    if (o)
        hr_reply_obj(c, o);
    else
        hr_reply_null(c);
}

HR_CMD(getdel)
{
    (void)argc;
    hr_db *db = hr_conn_db(c);
    hr_obj *o = hr_db_lookup_read(c, &argv[1]);
    if (!o) {
        hr_reply_null(c);
        return;
    }
    hr_reply_obj(c, o);
    hr_db_delete(c->srv, db, argv[1].ptr, argv[1].len);
    key_changed(c, db, &argv[1], HR_NOTIFY_GENERIC, "del");
}

HR_CMD(getex)
{
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    int flags;
    const hr_arg *expire;
    if (!parse_set_options(c, argc, argv, 2, false, &flags, &expire)) return;
    hr_dict_entry *e = hr_db_lookup_entry(s, db, argv[1].ptr, argv[1].len, 0);
    if (!e) {
        hr_reply_null(c);
        return;
    }
    long long when = 0;
    if (expire && !expire_at_ms(c, expire, flags, "getex", &when)) return;
    hr_reply_obj(c, e->val);
    if ((flags & (OPT_EXAT | OPT_PXAT)) && when <= hr_db_now_ms(s)) {
        /* An absolute time already past: the key goes now. */
        hr_db_delete(s, db, argv[1].ptr, argv[1].len);
        key_changed(c, db, &argv[1], HR_NOTIFY_GENERIC, "del");
    } else if (expire) {
        hr_db_set_expire(db, e, when);
        key_changed(c, db, &argv[1], HR_NOTIFY_GENERIC, "expire");
    } else if (flags & OPT_PERSIST) {
        if (hr_db_persist(db, e)) key_changed(c, db, &argv[1], HR_NOTIFY_GENERIC, "persist");
    }
}

HR_CMD(getset)
{
    (void)argc;
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    hr_obj *old = hr_db_lookup_read(c, &argv[1]);
    if (old)
        hr_reply_obj(c, old);
    else
        hr_reply_null(c);
    hr_obj *o = hr_obj_string_try_int(s, argv[2].ptr, argv[2].len);
    hr_db_set_key(c, db, argv[1].ptr, argv[1].len, o, 0);
    hr_notify_keyspace_event(s, HR_NOTIFY_STRING, "set", argv[1].ptr, argv[1].len, db->id);
    s->dirty++;
}

HR_CMD(mget)
{
    hr_reply_array(c, argc - 1);
    for (int j = 1; j < argc; j++) {
        hr_obj *o = hr_db_lookup_read(c, &argv[j]);
        if (o)
            hr_reply_obj(c, o);
        else
            hr_reply_null(c);
    }
}

static void mset_generic(hr_conn *c, int argc, hr_arg *argv, bool nx)
{
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    if (argc % 2 == 0) {
        hr_reply_wrong_arity(c, nx ? "msetnx" : "mset");
        return;
    }
    if (nx) {
        for (int j = 1; j < argc; j += 2) {
            if (hr_db_lookup_write(c, &argv[j])) {
                hr_reply_int(c, 0);
                return;
            }
        }
    }
    for (int j = 1; j < argc; j += 2) {
        hr_obj *o = hr_obj_string_try_int(s, argv[j + 1].ptr, argv[j + 1].len);
        hr_db_set_key(c, db, argv[j].ptr, argv[j].len, o, 0);
        hr_notify_keyspace_event(s, HR_NOTIFY_STRING, "set", argv[j].ptr, argv[j].len, db->id);
    }
    s->dirty += (argc - 1) / 2;
    if (nx)
        hr_reply_int(c, 1);
    else
        hr_reply_ok(c);
}

HR_CMD(mset)
{
    mset_generic(c, argc, argv, false);
}

HR_CMD(msetnx)
{
    mset_generic(c, argc, argv, true);
}

HR_CMD(strlen)
{
    (void)argc;
    hr_obj *o = hr_db_lookup_read(c, &argv[1]);
    hr_reply_int(c, o ? (long long)hr_obj_strlen(o) : 0);
}

HR_CMD(append)
{
    (void)argc;
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    const hr_arg *key = &argv[1], *add = &argv[2];
    hr_dict_entry *e = lookup_write_entry(c, db, key);
    size_t total;
    if (!e) {
        /* A new key stores the argument as SET would. */
        hr_db_add(s, db, key->ptr, key->len, hr_obj_string_try_int(s, add->ptr, add->len));
        total = add->len;
    } else {
        hr_obj *o = e->val;
        size_t olen = hr_obj_strlen(o);
        if (!size_ok(c, olen, add->len)) return;
        total = olen + add->len;
        char *buf = hr_obj_make_raw(o, total);
        if (add->len) memcpy(buf + olen, add->ptr, add->len);
        buf[total] = '\0';
        o->len = total;
    }
    key_changed(c, db, key, HR_NOTIFY_STRING, "append");
    hr_reply_int(c, (long long)total);
}

/* --- counters ------------------------------------------------------------------ */

static void incr_generic(hr_conn *c, const hr_arg *key, long long by)
{
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    hr_dict_entry *e = lookup_write_entry(c, db, key);
    long long cur = 0;
    if (e && !hr_obj_get_ll(e->val, &cur)) {
        hr_reply_error(c, ERR_NOT_INT);
        return;
    }
    if ((by < 0 && cur < 0 && by < LLONG_MIN - cur) ||
        (by > 0 && cur > 0 && by > LLONG_MAX - cur)) {
        hr_reply_error(c, "ERR increment or decrement would overflow");
        return;
    }
    long long v = cur + by;
    if (!e) {
        hr_db_add(s, db, key->ptr, key->len, hr_obj_from_ll(s, v));
    } else {
        hr_obj *o = e->val;
        if (o->enc == HR_ENC_INT)
            o->v.ll = v;
        else
            hr_db_replace(s, e, hr_obj_from_ll(s, v));
    }
    key_changed(c, db, key, HR_NOTIFY_STRING, "incrby");
    hr_reply_int(c, v);
}

HR_CMD(incr)
{
    (void)argc;
    incr_generic(c, &argv[1], 1);
}

HR_CMD(decr)
{
    (void)argc;
    incr_generic(c, &argv[1], -1);
}

HR_CMD(incrby)
{
    (void)argc;
    long long by;
    if (!arg_ll_or_reply(c, &argv[2], &by)) return;
    incr_generic(c, &argv[1], by);
}

HR_CMD(decrby)
{
    (void)argc;
    long long by;
    if (!arg_ll_or_reply(c, &argv[2], &by)) return;
    if (by == LLONG_MIN) {
        hr_reply_error(c, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, &argv[1], -by);
}

/* Parses a long double the way Redis does: strtold on the whole text, no
 * leading space, no NaN, no overflow (underflow to a non-zero value is
 * fine), at most LD_MAX_CHARS - 1 bytes. */
static bool parse_long_double(const char *p, size_t len, long double *out)
{
    char buf[LD_MAX_CHARS];
    if (len == 0 || len >= sizeof(buf)) return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) return false;
    errno = 0;
    char *end;
    long double v = strtold(buf, &end);
    if (end != buf + len) return false; /* all of it, embedded NULs included */
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO))
        return false;
    if (isnan(v)) return false;
    *out = v;
    return true;
}

/* INCRBYFLOAT's text: fixed notation with 17 decimals, trailing zeros (and a
 * bare point) dropped, "-0" written "0". Returns the length (0 if it does not
 * fit, which a finite long double never does in LD_MAX_CHARS). */
static size_t format_long_double(char *buf, size_t cap, long double v)
{
    int n = snprintf(buf, cap, "%.17Lf", v);
    if (n <= 0 || (size_t)n >= cap) return 0;
    if (memchr(buf, '.', (size_t)n)) {
        while (buf[n - 1] == '0')
            n--;
        if (buf[n - 1] == '.') n--;
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        n = 1;
    }
    return (size_t)n;
}

HR_CMD(incrbyfloat)
{
    (void)argc;
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    const hr_arg *key = &argv[1];
    hr_dict_entry *e = lookup_write_entry(c, db, key);
    long double cur = 0, by;
    if (e) {
        hr_obj *o = e->val;
        bool ok;
        if (o->enc == HR_ENC_INT) {
            cur = (long double)o->v.ll;
            ok = true;
        } else {
            ok = parse_long_double(o->v.ptr, o->len, &cur);
        }
        if (!ok) {
            hr_reply_error(c, "ERR value is not a valid float");
            return;
        }
    }
    if (!parse_long_double(argv[2].ptr, argv[2].len, &by)) {
        hr_reply_error(c, "ERR value is not a valid float");
        return;
    }
    long double v = cur + by;
    if (isnan(v) || isinf(v)) {
        hr_reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[LD_MAX_CHARS + 64];
    size_t n = format_long_double(buf, sizeof(buf), v);
    hr_obj *o = hr_obj_string(s, buf, n);
    if (e)
        hr_db_replace(s, e, o);
    else
        hr_db_add(s, db, key->ptr, key->len, o);
    key_changed(c, db, key, HR_NOTIFY_STRING, "incrbyfloat");
    hr_reply_bulk(c, buf, n);
}

/* --- ranges -------------------------------------------------------------------- */

HR_CMD(getrange)
{
    (void)argc;
    long long start, end;
    if (!arg_ll_or_reply(c, &argv[2], &start) || !arg_ll_or_reply(c, &argv[3], &end)) return;
    hr_obj *o = hr_db_lookup_read(c, &argv[1]);
    if (!o) {
        hr_reply_bulk(c, "", 0);
        return;
    }
    char tmp[24];
    size_t len;
    const char *p = hr_obj_bytes(o, tmp, &len);
    long long n = (long long)len;
    if (start < 0 && end < 0 && start > end) {
        hr_reply_bulk(c, "", 0);
        return;
    }
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= n) end = n - 1;
    if (n == 0 || start > end)
        hr_reply_bulk(c, "", 0);
    else
        hr_reply_bulk(c, p + start, (size_t)(end - start + 1));
}

HR_CMD(substr)
{
    hr_cmd_getrange(c, argc, argv);
}

HR_CMD(setrange)
{
    (void)argc;
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    const hr_arg *key = &argv[1], *val = &argv[3];
    long long off;
    if (!arg_ll_or_reply(c, &argv[2], &off)) return;
    if (off < 0) {
        hr_reply_error(c, "ERR offset is out of range");
        return;
    }
    hr_dict_entry *e = lookup_write_entry(c, db, key);
    size_t total;
    if (!e) {
        /* Nothing to write: no key is created. */
        if (val->len == 0) {
            hr_reply_int(c, 0);
            return;
        }
        if (!size_ok(c, (unsigned long long)off, val->len)) return;
        total = (size_t)off + val->len;
        hr_obj *o = zeroed_raw(s, total);
        memcpy(o->v.ptr + off, val->ptr, val->len);
        hr_db_add(s, db, key->ptr, key->len, o);
    } else {
        hr_obj *o = e->val;
        size_t olen = hr_obj_strlen(o);
        if (val->len == 0) {
            hr_reply_int(c, (long long)olen);
            return;
        }
        if (!size_ok(c, (unsigned long long)off, val->len)) return;
        unsigned char *buf = raw_grow(o, (size_t)off + val->len);
        memcpy(buf + off, val->ptr, val->len);
        total = o->len;
    }
    key_changed(c, db, key, HR_NOTIFY_STRING, "setrange");
    hr_reply_int(c, (long long)total);
}

/* --- bits ------------------------------------------------------------------------ */

/* A SETBIT/GETBIT offset: a non-negative integer whose byte is within
 * proto-max-bulk-len. */
static bool bit_offset_or_reply(hr_conn *c, const hr_arg *a, uint64_t *out)
{
    long long v;
    if (!hr_arg_ll(a, &v) || v < 0 || (v >> 3) >= c->srv->cfg.proto_max_bulk_len) {
        hr_reply_error(c, ERR_BIT_OFFSET);
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

HR_CMD(setbit)
{
    (void)argc;
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    const hr_arg *key = &argv[1];
    uint64_t off;
    long long on;
    if (!bit_offset_or_reply(c, &argv[2], &off)) return;
    if (!hr_arg_ll(&argv[3], &on) || (on & ~1LL)) {
        hr_reply_error(c, ERR_BIT_VALUE);
        return;
    }
    size_t byte = (size_t)(off >> 3);
    hr_dict_entry *e = lookup_write_entry(c, db, key);
    hr_obj *o;
    bool grew;
    if (!e) {
        o = zeroed_raw(s, byte + 1);
        hr_db_add(s, db, key->ptr, key->len, o);
        grew = true;
    } else {
        o = e->val;
        size_t olen = hr_obj_strlen(o);
        raw_grow(o, byte + 1);
        grew = o->len > olen;
    }
    unsigned char *p = (unsigned char *)o->v.ptr;
    unsigned mask = 1u << (7 - (off & 7));
    int old = (p[byte] & mask) ? 1 : 0;
    if (on)
        p[byte] |= (unsigned char)mask;
    else
        p[byte] &= (unsigned char)~mask;
    if (grew || old != (int)on) key_changed(c, db, key, HR_NOTIFY_STRING, "setbit");
    hr_reply_int(c, old);
}

HR_CMD(getbit)
{
    (void)argc;
    uint64_t off;
    if (!bit_offset_or_reply(c, &argv[2], &off)) return;
    hr_obj *o = hr_db_lookup_read(c, &argv[1]);
    if (!o) {
        hr_reply_int(c, 0);
        return;
    }
    char tmp[24];
    size_t len;
    const unsigned char *p = (const unsigned char *)hr_obj_bytes(o, tmp, &len);
    uint64_t byte = off >> 3;
    int bit = 0;
    if (byte < len) bit = (p[byte] >> (7 - (off & 7))) & 1;
    hr_reply_int(c, bit);
}

static uint64_t popcount_bytes(const unsigned char *p, size_t n)
{
    uint64_t count = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        count += (uint64_t)__builtin_popcountll(w);
    }
    for (; i < n; i++)
        count += (uint64_t)__builtin_popcount(p[i]);
    return count;
}

/* Resolves a BITCOUNT/BITPOS range against a string of n units (bytes or
 * bits), Redis's way: negative values count from the end, both are clamped
 * into the string. BITCOUNT (neg_check) first treats two negative values in
 * the wrong order as empty; BITPOS clamps them (-1 -2 on one byte is byte 0).
 * Returns false when the range is empty. */
static bool resolve_range(long long n, long long *start, long long *end, bool neg_check)
{
    long long s = *start, e = *end;
    if (neg_check && s < 0 && e < 0 && s > e) return false;
    if (s < 0) s += n;
    if (e < 0) e += n;
    if (s < 0) s = 0;
    if (e < 0) e = 0;
    if (e >= n) e = n - 1;
    if (s > e) return false;
    *start = s;
    *end = e;
    return true;
}

/* Parses a BYTE|BIT unit; replies the syntax error on anything else. */
static bool unit_or_reply(hr_conn *c, const hr_arg *a, bool *isbit)
{
    if (hr_arg_eq(a, "bit"))
        *isbit = true;
    else if (hr_arg_eq(a, "byte"))
        *isbit = false;
    else {
        hr_reply_syntax_error(c);
        return false;
    }
    return true;
}

HR_CMD(bitcount)
{
    hr_obj *o = hr_db_lookup_read(c, &argv[1]);
    if (!o) {
        hr_reply_int(c, 0);
        return;
    }
    char tmp[24];
    size_t len;
    const unsigned char *p = (const unsigned char *)hr_obj_bytes(o, tmp, &len);
    if (argc == 2) {
        hr_reply_int(c, (long long)popcount_bytes(p, len));
        return;
    }
    if (argc != 4 && argc != 5) {
        hr_reply_syntax_error(c);
        return;
    }
    long long start, end;
    bool isbit = false;
    if (!arg_ll_or_reply(c, &argv[2], &start) || !arg_ll_or_reply(c, &argv[3], &end)) return;
    if (argc == 5 && !unit_or_reply(c, &argv[4], &isbit)) return;
    long long n = isbit ? (long long)len * 8 : (long long)len;
    if (!resolve_range(n, &start, &end, true)) {
        hr_reply_int(c, 0);
        return;
    }
    if (!isbit) {
        hr_reply_int(c, (long long)popcount_bytes(p + start, (size_t)(end - start + 1)));
        return;
    }
    size_t sb = (size_t)(start >> 3), eb = (size_t)(end >> 3);
    uint64_t count = popcount_bytes(p + sb, eb - sb + 1);
    /* Take out the bits of the edge bytes that lie outside the range. */
    count -= (uint64_t)__builtin_popcount(p[sb] & ~(0xffu >> (start & 7)) & 0xffu);
    count -= (uint64_t)__builtin_popcount(p[eb] & (0xffu >> ((end & 7) + 1)));
    hr_reply_int(c, (long long)count);
}

static int bit_at(const unsigned char *p, uint64_t i)
{
    return (p[i >> 3] >> (7 - (i & 7))) & 1;
}

/* The first bit equal to bit within bits [from, to] of p, or -1. */
static long long find_bit(const unsigned char *p, uint64_t from, uint64_t to, int bit)
{
    uint64_t i = from;
    for (; i <= to && (i & 7); i++)
        if (bit_at(p, i) == bit) return (long long)i;
    if (i > to) return -1;
    /* Whole bytes: skip those that cannot hold the bit, a word at a time. */
    size_t byte = (size_t)(i >> 3), endbyte = (size_t)((to + 1) >> 3);
    unsigned char skip = bit ? 0x00 : 0xff;
    uint64_t skipw = bit ? 0 : UINT64_MAX;
    while (byte + 8 <= endbyte) {
        uint64_t w;
        memcpy(&w, p + byte, 8);
        if (w != skipw) break;
        byte += 8;
    }
    while (byte < endbyte && p[byte] == skip)
        byte++;
    if (byte < endbyte) {
        for (uint64_t k = (uint64_t)byte * 8;; k++)
            if (bit_at(p, k) == bit) return (long long)k;
    }
    for (i = (uint64_t)endbyte * 8; i <= to; i++)
        if (bit_at(p, i) == bit) return (long long)i;
    return -1;
}

HR_CMD(bitpos)
{
    long long bit;
    if (!arg_ll_or_reply(c, &argv[2], &bit)) return;
    if (bit != 0 && bit != 1) {
        hr_reply_error(c, "ERR The bit argument must be 1 or 0.");
        return;
    }
    /* A missing key is an endless run of zeros. */
    hr_obj *o = hr_db_lookup_read(c, &argv[1]);
    if (!o) {
        hr_reply_int(c, bit ? -1 : 0);
        return;
    }
    char tmp[24];
    size_t len;
    const unsigned char *p = (const unsigned char *)hr_obj_bytes(o, tmp, &len);
    long long start = 0, end = (long long)len - 1;
    bool isbit = false, end_given = false;
    if (argc > 6) {
        hr_reply_syntax_error(c);
        return;
    }
    if (argc >= 4) {
        if (!arg_ll_or_reply(c, &argv[3], &start)) return;
        if (argc == 6 && !unit_or_reply(c, &argv[5], &isbit)) return;
        if (argc >= 5) {
            if (!arg_ll_or_reply(c, &argv[4], &end)) return;
            end_given = true;
        }
    }
    long long n = isbit ? (long long)len * 8 : (long long)len;
    if (!resolve_range(n, &start, &end, false)) {
        hr_reply_int(c, -1);
        return;
    }
    uint64_t from = isbit ? (uint64_t)start : (uint64_t)start * 8;
    uint64_t to = isbit ? (uint64_t)end : (uint64_t)end * 8 + 7;
    long long pos = find_bit(p, from, to, (int)bit);
    /* Looking for a clear bit without an explicit end: the string continues
     * with zeros past its last byte. */
    if (pos < 0 && bit == 0 && !end_given) pos = (long long)to + 1;
    hr_reply_int(c, pos);
}

enum { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

HR_CMD(bitop)
{
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    int op;
    if (hr_arg_eq(&argv[1], "and"))
        op = BITOP_AND;
    else if (hr_arg_eq(&argv[1], "or"))
        op = BITOP_OR;
    else if (hr_arg_eq(&argv[1], "xor"))
        op = BITOP_XOR;
    else if (hr_arg_eq(&argv[1], "not"))
        op = BITOP_NOT;
    else {
        hr_reply_syntax_error(c);
        return;
    }
    if (op == BITOP_NOT && argc != 4) {
        hr_reply_error(c, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    int nsrc = argc - 3;
    const unsigned char **src = hr_malloc(sizeof(*src) * (size_t)nsrc);
    size_t *lens = hr_malloc(sizeof(*lens) * (size_t)nsrc);
    char(*ints)[24] = hr_malloc(sizeof(*ints) * (size_t)nsrc);
    size_t maxlen = 0;
    for (int j = 0; j < nsrc; j++) {
        hr_obj *o = hr_db_lookup_read(c, &argv[3 + j]);
        if (!o) {
            src[j] = NULL;
            lens[j] = 0;
            continue;
        }
        src[j] = (const unsigned char *)hr_obj_bytes(o, ints[j], &lens[j]);
        if (lens[j] > maxlen) maxlen = lens[j];
    }
    unsigned char *res = NULL;
    if (maxlen) {
        /* Bytes past the end of a shorter source count as zero. */
        res = hr_malloc(maxlen + 1);
        for (size_t i = 0; i < maxlen; i++) {
            unsigned char acc = lens[0] > i ? src[0][i] : 0;
            if (op == BITOP_NOT) acc = (unsigned char)~acc;
            for (int j = 1; j < nsrc; j++) {
                unsigned char b = lens[j] > i ? src[j][i] : 0;
                if (op == BITOP_AND)
                    acc &= b;
                else if (op == BITOP_OR)
                    acc |= b;
                else
                    acc ^= b;
            }
            res[i] = acc;
        }
    }
    const hr_arg *dst = &argv[2];
    if (maxlen) {
        /* Built here (the sources may include the destination). */
        hr_obj *o = raw_adopt(s, (char *)res, maxlen);
        hr_db_set_key(c, db, dst->ptr, dst->len, o, 0);
        hr_notify_keyspace_event(s, HR_NOTIFY_STRING, "set", dst->ptr, dst->len, db->id);
        s->dirty++;
    } else if (hr_db_delete(s, db, dst->ptr, dst->len)) {
        key_changed(c, db, dst, HR_NOTIFY_GENERIC, "del");
    }
    hr_free(src);
    hr_free(lens);
    hr_free(ints);
    hr_reply_int(c, (long long)maxlen);
}

/* --- LCS ------------------------------------------------------------------------ */

typedef struct lcs_match {
    uint32_t a_start, a_end, b_start, b_end;
} lcs_match;

HR_CMD(lcs)
{
    hr_server *s = c->srv;
    hr_obj *oa = hr_db_lookup_read(c, &argv[1]);
    hr_obj *ob = hr_db_lookup_read(c, &argv[2]);
    bool want_idx = false, want_len = false, with_matchlen = false;
    long long minmatchlen = 0;
    for (int j = 3; j < argc; j++) {
        if (hr_arg_eq(&argv[j], "idx")) {
            want_idx = true;
        } else if (hr_arg_eq(&argv[j], "len")) {
            want_len = true;
        } else if (hr_arg_eq(&argv[j], "withmatchlen")) {
            with_matchlen = true;
        } else if (hr_arg_eq(&argv[j], "minmatchlen") && j + 1 < argc) {
            if (!arg_ll_or_reply(c, &argv[++j], &minmatchlen)) return;
            if (minmatchlen < 0) minmatchlen = 0;
        } else {
            hr_reply_syntax_error(c);
            return;
        }
    }
    if (want_idx && want_len) {
        hr_reply_error(c, "ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    char tmpa[24], tmpb[24];
    size_t alen = 0, blen = 0;
    const char *a = oa ? hr_obj_bytes(oa, tmpa, &alen) : "";
    const char *b = ob ? hr_obj_bytes(ob, tmpb, &blen) : "";
    if (alen >= UINT32_MAX - 1 || blen >= UINT32_MAX - 1) {
        hr_reply_error(c, "ERR String too long for LCS");
        return;
    }
    /* The table: (alen + 1) x (blen + 1) lengths of the LCS of prefixes. Its
     * size is bounded by proto-max-bulk-len before it is allocated, and an
     * allocation failure is an error reply, not an abort. */
    uint64_t cells = (uint64_t)(alen + 1) * (uint64_t)(blen + 1);
    uint32_t *dp = NULL;
    if (cells <= SIZE_MAX / sizeof(uint32_t)) {
        if (cells * sizeof(uint32_t) > (uint64_t)s->cfg.proto_max_bulk_len) {
            hr_reply_error(
                c, "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
            return;
        }
        dp = malloc((size_t)cells * sizeof(uint32_t));
    }
    if (!dp) {
        hr_reply_error(c, "ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
    size_t w = blen + 1;
#define LCS_AT(i, j) dp[(size_t)(i)*w + (size_t)(j)]
    for (size_t j = 0; j <= blen; j++)
        LCS_AT(0, j) = 0;
    for (size_t i = 1; i <= alen; i++) {
        LCS_AT(i, 0) = 0;
        for (size_t j = 1; j <= blen; j++) {
            if (a[i - 1] == b[j - 1]) {
                LCS_AT(i, j) = LCS_AT(i - 1, j - 1) + 1;
            } else {
                uint32_t up = LCS_AT(i - 1, j), left = LCS_AT(i, j - 1);
                LCS_AT(i, j) = up > left ? up : left;
            }
        }
    }
    uint32_t total = LCS_AT(alen, blen);
    if (want_len) {
        free(dp);
        hr_reply_int(c, total);
        return;
    }

    /* Walk back from the end: a common byte extends the current run of
     * matches (diagonal step), otherwise step towards the larger
     * sub-solution (towards j on ties). A run ends at a mismatch or at the
     * start of either string. */
    char *str = want_idx ? NULL : hr_malloc((size_t)total + 1);
    lcs_match *matches = NULL;
    size_t nmatches = 0, cap = 0;
    uint32_t fill = total;
    size_t i = alen, j = blen;
    bool in_run = false;
    lcs_match run = {0, 0, 0, 0};
    while (i > 0 && j > 0) {
        bool emit = false;
        if (a[i - 1] == b[j - 1]) {
            if (str) str[--fill] = a[i - 1];
            if (!in_run) {
                run.a_start = run.a_end = (uint32_t)(i - 1);
                run.b_start = run.b_end = (uint32_t)(j - 1);
                in_run = true;
            } else {
                run.a_start--;
                run.b_start--;
            }
            if (run.a_start == 0 || run.b_start == 0) emit = true;
            i--;
            j--;
        } else {
            if (LCS_AT(i - 1, j) > LCS_AT(i, j - 1))
                i--;
            else
                j--;
            if (in_run) emit = true;
        }
        if (emit) {
            uint32_t mlen = run.a_end - run.a_start + 1;
            if (want_idx && (minmatchlen == 0 || (long long)mlen >= minmatchlen)) {
                if (nmatches == cap) {
                    cap = cap ? cap * 2 : 16;
                    matches = hr_realloc(matches, cap * sizeof(*matches));
                }
                matches[nmatches++] = run;
            }
            in_run = false;
        }
    }
#undef LCS_AT
    free(dp);

    if (!want_idx) {
        hr_reply_bulk(c, str, total);
        hr_free(str);
        return;
    }
    hr_reply_map(c, 2);
    hr_reply_bulk_str(c, "matches");
    hr_reply_array(c, (long long)nmatches);
    for (size_t k = 0; k < nmatches; k++) {
        const lcs_match *m = &matches[k];
        hr_reply_array(c, with_matchlen ? 3 : 2);
        hr_reply_array(c, 2);
        hr_reply_int(c, m->a_start);
        hr_reply_int(c, m->a_end);
        hr_reply_array(c, 2);
        hr_reply_int(c, m->b_start);
        hr_reply_int(c, m->b_end);
        if (with_matchlen) hr_reply_int(c, (long long)(m->a_end - m->a_start + 1));
    }
    hr_reply_bulk_str(c, "len");
    hr_reply_int(c, total);
    hr_free(matches);
}
