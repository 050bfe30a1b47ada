/*
 * resp.h - RESP2/RESP3 codec shared by herald-server, libherald and
 * herald-bench. No I/O: callers feed bytes and collect bytes.
 *
 * Three parts:
 *  1. hr_reqparser - incremental request parser used by the server: multibulk
 *     ("*<n>\r\n$<len>\r\n...") and inline commands (a text line, split with
 *     Redis's quoting rules). Multibulk arguments are returned zero-copy as
 *     pointers into the caller's buffer.
 *  2. hr_reader - incremental reply parser for every RESP2/RESP3 type, built
 *     like hiredis's reader: the parser is separate from the objects it builds
 *     (a table of constructor callbacks, hr_reader_fns), an explicit stack (no
 *     recursion), a maximum nesting depth and element count, strict integer
 *     parsing and sticky errors. Default callbacks build hr_reply trees.
 *  3. Writers - append encoded values to an hr_buf.
 *
 * Limits are checked before any allocation that a peer controls.
 */
#ifndef HR_RESP_H
#define HR_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

/* ---- limits ------------------------------------------------------------ */

/* Longest inline command line, and longest "*<n>" / "$<n>" header line. */
#define HR_RESP_INLINE_MAX (64 * 1024)
/* Default proto-max-bulk-len (bytes of one bulk argument). */
#define HR_RESP_MAX_BULK_DEFAULT (512LL * 1024 * 1024)
/* Largest argv preallocation, whatever count the client declares. */
#define HR_RESP_ARGV_PREALLOC_MAX 1024
/* Default maximum nesting depth of a reply tree (hr_reader). */
#define HR_RESP_MAX_DEPTH_DEFAULT 32
/* Default maximum element count of one aggregate reply (hr_reader). */
#define HR_RESP_MAX_ELEMENTS_DEFAULT ((1LL << 32) - 1)

/* ---- 1. request parser --------------------------------------------------- */

typedef struct hr_arg {
    const char *ptr;
    size_t len;
} hr_arg;

enum {
    HR_REQ_ERR = -1,  /* protocol error: p->err holds Redis's text */
    HR_REQ_AGAIN = 0, /* incomplete: call again with the same start + more bytes */
    /* > 0: a complete command; the value is the number of bytes consumed */
};

typedef struct hr_reqparser {
    /* configuration (set by init, may be changed between commands) */
    long long max_bulk_len;

    /* result of the last complete command; argc may be 0 (an empty
     * multibulk "*0\r\n" or a blank inline line: nothing to execute). argv
     * pointers are valid until the next parse call or until the caller
     * changes the buffer. */
    int argc;
    hr_arg *argv;
    bool is_inline;

    /* After HR_REQ_AGAIN: when > 0, the total number of bytes, counted from
     * the command's start, that the command needs at least (lets the caller
     * size its buffer once for a large bulk). */
    size_t want;

    /* After HR_REQ_ERR: the error text, without '-' and CRLF, e.g.
     * "ERR Protocol error: invalid bulk length". */
    const char *err;

    /* --- private state (see reqparse.c) --- */
    char errbuf[64];
    int state;
    bool blocked;       /* a NUL byte precedes the current line's terminator */
    long long mb_count; /* declared multibulk count */
    long long bulk_len; /* length of the bulk being read, -1 when none */
    size_t pos;         /* resume offset from the command start */
    size_t scan;        /* bytes before this offset were searched already */
    size_t nargs;       /* multibulk arguments complete so far */
    size_t argv_cap;    /* entries allocated in argv and arg_off */
    size_t *arg_off;    /* offsets of multibulk args (survive buffer moves) */
    hr_buf scratch;     /* unescaped inline arguments */
} hr_reqparser;

void hr_reqparser_init(hr_reqparser *p, long long max_bulk_len);
void hr_reqparser_release(hr_reqparser *p);
/* Forgets any partial command (after the caller discards its buffer). */
void hr_reqparser_reset(hr_reqparser *p);
/* Parses one command from buf[0..len). buf starts at a command boundary; on
 * HR_REQ_AGAIN the caller calls again later with the same start and more
 * bytes (buf itself may have moved). Returns bytes consumed (> 0),
 * HR_REQ_AGAIN, or HR_REQ_ERR. */
ssize_t hr_reqparser_parse(hr_reqparser *p, const char *buf, size_t len);

/* Splits a line with Redis's inline/config quoting rules ("..." with \n \r
 * \t \b \a \\ \" \xHH escapes, '...' with only \' escaped; a closing quote
 * must be followed by a space or the end). On success returns the argument
 * count and appends the unescaped arguments, each followed by a NUL, to
 * `out`; argv[i].ptr then point into out->data (valid until out changes).
 * Returns -1 on unbalanced quotes. At most `max_args` args (-1 beyond). */
int hr_resp_split_line(const char *line, size_t len, hr_buf *out, hr_arg *argv, int max_args);

/* ---- 2. reply reader ----------------------------------------------------- */

typedef enum hr_resp_type {
    HR_RESP_STRING = 1, /* +simple */
    HR_RESP_ERROR,      /* -error */
    HR_RESP_INTEGER,    /* :int */
    HR_RESP_BULK,       /* $bulk */
    HR_RESP_ARRAY,      /* * */
    HR_RESP_NIL,        /* $-1, *-1, _ */
    HR_RESP_MAP,        /* % */
    HR_RESP_SET,        /* ~ */
    HR_RESP_ATTR,       /* | */
    HR_RESP_PUSH,       /* > */
    HR_RESP_DOUBLE,     /* , */
    HR_RESP_BOOL,       /* # */
    HR_RESP_VERB,       /* = */
    HR_RESP_BIGNUM,     /* ( */
    HR_RESP_BLOBERR,    /* ! */
} hr_resp_type;

/* Where a value sits inside its parent while it is being built. */
typedef struct hr_reader_task {
    hr_resp_type type;
    long long elements; /* aggregate: declared count (maps: 2 * pairs) */
    int idx;            /* index in parent, -1 at the top */
    void *obj;          /* object built for this aggregate */
    struct hr_reader_task *parent;
    void *privdata;
} hr_reader_task;

/* Constructor callbacks. Each returns the new object (or NULL on allocation
 * failure, which makes the reader fail). Objects for children are attached
 * to task->parent->obj by the callback itself. free_obj releases a whole
 * (partial) tree on error. A NULL fns pointer uses the hr_reply builders. */
typedef struct hr_reader_fns {
    void *(*create_string)(const hr_reader_task *t, const char *s, size_t len);
    void *(*create_array)(const hr_reader_task *t, size_t elements);
    void *(*create_integer)(const hr_reader_task *t, long long v);
    void *(*create_double)(const hr_reader_task *t, double v, const char *s, size_t len);
    void *(*create_nil)(const hr_reader_task *t);
    void *(*create_bool)(const hr_reader_task *t, int v);
    void (*free_obj)(void *obj);
} hr_reader_fns;

typedef struct hr_reader hr_reader;

/* Creates a reader; fns may be NULL (hr_reply trees). */
hr_reader *hr_reader_new(const hr_reader_fns *fns);
void hr_reader_free(hr_reader *r);
void hr_reader_set_limits(hr_reader *r, int max_depth, long long max_elements,
                          long long max_bulk);
/* Appends bytes to the reader's buffer. Returns 0, or -1 after an error. */
int hr_reader_feed(hr_reader *r, const char *buf, size_t len);
/* Takes the next complete reply: returns 0 and sets *reply (NULL when no
 * complete reply is buffered yet; ownership passes to the caller), or -1 on
 * a protocol error (sticky: every later call fails too). */
int hr_reader_get(hr_reader *r, void **reply);
/* The error text after -1. */
const char *hr_reader_error(const hr_reader *r);

/* The default reply tree. str is NUL-terminated for STRING, ERROR, BULK,
 * VERB (payload only; vtype holds the 3-letter format), DOUBLE and BIGNUM
 * (their text form). MAP and ATTR hold 2*n elements, key then value. */
typedef struct hr_reply {
    hr_resp_type type;
    long long integer; /* INTEGER, BOOL */
    double dval;       /* DOUBLE */
    size_t len;
    char *str;
    char vtype[4];
    size_t elements;
    struct hr_reply **element;
} hr_reply;

void hr_reply_free(hr_reply *r);

/* Returns the length of the complete RESP value at buf[0..len) without
 * building anything (0 when incomplete, -1 when malformed). Used by the
 * benchmark and tests to cut a byte stream into replies cheaply. */
ssize_t hr_resp_frame_len(const char *buf, size_t len);

/* ---- 3. writers ---------------------------------------------------------- */
/* proto is 2 or 3: where RESP2 has no such type, the RESP2 equivalent that
 * Redis sends is written (map -> flat array, set/push -> array, null ->
 * $-1 or *-1, double -> bulk string, bool -> integer 1/0, verbatim -> bulk). */

void hr_resp_w_simple(hr_buf *b, const char *s, size_t len);
void hr_resp_w_error(hr_buf *b, const char *s, size_t len); /* s without '-' */
void hr_resp_w_int(hr_buf *b, long long v);
void hr_resp_w_bulk(hr_buf *b, const char *s, size_t len);
void hr_resp_w_bulk_str(hr_buf *b, const char *s);
void hr_resp_w_bulk_ll(hr_buf *b, long long v); /* integer as a bulk string */
void hr_resp_w_array_hdr(hr_buf *b, long long n);
void hr_resp_w_map_hdr(hr_buf *b, int proto, long long pairs);
void hr_resp_w_set_hdr(hr_buf *b, int proto, long long n);
void hr_resp_w_push_hdr(hr_buf *b, int proto, long long n);
void hr_resp_w_null(hr_buf *b, int proto);       /* $-1 / _ */
void hr_resp_w_null_array(hr_buf *b, int proto); /* *-1 / _ */
void hr_resp_w_double(hr_buf *b, int proto, double v);
/* Size of a buffer for hr_resp_fmt_double (the longest text plus a NUL). */
#define HR_RESP_DOUBLE_MAX 32
/* Writes the text hr_resp_w_double uses for v into dst (HR_RESP_DOUBLE_MAX
 * bytes, NUL-terminated): the shortest digits that read back as v, laid out
 * like printf "%.17g"; "inf", "-inf", "nan". Returns the length. */
size_t hr_resp_fmt_double(char *dst, double v);
void hr_resp_w_bool(hr_buf *b, int proto, bool v);
void hr_resp_w_verbatim(hr_buf *b, int proto, const char *s, size_t len); /* "txt" */
/* A request as a multibulk array of argc strings. */
void hr_resp_w_command(hr_buf *b, int argc, const char *const *argv, const size_t *lens);

#endif
