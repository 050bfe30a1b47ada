/*
 * config.c - configuration: defaults, the directive table shared by the
 * config file, command-line --directive options and CONFIG GET / SET /
 * RESETSTAT.
 *
 * Syntax is Redis's: one directive per line, arguments split with the same
 * quoting rules as inline commands (hr_resp_split_line), '#' comments.
 */
#include "server.h"
#include "alloc.h"
#include "glob.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { T_INT, T_MEM, T_NOTIFY, T_STR, T_LOGLEVEL, T_BIND, T_OBL, T_IGNORED, T_OCTAL, T_POLICY, T_BOOL };
enum { F_IMMUTABLE = 1 };

typedef struct item {
    const char *name;
    int type;
    size_t off; /* into hr_config */
    long long min, max;
    int flags;
} item;

#define OFF(f) offsetof(hr_config, f)

static const item items[] = {
    {"port", T_INT, OFF(port), 0, 65535, F_IMMUTABLE},
    {"bind", T_BIND, 0, 0, 0, F_IMMUTABLE},
    {"unixsocket", T_STR, OFF(unixsocket), 0, 0, F_IMMUTABLE},
    {"unixsocketperm", T_OCTAL, OFF(unixsocketperm), 0, 0777, F_IMMUTABLE},
    {"tcp-backlog", T_INT, OFF(tcp_backlog), 0, INT_MAX, F_IMMUTABLE},
    {"maxclients", T_INT, OFF(maxclients), 1, 4294967295LL, 0},
    {"timeout", T_INT, OFF(timeout), 0, INT_MAX, 0},
    {"tcp-keepalive", T_INT, OFF(tcp_keepalive), 0, INT_MAX, 0},
    {"client-output-buffer-limit", T_OBL, 0, 0, 0, 0},
    {"proto-max-bulk-len", T_MEM, OFF(proto_max_bulk_len), 1024 * 1024, LLONG_MAX, 0},
    {"client-query-buffer-limit", T_MEM, OFF(client_query_buffer_limit), 1024 * 1024, LLONG_MAX,
     0},
    {"hz", T_INT, OFF(hz), 0, INT_MAX, 0},
    {"loglevel", T_LOGLEVEL, OFF(loglevel), 0, 0, 0},
    {"logfile", T_STR, OFF(logfile), 0, 0, F_IMMUTABLE},
    {"pidfile", T_STR, OFF(pidfile), 0, 0, F_IMMUTABLE},
    {"notify-keyspace-events", T_NOTIFY, OFF(notify_flags), 0, 0, 0},
    {"databases", T_INT, OFF(databases), 1, INT_MAX, F_IMMUTABLE},
    {"maxmemory", T_MEM, OFF(maxmemory), 0, LLONG_MAX, 0},
    {"maxmemory-policy", T_POLICY, OFF(maxmemory_policy), 0, 0, 0},
    {"maxmemory-samples", T_INT, OFF(maxmemory_samples), 1, INT_MAX, 0},
    {"maxmemory-eviction-tenacity", T_INT, OFF(maxmemory_eviction_tenacity), 0, 100, 0},
    {"lfu-log-factor", T_INT, OFF(lfu_log_factor), 0, INT_MAX, 0},
    {"lfu-decay-time", T_INT, OFF(lfu_decay_time), 0, INT_MAX, 0},
    {"active-expire-effort", T_INT, OFF(active_expire_effort), 1, 10, 0},
    {"lazyfree-lazy-user-flush", T_BOOL, OFF(lazyfree_lazy_user_flush), 0, 1, 0},
    {"tracking-table-max-keys", T_INT, OFF(tracking_table_max_keys), 0, LLONG_MAX, 0},
    /* Accepted so that redis.conf files load; they have no effect here. */
    {"daemonize", T_IGNORED, 0, 0, 0, F_IMMUTABLE},
    {"protected-mode", T_IGNORED, 0, 0, 0, 0},
    {"save", T_IGNORED, 0, 0, 0, 0},
    {"appendonly", T_IGNORED, 0, 0, 0, 0},
    {"dir", T_IGNORED, 0, 0, 0, 0},
    {NULL, 0, 0, 0, 0, 0},
};

static const char *ignored_value(const char *name)
{
    if (!strcmp(name, "daemonize") || !strcmp(name, "appendonly")) return "no";
    if (!strcmp(name, "protected-mode")) return "yes";
    if (!strcmp(name, "save")) return "";
    if (!strcmp(name, "dir")) return ".";
    return "";
}

void hr_config_defaults(hr_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = HR_DEFAULT_PORT;
    cfg->bind[0] = hr_strdup("127.0.0.1");
    cfg->bind[1] = hr_strdup("-::1");
    cfg->nbind = 2;
    cfg->tcp_backlog = 511;
    cfg->maxclients = 10000;
    cfg->timeout = 0;
    cfg->tcp_keepalive = 300;
    cfg->obl[HR_OBL_NORMAL] = (hr_obl){0, 0, 0};
    cfg->obl[HR_OBL_REPLICA] = (hr_obl){256LL << 20, 64LL << 20, 60};
    cfg->obl[HR_OBL_PUBSUB] = (hr_obl){32LL << 20, 8LL << 20, 60};
    cfg->proto_max_bulk_len = 512LL << 20;
    cfg->client_query_buffer_limit = 1LL << 30;
    cfg->hz = 10;
    cfg->loglevel = HR_LOG_NOTICE;
    cfg->logfile = hr_strdup("");
    cfg->pidfile = hr_strdup("");
    cfg->databases = HR_DATABASES;
    cfg->maxmemory = 0;
    cfg->maxmemory_policy = HR_MAXMEM_NOEVICTION;
    cfg->maxmemory_samples = 5;
    cfg->maxmemory_eviction_tenacity = 10;
    cfg->lfu_log_factor = 10;
    cfg->lfu_decay_time = 1;
    cfg->active_expire_effort = 1;
    cfg->lazyfree_lazy_user_flush = 0;
    cfg->tracking_table_max_keys = 1000000;
}

static const char *const policy_names[] = {
    [HR_MAXMEM_VOLATILE_LRU] = "volatile-lru",     [HR_MAXMEM_VOLATILE_LFU] = "volatile-lfu",
    [HR_MAXMEM_VOLATILE_RANDOM] = "volatile-random", [HR_MAXMEM_VOLATILE_TTL] = "volatile-ttl",
    [HR_MAXMEM_ALLKEYS_LRU] = "allkeys-lru",       [HR_MAXMEM_ALLKEYS_LFU] = "allkeys-lfu",
    [HR_MAXMEM_ALLKEYS_RANDOM] = "allkeys-random", [HR_MAXMEM_NOEVICTION] = "noeviction",
};

const char *hr_maxmemory_policy_name(int policy)
{
    if (policy < 0 || policy > HR_MAXMEM_NOEVICTION) return "noeviction";
    return policy_names[policy];
}

void hr_config_release(hr_config *cfg)
{
    for (int i = 0; i < cfg->nbind; i++) hr_free(cfg->bind[i]);
    hr_free(cfg->unixsocket);
    hr_free(cfg->logfile);
    hr_free(cfg->pidfile);
    hr_free(cfg->config_file);
    memset(cfg, 0, sizeof(*cfg));
}

static const char notify_chars[] = "g$lshzxetdnKEm";

int hr_notify_parse(const char *s, size_t len)
{
    int flags = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == 'A') {
            flags |= HR_NOTIFY_ALL;
            continue;
        }
        const char *p = s[i] ? strchr(notify_chars, s[i]) : NULL;
        if (!p) return -1;
        flags |= 1 << (p - notify_chars);
    }
    return flags;
}

void hr_notify_format(int flags, hr_buf *out)
{
    /* "A" stands for all the type classes; "n" is only printed without it. */
    int i = 0;
    if ((flags & HR_NOTIFY_ALL) == HR_NOTIFY_ALL) {
        hr_buf_append_char(out, 'A');
        i = 11;
    }
    for (; notify_chars[i]; i++)
        if (flags & (1 << i)) hr_buf_append_char(out, notify_chars[i]);
}

static const item *find_item(const char *name, size_t len)
{
    for (const item *it = items; it->name; it++)
        if (hr_streq_nocase(name, len, it->name)) return it;
    return NULL;
}

/* Fields declared int in hr_config (the others are long long). */
static bool is_int_field(size_t off)
{
    static const size_t ints[] = {
        OFF(port),           OFF(tcp_backlog),    OFF(hz),
        OFF(databases),      OFF(unixsocketperm), OFF(maxmemory_policy),
        OFF(maxmemory_samples), OFF(maxmemory_eviction_tenacity), OFF(lfu_log_factor),
        OFF(lfu_decay_time), OFF(active_expire_effort), OFF(lazyfree_lazy_user_flush),
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        if (ints[i] == off) return true;
    return false;
}

static int set_int_field(hr_config *cfg, const item *it, long long v)
{
    char *p = (char *)cfg + it->off;
    if (is_int_field(it->off)) *(int *)p = (int)v;
    else *(long long *)p = v;
    return 0;
}

static long long get_int_field(const hr_config *cfg, const item *it)
{
    const char *p = (const char *)cfg + it->off;
    if (is_int_field(it->off)) return *(const int *)p;
    return *(const long long *)p;
}

static int set_ranged(hr_config *cfg, const item *it, long long n, char *err, size_t errlen)
{
    if (n < it->min || n > it->max) {
        snprintf(err, errlen, "argument must be between %lld and %lld inclusive", it->min,
                 it->max);
        return -1;
    }
    return set_int_field(cfg, it, n);
}

static int parse_obl(hr_config *cfg, int argc, hr_arg *argv, char *err, size_t errlen)
{
    if (argc == 0 || argc % 4 != 0) {
        snprintf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
        return -1;
    }
    hr_obl tmp[HR_OBL_COUNT];
    memcpy(tmp, cfg->obl, sizeof(tmp));
    for (int i = 0; i < argc; i += 4) {
        int cls;
        if (hr_arg_eq(&argv[i], "normal")) cls = HR_OBL_NORMAL;
        else if (hr_arg_eq(&argv[i], "slave") || hr_arg_eq(&argv[i], "replica"))
            cls = HR_OBL_REPLICA;
        else if (hr_arg_eq(&argv[i], "pubsub")) cls = HR_OBL_PUBSUB;
        else {
            snprintf(err, errlen, "Invalid client class specified in buffer limit configuration.");
            return -1;
        }
        long long hard, soft, secs;
        if (!hr_parse_memory(argv[i + 1].ptr, &hard) || !hr_parse_memory(argv[i + 2].ptr, &soft) ||
            !hr_str2ll(argv[i + 3].ptr, argv[i + 3].len, &secs) || hard < 0 || soft < 0 ||
            secs < 0) {
            snprintf(err, errlen, "Error in hard, soft or soft_seconds setting in buffer limit "
                                  "configuration.");
            return -1;
        }
        tmp[cls] = (hr_obl){hard, soft, secs};
    }
    memcpy(cfg->obl, tmp, sizeof(tmp));
    return 0;
}

/* Arguments reaching here are NUL-terminated (split_line output or argv of
 * a command copied by the caller). */
static int apply_item(hr_config *cfg, const item *it, int argc, hr_arg *argv, char *err,
                      size_t errlen)
{
    switch (it->type) {
    case T_BIND:
        if (argc < 1 || argc > HR_MAX_BIND) {
            snprintf(err, errlen, "Too many bind addresses specified.");
            return -1;
        }
        for (int i = 0; i < cfg->nbind; i++) hr_free(cfg->bind[i]);
        for (int i = 0; i < argc; i++) cfg->bind[i] = hr_strndup(argv[i].ptr, argv[i].len);
        cfg->nbind = argc;
        return 0;
    case T_OBL:
        return parse_obl(cfg, argc, argv, err, errlen);
    case T_IGNORED:
        return 0;
    }
    if (argc != 1) {
        snprintf(err, errlen, "wrong number of arguments");
        return -1;
    }
    const char *v = argv[0].ptr;
    long long n;
    switch (it->type) {
    case T_INT:
        if (!hr_str2ll(v, argv[0].len, &n)) {
            snprintf(err, errlen, "argument couldn't be parsed into an integer");
            return -1;
        }
        return set_ranged(cfg, it, n, err, errlen);
    case T_OCTAL: {
        char *end;
        errno = 0;
        long o = strtol(v, &end, 8);
        if (*v == '\0' || *end || errno || o < 0 || o > it->max) {
            snprintf(err, errlen, "argument couldn't be parsed into an integer");
            return -1;
        }
        return set_int_field(cfg, it, o);
    }
    case T_MEM:
        if (!hr_parse_memory(v, &n)) {
            snprintf(err, errlen, "argument must be a memory value");
            return -1;
        }
        return set_ranged(cfg, it, n, err, errlen);
    case T_NOTIFY: {
        int fl = hr_notify_parse(v, argv[0].len);
        if (fl < 0) {
            snprintf(err, errlen, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
            return -1;
        }
        cfg->notify_flags = fl;
        return 0;
    }
    case T_POLICY:
        for (int i = 0; i <= HR_MAXMEM_NOEVICTION; i++) {
            if (hr_streq_nocase(v, argv[0].len, policy_names[i])) {
                cfg->maxmemory_policy = i;
                return 0;
            }
        }
        snprintf(err, errlen, "argument(s) must be one of the following: volatile-lru, "
                              "volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, "
                              "allkeys-lfu, allkeys-random, noeviction");
        return -1;
    case T_BOOL:
        if (hr_streq_nocase(v, argv[0].len, "yes")) return set_int_field(cfg, it, 1);
        if (hr_streq_nocase(v, argv[0].len, "no")) return set_int_field(cfg, it, 0);
        snprintf(err, errlen, "argument must be 'yes' or 'no'");
        return -1;
    case T_LOGLEVEL: {
        int lvl = hr_log_level_from_name(v);
        if (lvl < 0) {
            snprintf(err, errlen, "argument(s) must be one of the following: debug, verbose, "
                                  "notice, warning, nothing");
            return -1;
        }
        cfg->loglevel = lvl;
        hr_log_set_level(lvl);
        return 0;
    }
    case T_STR: {
        char **p = (char **)((char *)cfg + it->off);
        hr_free(*p);
        *p = hr_strndup(v, argv[0].len);
        return 0;
    }
    }
    return 0;
}

int hr_config_apply(hr_config *cfg, int argc, hr_arg *argv, char *err, size_t errlen)
{
    const item *it = find_item(argv[0].ptr, argv[0].len);
    if (!it) {
        snprintf(err, errlen, "Bad directive or wrong number of arguments");
        return -1;
    }
    return apply_item(cfg, it, argc - 1, argv + 1, err, errlen);
}

int hr_config_load_file(hr_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "Fatal error, can't open config file '%s': %s", path,
                 strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rc = 0;
    hr_buf scratch = HR_BUF_INIT;
    while ((n = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        size_t i = 0;
        while (i < (size_t)n && (line[i] == ' ' || line[i] == '\t')) i++;
        if (i == (size_t)n || line[i] == '#') continue;
        hr_arg argv[64];
        scratch.len = 0;
        int argc = hr_resp_split_line(line + i, (size_t)n - i, &scratch, argv, 64);
        char msg[256];
        if (argc < 0) {
            snprintf(msg, sizeof(msg), "Unbalanced quotes in configuration line");
        } else if (argc == 0) {
            continue;
        } else if (hr_config_apply(cfg, argc, argv, msg, sizeof(msg)) == 0) {
            continue;
        }
        snprintf(err, errlen,
                 "\n*** FATAL CONFIG FILE ERROR (herald %s) ***\nReading the configuration "
                 "file, at line %d\n>>> '%s'\n%s",
                 HERALD_VERSION, lineno, line + i, msg);
        rc = -1;
        break;
    }
    free(line);
    hr_buf_release(&scratch);
    fclose(fp);
    return rc;
}

/* --- CONFIG command ------------------------------------------------------ */

static void item_value(const hr_server *s, const item *it, hr_buf *out)
{
    const hr_config *cfg = &s->cfg;
    switch (it->type) {
    case T_INT:
    case T_MEM:
        hr_buf_appendf(out, "%lld", get_int_field(cfg, it));
        break;
    case T_OCTAL:
        hr_buf_appendf(out, "%llo", get_int_field(cfg, it));
        break;
    case T_LOGLEVEL:
        hr_buf_append_str(out, hr_log_level_name(cfg->loglevel));
        break;
    case T_POLICY:
        hr_buf_append_str(out, hr_maxmemory_policy_name(cfg->maxmemory_policy));
        break;
    case T_BOOL:
        hr_buf_append_str(out, get_int_field(cfg, it) ? "yes" : "no");
        break;
    case T_NOTIFY:
        hr_notify_format(cfg->notify_flags, out);
        break;
    case T_STR: {
        const char *v = *(char *const *)((const char *)cfg + it->off);
        if (v) hr_buf_append_str(out, v);
        break;
    }
    case T_BIND:
        for (int i = 0; i < cfg->nbind; i++) {
            if (i) hr_buf_append_char(out, ' ');
            hr_buf_append_str(out, cfg->bind[i]);
        }
        break;
    case T_OBL: {
        static const char *names[] = {"normal", "slave", "pubsub"};
        for (int i = 0; i < HR_OBL_COUNT; i++)
            hr_buf_appendf(out, "%s%s %lld %lld %lld", i ? " " : "", names[i], cfg->obl[i].hard,
                           cfg->obl[i].soft, cfg->obl[i].soft_seconds);
        break;
    }
    case T_IGNORED:
        hr_buf_append_str(out, ignored_value(it->name));
        break;
    }
}

static bool has_glob(const hr_arg *a)
{
    for (size_t i = 0; i < a->len; i++)
        if (a->ptr[i] == '*' || a->ptr[i] == '?' || a->ptr[i] == '[') return true;
    return false;
}

static void config_get(hr_conn *c, int argc, hr_arg *argv)
{
    /* Each parameter at most once. A parameter named without glob
     * characters is reported under the name as typed (Redis does the same);
     * one found by a pattern under its own name. */
    enum { NITEMS = sizeof(items) / sizeof(items[0]) };
    const hr_arg *shown[NITEMS];
    char seen[NITEMS] = {0};
    int order[NITEMS], nitems = 0;
    for (int a = 2; a < argc; a++) {
        bool glob = has_glob(&argv[a]);
        for (int i = 0; items[i].name; i++) {
            if (seen[i]) continue;
            bool hit = glob ? hr_glob_match(argv[a].ptr, argv[a].len, items[i].name,
                                            strlen(items[i].name), true)
                            : hr_streq_nocase(argv[a].ptr, argv[a].len, items[i].name);
            if (!hit) continue;
            seen[i] = 1;
            shown[i] = glob ? NULL : &argv[a];
            order[nitems++] = i;
        }
    }
    hr_reply_map(c, nitems);
    hr_buf v = HR_BUF_INIT;
    for (int k = 0; k < nitems; k++) {
        int i = order[k];
        v.len = 0;
        item_value(c->srv, &items[i], &v);
        if (shown[i]) hr_reply_bulk(c, shown[i]->ptr, shown[i]->len);
        else hr_reply_bulk_str(c, items[i].name);
        hr_reply_bulk(c, v.data ? v.data : "", v.len);
    }
    hr_buf_release(&v);
}

static void config_set(hr_conn *c, int argc, hr_arg *argv)
{
    if (argc % 2 != 0) {
        hr_reply_syntax_error(c);
        return;
    }
    /* Validate every pair on a copy first: CONFIG SET is all or nothing. */
    hr_config tmp = c->srv->cfg;
    char err[256];
    for (int a = 2; a < argc; a += 2) {
        const item *it = find_item(argv[a].ptr, argv[a].len);
        char name[160];
        snprintf(name, sizeof(name), "%.*s", (int)(argv[a].len > 128 ? 128 : argv[a].len),
                 argv[a].ptr);
        if (!it) {
            hr_reply_errorf(c, "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
                            name);
            return;
        }
        for (int b = 2; b < a; b += 2) {
            if (find_item(argv[b].ptr, argv[b].len) == it) {
                hr_reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - "
                                   "duplicate parameter",
                                name);
                return;
            }
        }
        if (it->flags & F_IMMUTABLE) {
            hr_reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - "
                               "can't set immutable config",
                            name);
            return;
        }
        /* Values are split like a config line (client-output-buffer-limit
         * takes several words in one argument). */
        hr_buf scratch = HR_BUF_INIT;
        hr_arg vargv[64];
        int vargc = it->type == T_OBL ? hr_resp_split_line(argv[a + 1].ptr, argv[a + 1].len,
                                                           &scratch, vargv, 64)
                                      : 1;
        if (it->type != T_OBL) {
            hr_buf_append(&scratch, argv[a + 1].ptr, argv[a + 1].len);
            hr_buf_append_char(&scratch, '\0');
            vargv[0].ptr = scratch.data;
            vargv[0].len = argv[a + 1].len;
        }
        int rc = vargc < 0 ? -1 : 0;
        if (rc == 0) {
            /* String items are validated only (stored below). */
            hr_config probe = tmp;
            if (it->type == T_STR || it->type == T_BIND) rc = 0;
            else rc = apply_item(&probe, it, vargc, vargv, err, sizeof(err));
            if (rc == 0) tmp = probe;
        } else {
            snprintf(err, sizeof(err), "Unbalanced quotes in value");
        }
        hr_buf_release(&scratch);
        if (rc < 0) {
            hr_reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                            name, err);
            return;
        }
    }
    /* Commit: numeric values from tmp, strings applied to the live config. */
    for (int a = 2; a < argc; a += 2) {
        const item *it = find_item(argv[a].ptr, argv[a].len);
        if (it->type == T_STR) {
            hr_buf scratch = HR_BUF_INIT;
            hr_buf_append(&scratch, argv[a + 1].ptr, argv[a + 1].len);
            hr_buf_append_char(&scratch, '\0');
            hr_arg v = {scratch.data, argv[a + 1].len};
            apply_item(&c->srv->cfg, it, 1, &v, err, sizeof(err));
            hr_buf_release(&scratch);
        } else if (it->type == T_OBL) {
            memcpy(c->srv->cfg.obl, tmp.obl, sizeof(tmp.obl));
            hr_server_limits_changed(c->srv);
        } else if (it->type == T_NOTIFY) {
            c->srv->cfg.notify_flags = tmp.notify_flags;
        } else if (it->type == T_LOGLEVEL) {
            c->srv->cfg.loglevel = tmp.loglevel;
            hr_log_set_level(tmp.loglevel);
        } else if (it->type != T_IGNORED) {
            set_int_field(&c->srv->cfg, it, get_int_field(&tmp, it));
        }
    }
    hr_reply_ok(c);
}

void hr_cmd_config_get(hr_conn *c, int argc, hr_arg *argv)
{
    config_get(c, argc, argv);
}

void hr_cmd_config_set(hr_conn *c, int argc, hr_arg *argv)
{
    config_set(c, argc, argv);
}

void hr_cmd_config_resetstat(hr_conn *c, int argc, hr_arg *argv)
{
    hr_stats *st = &c->srv->stats;
    uint64_t start = st->start_ms;
    memset(st, 0, sizeof(*st));
    st->start_ms = start;
    hr_commandstats_reset(c->srv);
    hr_reply_ok(c);
}

void hr_cmd_config_rewrite(hr_conn *c, int argc, hr_arg *argv)
{
    hr_reply_error(c, "ERR The server is running without a config file");
}

void hr_cmd_config_help(hr_conn *c, int argc, hr_arg *argv)
{
    static const char *help[] = {
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        NULL};
    hr_reply_help(c, "CONFIG", help);
}
