/*
 * cmd_conn.c - connection and small server commands: PING, ECHO, QUIT, RESET,
 * SELECT, HELLO, DBSIZE, FLUSHALL, FLUSHDB, TIME, ROLE, CLUSTER, DEBUG,
 * FUNCTION.
 *
 * herald has no keyspace yet: DBSIZE is 0 and the FLUSH commands succeed
 * with nothing to remove. It runs standalone: CLUSTER answers with the
 * cluster-disabled error that clients probe for.
 */
#include "server.h"
#include "alloc.h"
#include "cmds.h"
#include "db.h"
#include "multi.h"
#include "tracking.h"
#include "log.h"
#include "pubsub.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>


HR_CMD(ping)
{
    if (argc > 2) {
        hr_reply_wrong_arity(c, "ping");
        return;
    }
    if (c->resp == 2 && hr_conn_subscriptions(c) > 0) {
        hr_reply_array(c, 2);
        hr_reply_bulk(c, "pong", 4);
        if (argc == 2) hr_reply_bulk(c, argv[1].ptr, argv[1].len);
        else hr_reply_bulk(c, "", 0);
        return;
    }
    if (argc == 2) hr_reply_bulk(c, argv[1].ptr, argv[1].len);
    else hr_reply_raw(c, "+PONG\r\n", 7);
}

HR_CMD(echo)
{
    hr_reply_bulk(c, argv[1].ptr, argv[1].len);
}

HR_CMD(quit)
{
    hr_reply_ok(c);
    c->flags |= HR_CONN_CLOSE_AFTER_REPLY;
}

void hr_conn_reset_state(hr_conn *c)
{
    hr_multi_reset(c);
    hr_tracking_disable(c);
    hr_monitor_remove(c);
    hr_pubsub_unsubscribe_all(c->srv, c);
    hr_free(c->name);
    c->name = NULL;
    c->db = 0;
    c->resp = 2;
    c->flags &= ~(HR_CONN_REPLY_OFF | HR_CONN_REPLY_SKIP_NEXT | HR_CONN_REPLY_SKIP |
                  HR_CONN_NO_EVICT | HR_CONN_NO_TOUCH);
}

HR_CMD(reset)
{
    hr_conn_reset_state(c);
    hr_reply_raw(c, "+RESET\r\n", 8);
}

HR_CMD(select)
{
    long long db;
    if (!hr_arg_ll(&argv[1], &db)) {
        hr_reply_error(c, "ERR value is not an integer or out of range");
        return;
    }
    if (db < 0 || db >= c->srv->cfg.databases) {
        hr_reply_error(c, "ERR DB index is out of range");
        return;
    }
    c->db = (int)db;
    hr_reply_ok(c);
}

const char *hr_client_name_error(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < '!' || s[i] > '~')
            return "ERR Client names cannot contain spaces, newlines or special characters.";
    return NULL;
}

HR_CMD(hello)
{
    long long ver = 0;
    int next = 1;
    if (argc >= 2) {
        if (!hr_arg_ll(&argv[1], &ver)) {
            hr_reply_error(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        next = 2;
        if (ver < 2 || ver > 3) {
            hr_reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const hr_arg *setname = NULL;
    for (int j = next; j < argc; j++) {
        int more = argc - j - 1;
        if (hr_arg_eq(&argv[j], "auth") && more >= 2) {
            /* No password is configured (every user is "default" with
             * nopass): any credentials for user default are accepted. */
            if (!hr_arg_eq(&argv[j + 1], "default")) {
                hr_reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            j += 2;
        } else if (hr_arg_eq(&argv[j], "setname") && more >= 1) {
            setname = &argv[j + 1];
            const char *err = hr_client_name_error(setname->ptr, setname->len);
            if (err) {
                hr_reply_error(c, err);
                return;
            }
            j += 1;
        } else {
            hr_reply_errorf(c, "ERR Syntax error in HELLO option '%.*s'", hr_arg_preview(&argv[j]),
                            argv[j].ptr);
            return;
        }
    }
    if (setname) {
        hr_free(c->name);
        c->name = setname->len ? hr_strndup(setname->ptr, setname->len) : NULL;
    }
    if (ver) c->resp = (int)ver;
    hr_reply_map(c, 7);
    hr_reply_bulk_str(c, "server");
    hr_reply_bulk_str(c, "redis");
    hr_reply_bulk_str(c, "version");
    hr_reply_bulk_str(c, HR_REDIS_COMPAT_VERSION);
    hr_reply_bulk_str(c, "proto");
    hr_reply_int(c, c->resp);
    hr_reply_bulk_str(c, "id");
    hr_reply_int(c, (long long)c->id);
    hr_reply_bulk_str(c, "mode");
    hr_reply_bulk_str(c, "standalone");
    hr_reply_bulk_str(c, "role");
    hr_reply_bulk_str(c, "master");
    hr_reply_bulk_str(c, "modules");
    hr_reply_array(c, 0);
}

HR_CMD(dbsize)
{
    hr_reply_int(c, (long long)hr_dict_size(&hr_conn_db(c)->keys));
}

/* FLUSHALL / FLUSHDB [ASYNC|SYNC]: without an argument lazyfree-lazy-user-flush
 * decides. */
static void flush_generic(hr_conn *c, int argc, hr_arg *argv, int dbid)
{
    bool async = c->srv->cfg.lazyfree_lazy_user_flush != 0;
    if (argc > 2) {
        hr_reply_syntax_error(c);
        return;
    }
    if (argc == 2) {
        if (hr_arg_eq(&argv[1], "async")) async = true;
        else if (hr_arg_eq(&argv[1], "sync")) async = false;
        else {
            hr_reply_syntax_error(c);
            return;
        }
    }
    hr_server *s = c->srv;
    long long removed = hr_db_flush(s, dbid, async);
    s->dirty += removed + 1;
    hr_reply_ok(c);
}

HR_CMD(flushall)
{
    flush_generic(c, argc, argv, -1);
}

HR_CMD(flushdb)
{
    flush_generic(c, argc, argv, c->db);
}

HR_CMD(time)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    hr_reply_array(c, 2);
    hr_reply_bulk_ll(c, (long long)tv.tv_sec);
    hr_reply_bulk_ll(c, (long long)tv.tv_usec);
}

HR_CMD(role)
{
    hr_reply_array(c, 3);
    hr_reply_bulk_str(c, "master");
    hr_reply_int(c, 0);
    hr_reply_array(c, 0);
}

HR_CMD(cluster)
{
    hr_reply_error(c, "ERR This instance has cluster support disabled");
}

HR_CMD(debug)
{
    if (hr_arg_eq(&argv[1], "log") && argc == 3) {
        hr_log_warning("DEBUG LOG: %.*s", (int)argv[2].len, argv[2].ptr);
        hr_reply_ok(c);
    } else if (hr_arg_eq(&argv[1], "help") && argc == 2) {
        static const char *help[] = {"LOG <message>", "    Write <message> to the server log.",
                                     NULL};
        hr_reply_help(c, "DEBUG", help);
    } else {
        hr_reply_subcommand_error(c, "DEBUG", &argv[1]);
    }
}

HR_CMD(function_flush)
{
    if (argc > 3) {
        hr_reply_subcommand_error(c, "FUNCTION", &argv[1]);
    } else if (argc == 3 && !hr_arg_eq(&argv[2], "async") && !hr_arg_eq(&argv[2], "sync")) {
        hr_reply_error(c, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    } else {
        hr_reply_ok(c);
    }
}

HR_CMD(function_help)
{
    static const char *help[] = {"FLUSH [ASYNC|SYNC]",
                                 "    Delete all functions (herald keeps no functions).", NULL};
    hr_reply_help(c, "FUNCTION", help);
}
