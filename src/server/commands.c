/*
 * commands.c - the command table and dispatch.
 *
 * Dispatch order follows Redis: unknown command, then (for containers) the
 * subcommand, then arity, then the RESP2 subscribed-mode restriction, then
 * the handler. A permission check (ACL) will slot in right before the
 * handler runs, in hr_command_execute.
 *
 * Metadata (the COMMAND INFO flags and ACL categories, DOCS fields) lives in
 * the table next to the handler so it cannot drift from what is dispatched.
 */
#include "server.h"
#include "cmds.h"
#include "server_int.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Trailing arguments, when given, are extra designated initializers (.tips,
 * .key_specs, ...). */
#define SUB(n, f, ar, fl, inf, acl_, summ, since_, cplx, ...)                                      \
    {.name = n, .fn = f, .arity = ar, .flags = fl, .info = inf, .acl = acl_, .summary = summ,      \
     .since = since_, .complexity = cplx, __VA_ARGS__}

static hr_command pubsub_subs[] = {
    SUB("channels", hr_cmd_pubsub_channels, -2, 0, "pubsub loading stale", "@pubsub @slow",
        "Lists the active channels, optionally those matching a pattern.", "2.8.0",
        "O(N) where N is the number of active channels."),
    SUB("help", hr_cmd_pubsub_help, 2, 0, "loading stale", "@slow",
        "Describes the PUBSUB subcommands.", "6.2.0", "O(1)"),
    SUB("numpat", hr_cmd_pubsub_numpat, 2, 0, "pubsub loading stale", "@pubsub @slow",
        "Counts the unique pattern subscriptions.", "2.8.0", "O(1)"),
    SUB("numsub", hr_cmd_pubsub_numsub, -2, 0, "pubsub loading stale", "@pubsub @slow",
        "Counts the subscribers of channels.", "2.8.0",
        "O(N) for the NUMSUB subcommand, where N is the number of requested channels"),
    SUB("shardchannels", hr_cmd_pubsub_shardchannels, -2, 0, "pubsub loading stale",
        "@pubsub @slow", "Lists the active shard channels, optionally those matching a pattern.",
        "7.0.0", "O(N) where N is the number of active shard channels."),
    SUB("shardnumsub", hr_cmd_pubsub_shardnumsub, -2, 0, "pubsub loading stale", "@pubsub @slow",
        "Counts the subscribers of shard channels.", "7.0.0",
        "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels"),
    {0},
};

static hr_command client_subs[] = {
    SUB("getname", hr_cmd_client_getname, 2, 0, "noscript loading stale", "@slow @connection",
        "Returns the name of the connection.", "2.6.9", "O(1)"),
    SUB("help", hr_cmd_client_help, 2, 0, "loading stale", "@slow @connection",
        "Describes the CLIENT subcommands.", "5.0.0", "O(1)"),
    SUB("id", hr_cmd_client_id, 2, 0, "noscript loading stale", "@slow @connection",
        "Returns the unique client ID of the connection.", "5.0.0", "O(1)"),
    SUB("info", hr_cmd_client_info, 2, 0, "noscript loading stale", "@slow @connection",
        "Returns information about the connection.", "6.2.0", "O(1)",
        .tips = "nondeterministic_output"),
    SUB("kill", hr_cmd_client_kill, -3, 0, "admin noscript loading stale",
        "@admin @slow @dangerous @connection", "Terminates open connections.", "2.4.0",
        "O(N) where N is the number of client connections"),
    SUB("list", hr_cmd_client_list, -2, 0, "admin noscript loading stale",
        "@admin @slow @dangerous @connection", "Lists open connections.", "2.4.0",
        "O(N) where N is the number of client connections", .tips = "nondeterministic_output"),
    SUB("no-evict", hr_cmd_client_no_evict, 3, 0, "admin noscript loading stale",
        "@admin @slow @dangerous @connection",
        "Sets the client eviction mode of the connection.", "7.0.0", "O(1)"),
    SUB("reply", hr_cmd_client_reply, 3, 0, "noscript loading stale", "@slow @connection",
        "Instructs the server whether to reply to commands.", "3.2.0", "O(1)"),
    SUB("setinfo", hr_cmd_client_setinfo, 4, 0, "noscript loading stale", "@slow @connection",
        "Sets information specific to the client or connection.", "7.2.0", "O(1)"),
    SUB("setname", hr_cmd_client_setname, 3, 0, "noscript loading stale", "@slow @connection",
        "Sets the connection name.", "2.6.9", "O(1)"),
    {0},
};

static hr_command command_subs[] = {
    SUB("count", hr_cmd_command_count, 2, 0, "loading stale", "@slow @connection",
        "Returns a count of commands.", "2.8.13", "O(1)"),
    SUB("docs", hr_cmd_command_docs, -2, 0, "loading stale", "@slow @connection",
        "Returns documentary information about one, multiple or all commands.", "7.0.0",
        "O(N) where N is the number of commands to look up",
        .tips = "nondeterministic_output_order"),
    SUB("help", hr_cmd_command_help, 2, 0, "loading stale", "@slow @connection",
        "Returns helpful text about the different subcommands.", "5.0.0", "O(1)"),
    SUB("info", hr_cmd_command_info, -2, 0, "loading stale", "@slow @connection",
        "Returns information about one, multiple or all commands.", "2.8.13",
        "O(N) where N is the number of commands to look up",
        .tips = "nondeterministic_output_order"),
    SUB("list", hr_cmd_command_list, -2, 0, "loading stale", "@slow @connection",
        "Returns a list of command names.", "7.0.0",
        "O(N) where N is the total number of Redis commands",
        .tips = "nondeterministic_output_order"),
    {0},
};

static hr_command config_subs[] = {
    SUB("get", hr_cmd_config_get, -3, 0, "admin noscript loading stale",
        "@admin @slow @dangerous", "Returns the effective values of configuration parameters.",
        "2.0.0", "O(N) when N is the number of configuration parameters provided"),
    SUB("help", hr_cmd_config_help, 2, 0, "loading stale", "@slow",
        "Returns helpful text about the different subcommands.", "5.0.0", "O(1)"),
    SUB("resetstat", hr_cmd_config_resetstat, 2, 0, "admin noscript loading stale",
        "@admin @slow @dangerous", "Resets the server's statistics.", "2.0.0", "O(1)"),
    SUB("rewrite", hr_cmd_config_rewrite, 2, 0, "admin noscript loading stale",
        "@admin @slow @dangerous", "Persists the effective configuration to file.", "2.8.0",
        "O(1)"),
    SUB("set", hr_cmd_config_set, -4, 0, "admin noscript loading stale",
        "@admin @slow @dangerous", "Sets configuration parameters in-flight.", "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        .tips = "request_policy:all_nodes response_policy:all_succeeded"),
    {0},
};

static hr_command function_subs[] = {
    SUB("flush", hr_cmd_function_flush, -2, 0, "write noscript", "@write @slow @scripting",
        "Deletes all libraries and functions.", "7.0.0",
        "O(N) where N is the number of functions deleted",
        .tips = "request_policy:all_shards response_policy:all_succeeded"),
    SUB("help", hr_cmd_function_help, 2, 0, "loading stale", "@slow @scripting",
        "Returns helpful text about the different subcommands.", "7.0.0", "O(1)"),
    {0},
};

/* Redis's CLUSTER subcommands: herald runs standalone, so each answers with
 * the cluster-disabled error once its arity is right (clients probe this). */
static hr_command cluster_subs[] = {
    {.name = "addslots", .fn = hr_cmd_cluster, .arity = -3, .info = "admin stale no_async_loading", .acl = "@admin @slow @dangerous"},
    {.name = "addslotsrange", .fn = hr_cmd_cluster, .arity = -4, .info = "admin stale no_async_loading", .acl = "@admin @slow @dangerous"},
    {.name = "bumpepoch", .fn = hr_cmd_cluster, .arity = 2, .info = "admin stale no_async_loading", .acl = "@admin @slow @dangerous", .tips = "nondeterministic_output"},
    {.name = "count-failure-reports", .fn = hr_cmd_cluster, .arity = 3, .info = "admin stale", .acl = "@admin @slow @dangerous", .tips = "nondeterministic_output"},
    {.name = "countkeysinslot", .fn = hr_cmd_cluster, .arity = 3, .info = "stale", .acl = "@slow"},
    {.name = "delslots", .fn = hr_cmd_cluster, .arity = -3, .info = "admin stale no_async_loading", .acl = "@admin @slow @dangerous"},
    {.name = "delslotsrange", .fn = hr_cmd_cluster, .arity = -4, .info = "admin stale no_async_loading", .acl = "@admin @slow @dangerous"},
    {.name = "failover", .fn = hr_cmd_cluster, .arity = -2, .info = "admin stale no_async_loading", .acl = "@admin @slow @dangerous"},
    {.name = "flushslots", .fn = hr_cmd_cluster, .arity = 2, .info = "admin stale no_async_loading", .acl = "@admin @slow @dangerous"},
    {.name = "forget", .fn = hr_cmd_cluster, .arity = 3, .info = "admin stale no_async_loading", .acl = "@admin @slow @dangerous"},
    {.name = "getkeysinslot", .fn = hr_cmd_cluster, .arity = 4, .info = "stale", .acl = "@slow", .tips = "nondeterministic_output"},
    {.name = "help", .fn = hr_cmd_cluster, .arity = 2, .info = "loading stale", .acl = "@slow"},
    {.name = "info", .fn = hr_cmd_cluster, .arity = 2, .info = "stale", .acl = "@slow", .tips = "nondeterministic_output"},
    {.name = "keyslot", .fn = hr_cmd_cluster, .arity = 3, .info = "stale", .acl = "@slow"},
    {.name = "links", .fn = hr_cmd_cluster, .arity = 2, .info = "stale", .acl = "@slow", .tips = "nondeterministic_output"},
    {.name = "meet", .fn = hr_cmd_cluster, .arity = -4, .info = "admin stale no_async_loading", .acl = "@admin @slow @dangerous"},
    {.name = "myid", .fn = hr_cmd_cluster, .arity = 2, .info = "stale", .acl = "@slow"},
    {.name = "nodes", .fn = hr_cmd_cluster, .arity = 2, .info = "stale", .acl = "@slow", .tips = "nondeterministic_output"},
    {.name = "replicas", .fn = hr_cmd_cluster, .arity = 3, .info = "admin stale", .acl = "@admin @slow @dangerous", .tips = "nondeterministic_output"},
    {.name = "replicate", .fn = hr_cmd_cluster, .arity = 3, .info = "admin stale no_async_loading", .acl = "@admin @slow @dangerous"},
    {.name = "reset", .fn = hr_cmd_cluster, .arity = -2, .info = "admin noscript stale", .acl = "@admin @slow @dangerous"},
    {.name = "saveconfig", .fn = hr_cmd_cluster, .arity = 2, .info = "admin stale no_async_loading", .acl = "@admin @slow @dangerous"},
    {.name = "set-config-epoch", .fn = hr_cmd_cluster, .arity = 3, .info = "admin stale no_async_loading", .acl = "@admin @slow @dangerous"},
    {.name = "setslot", .fn = hr_cmd_cluster, .arity = -4, .info = "admin stale no_async_loading", .acl = "@admin @slow @dangerous"},
    {.name = "shards", .fn = hr_cmd_cluster, .arity = 2, .info = "stale", .acl = "@slow", .tips = "nondeterministic_output"},
    {.name = "slaves", .fn = hr_cmd_cluster, .arity = 3, .info = "admin stale", .acl = "@admin @slow @dangerous", .tips = "nondeterministic_output"},
    {.name = "slots", .fn = hr_cmd_cluster, .arity = 2, .info = "stale", .acl = "@slow", .tips = "nondeterministic_output"},
    {0},
};

#define CMD(n, f, ar, fl, inf, acl_, grp, summ, since_, cplx, ...)                                 \
    {.name = n, .fn = f, .arity = ar, .flags = fl, .info = inf, .acl = acl_, .group = grp,         \
     .summary = summ, .since = since_, .complexity = cplx, __VA_ARGS__}
#define CONTAINER(n, ar, inf, acl_, grp, summ, since_, subs)                                       \
    {.name = n, .arity = ar, .flags = HR_CMD_CONTAINER, .info = inf, .acl = acl_, .group = grp,    \
     .summary = summ, .since = since_, .complexity = "Depends on subcommand.", .subcommands = subs}

enum { PS = HR_CMD_PUBSUB_OK };

const hr_command hr_command_table[] = {
    /* pub/sub */
    CMD("subscribe", hr_cmd_subscribe, -2, PS, "pubsub noscript loading stale", "@pubsub @slow",
        "pubsub", "Listens for messages published to channels.", "2.0.0",
        "O(N) where N is the number of channels to subscribe to."),
    CMD("unsubscribe", hr_cmd_unsubscribe, -1, PS, "pubsub noscript loading stale",
        "@pubsub @slow", "pubsub", "Stops listening to messages posted to channels.", "2.0.0",
        "O(N) where N is the number of channels to unsubscribe."),
    CMD("psubscribe", hr_cmd_psubscribe, -2, PS, "pubsub noscript loading stale",
        "@pubsub @slow", "pubsub", "Listens for messages published to channels that match "
                                   "one or more patterns.",
        "2.0.0", "O(N) where N is the number of patterns to subscribe to."),
    CMD("punsubscribe", hr_cmd_punsubscribe, -1, PS, "pubsub noscript loading stale",
        "@pubsub @slow", "pubsub",
        "Stops listening to messages published to channels that match one or more patterns.",
        "2.0.0", "O(N) where N is the number of patterns to unsubscribe."),
    CMD("ssubscribe", hr_cmd_ssubscribe, -2, PS, "pubsub noscript loading stale",
        "@pubsub @slow", "pubsub", "Listens for messages published to shard channels.", "7.0.0",
        "O(N) where N is the number of shard channels to subscribe to.", .first_key = 1,
        .last_key = -1, .key_step = 1,
        .key_specs = (const hr_key_spec[]){{"not_key", 1, -1, 1, 0}}, .key_specs_num = 1),
    CMD("sunsubscribe", hr_cmd_sunsubscribe, -1, PS, "pubsub noscript loading stale",
        "@pubsub @slow", "pubsub", "Stops listening to messages posted to shard channels.",
        "7.0.0", "O(N) where N is the number of shard channels to unsubscribe.", .first_key = 1,
        .last_key = -1, .key_step = 1,
        .key_specs = (const hr_key_spec[]){{"not_key", 1, -1, 1, 0}}, .key_specs_num = 1),
    CMD("publish", hr_cmd_publish, 3, 0, "pubsub loading stale fast",
        "@pubsub @fast", "pubsub", "Posts a message to a channel.", "2.0.0",
        "O(N+M) where N is the number of clients subscribed to the receiving channel and M is "
        "the total number of subscribed patterns (by any client)."),
    CMD("spublish", hr_cmd_spublish, 3, 0, "pubsub loading stale fast", "@pubsub @fast",
        "pubsub", "Post a message to a shard channel", "7.0.0",
        "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        .first_key = 1, .last_key = 1, .key_step = 1,
        .key_specs = (const hr_key_spec[]){{"not_key", 1, 0, 1, 0}}, .key_specs_num = 1),
    CONTAINER("pubsub", -2, "", "@slow", "pubsub", "A container for Pub/Sub commands.", "2.8.0",
              pubsub_subs),
    /* connection */
    CMD("ping", hr_cmd_ping, -1, PS, "fast", "@fast @connection", "connection",
        "Returns the server's liveliness response.", "1.0.0", "O(1)",
        .tips = "request_policy:all_shards response_policy:all_succeeded"),
    CMD("echo", hr_cmd_echo, 2, 0, "loading stale fast", "@fast @connection", "connection",
        "Returns the given string.", "1.0.0", "O(1)"),
    CMD("quit", hr_cmd_quit, -1, PS,
        "noscript loading stale fast no_auth allow_busy", "@fast @connection", "connection",
        "Closes the connection.", "1.0.0", "O(1)"),
    CMD("reset", hr_cmd_reset, 1, PS, "noscript loading stale fast no_auth allow_busy",
        "@fast @connection", "connection", "Resets the connection.", "6.2.0", "O(1)"),
    CMD("select", hr_cmd_select, 2, 0, "loading stale fast", "@fast @connection", "connection",
        "Changes the selected database.", "1.0.0", "O(1)"),
    CMD("hello", hr_cmd_hello, -1, 0, "noscript loading stale fast no_auth allow_busy",
        "@fast @connection", "connection", "Handshakes with the server.", "6.0.0",
        "O(1)"),
    CONTAINER("client", -2, "", "@slow", "connection", "A container for client connection "
                                                       "commands.",
              "2.4.0", client_subs),
    /* server */
    {.name = "command", .fn = hr_cmd_command, .arity = -1, .flags = HR_CMD_CONTAINER,
     .info = "loading stale", .acl = "@slow @connection", .group = "server",
     .summary = "Returns detailed information about all commands.", .since = "2.8.13",
     .complexity = "O(N) where N is the total number of commands", .subcommands = command_subs,
     .tips = "nondeterministic_output_order"},
    CMD("info", hr_cmd_info, -1, 0, "loading stale", "@slow @dangerous", "server",
        "Returns information and statistics about the server.", "1.0.0", "O(1)",
        .tips = "nondeterministic_output request_policy:all_shards response_policy:special"),
    CONTAINER("config", -2, "", "@slow", "server", "A container for server configuration "
                                                   "commands.",
              "2.0.0", config_subs),
    CMD("dbsize", hr_cmd_dbsize, 1, 0, "readonly fast", "@keyspace @read @fast", "server",
        "Returns the number of keys in the database.", "1.0.0", "O(1)",
        .tips = "request_policy:all_shards response_policy:agg_sum"),
    CMD("flushall", hr_cmd_flushall, -1, 0, "write", "@keyspace @write @slow @dangerous",
        "server", "Removes all keys from all databases.", "1.0.0",
        "O(N) where N is the total number of keys in all databases",
        .tips = "request_policy:all_shards response_policy:all_succeeded"),
    CMD("flushdb", hr_cmd_flushdb, -1, 0, "write", "@keyspace @write @slow @dangerous", "server",
        "Remove all keys from the current database.", "1.0.0",
        "O(N) where N is the number of keys in the selected database",
        .tips = "request_policy:all_shards response_policy:all_succeeded"),
    CMD("time", hr_cmd_time, 1, 0, "loading stale fast", "@fast", "server",
        "Returns the server time.", "2.6.0", "O(1)", .tips = "nondeterministic_output"),
    CMD("role", hr_cmd_role, 1, 0, "noscript loading stale fast", "@admin @fast @dangerous",
        "server", "Returns the replication role.", "2.8.12", "O(1)"),
    CONTAINER("cluster", -2, "", "@slow", "cluster", "A container for Redis Cluster commands.",
              "3.0.0", cluster_subs),
    CMD("debug", hr_cmd_debug, -2, 0, "admin noscript loading stale",
        "@admin @slow @dangerous", "server", "A container for debugging commands.", "1.0.0",
        "Depends on subcommand."),
    CONTAINER("function", -2, "", "@slow", "scripting", "A container for function commands.",
              "7.0.0", function_subs),
    {0},
};

size_t hr_command_count(void)
{
    size_t n = 0;
    while (hr_command_table[n].name) n++;
    return n;
}

void hr_commands_register(hr_server *s)
{
    hr_dict_init(&s->commands);
    for (const hr_command *cmd = hr_command_table; cmd->name; cmd++) {
        hr_dict_entry *e = hr_dict_upsert(&s->commands, cmd->name, strlen(cmd->name), NULL);
        e->val = (void *)cmd;
        if (cmd->subcommands)
            for (const hr_command *sub = cmd->subcommands; sub->name; sub++)
                ((hr_command *)sub)->parent = cmd;
    }
}

static const hr_command *lookup_lower(const hr_dict *d, const char *name, size_t len)
{
    char low[64];
    if (len >= sizeof(low)) return NULL;
    for (size_t i = 0; i < len; i++) low[i] = (char)tolower((unsigned char)name[i]);
    return hr_dict_get(d, low, len);
}

const hr_command *hr_command_lookup(const hr_server *s, const char *name, size_t len)
{
    return lookup_lower(&s->commands, name, len);
}

static const hr_command *find_sub(const hr_command *parent, const hr_arg *a)
{
    for (const hr_command *sub = parent->subcommands; sub->name; sub++)
        if (hr_arg_eq(a, sub->name)) return sub;
    return NULL;
}

/* "name" or "parent|name", as Redis writes in errors and CLIENT LIST. */
void hr_command_fullname(const hr_command *cmd, char *out, size_t outlen)
{
    if (cmd->parent) snprintf(out, outlen, "%s|%s", cmd->parent->name, cmd->name);
    else snprintf(out, outlen, "%s", cmd->name);
}

/* Appends "'arg' " previews the way Redis's unknown-command error does:
 * arguments are added while the text is shorter than 128 bytes, each cut so
 * the text stays within 128, and each stops at a NUL byte. */
static void args_preview(char *out, size_t outlen, int argc, const hr_arg *argv, int from)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = from; i < argc && used < 128; i++) {
        size_t n = strnlen(argv[i].ptr, argv[i].len);
        size_t room = 128 - used;
        if (n > room) n = room;
        int w = snprintf(out + used, outlen - used, "'%.*s' ", (int)n, argv[i].ptr);
        if (w < 0 || (size_t)w >= outlen - used) break;
        used += (size_t)w;
    }
}

static void reply_unknown(hr_conn *c, int argc, hr_arg *argv)
{
    char args[200];
    args_preview(args, sizeof(args), argc, argv, 1);
    hr_reply_errorf(c, "ERR unknown command '%.*s', with args beginning with: %s",
                    hr_arg_preview(&argv[0]), argv[0].ptr, args);
}

void hr_command_execute(hr_conn *c, int argc, hr_arg *argv)
{
    hr_server *s = c->srv;
    /* CLIENT REPLY SKIP suppresses the reply of the command after it. */
    if (c->flags & HR_CONN_REPLY_SKIP_NEXT) {
        c->flags &= ~HR_CONN_REPLY_SKIP_NEXT;
        c->flags |= HR_CONN_REPLY_SKIP;
    }
    const hr_command *cmd = hr_command_lookup(s, argv[0].ptr, argv[0].len);
    if (!cmd) {
        reply_unknown(c, argc, argv);
        goto done;
    }
    if (cmd->subcommands && argc >= 2) {
        const hr_command *sub = find_sub(cmd, &argv[1]);
        if (!sub) {
            char up[64];
            size_t i = 0;
            for (; cmd->name[i] && i < sizeof(up) - 1; i++)
                up[i] = (char)toupper((unsigned char)cmd->name[i]);
            up[i] = '\0';
            hr_reply_unknown_subcommand(c, up, &argv[1]);
            goto done;
        }
        cmd = sub;
    }
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity) {
        char full[96];
        hr_command_fullname(cmd, full, sizeof(full));
        hr_reply_wrong_arity(c, full);
        goto done;
    }
    /* RESP2 subscribed mode accepts only the pub/sub family, PING, QUIT and
     * RESET. */
    const hr_command *top = cmd->parent ? cmd->parent : cmd;
    if (c->resp == 2 && !(top->flags & HR_CMD_PUBSUB_OK) && hr_conn_subscriptions(c) > 0) {
        char full[96];
        hr_command_fullname(cmd, full, sizeof(full));
        hr_reply_errorf(c,
                        "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                        "QUIT / RESET are allowed in this context",
                        full);
        goto done;
    }
    if (!cmd->fn) {
        /* A container called without a subcommand it accepts. */
        char full[96];
        hr_command_fullname(cmd, full, sizeof(full));
        hr_reply_wrong_arity(c, full);
        goto done;
    }
    c->last_cmd = cmd; /* set first: CLIENT LIST shows the running command */
    s->current = c;
    cmd->fn(c, argc, argv);
    s->current = NULL;
    if (c->ndeferred) hr_conn_flush_deferred(c);
    s->stats.total_commands_processed++;
done:
    c->flags &= ~HR_CONN_REPLY_SKIP;
}
