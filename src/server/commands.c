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
#include "alloc.h"
#include "cmds.h"
#include "hrtime.h"
#include "multi.h"
#include "server_int.h"
#include "tracking.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Trailing arguments, when given, are extra designated initializers (.tips,
 * .key_specs, ...). */
#define SUB(n, f, ar, fl, inf, acl_, summ, since_, cplx, ...)                                      \
    {.name = n, .fn = f, .arity = ar, .flags = fl, .info = inf, .acl = acl_, .summary = summ,      \
     .since = since_, .complexity = cplx, __VA_ARGS__}

enum {
    PS = HR_CMD_PUBSUB_OK,
    W = HR_CMD_WRITE,
    R = HR_CMD_READONLY,
    OOM = HR_CMD_DENYOOM,
    NOQ = HR_CMD_NO_MULTI,
    NOMON = HR_CMD_SKIP_MONITOR,
    REPL = HR_CMD_MAY_REPLICATE,
};

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
    SUB("caching", hr_cmd_client_caching, 3, 0, "noscript loading stale", "@slow @connection",
        "Tells the server whether to track the keys of the next command (OPTIN/OPTOUT).",
        "6.0.0", "O(1)"),
    SUB("getredir", hr_cmd_client_getredir, 2, 0, "noscript loading stale",
        "@slow @connection", "Returns the client id tracking notifications are redirected to.",
        "6.0.0", "O(1)"),
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
    SUB("no-touch", hr_cmd_client_no_touch, 3, 0, "noscript loading stale", "@slow @connection",
        "Keeps the connection's reads from changing keys' access times.", "7.2.0", "O(1)"),
    SUB("no-evict", hr_cmd_client_no_evict, 3, 0, "admin noscript loading stale",
        "@admin @slow @dangerous @connection",
        "Sets the client eviction mode of the connection.", "7.0.0", "O(1)"),
    SUB("reply", hr_cmd_client_reply, 3, 0, "noscript loading stale", "@slow @connection",
        "Instructs the server whether to reply to commands.", "3.2.0", "O(1)"),
    SUB("setinfo", hr_cmd_client_setinfo, 4, 0, "noscript loading stale", "@slow @connection",
        "Sets information specific to the client or connection.", "7.2.0", "O(1)"),
    SUB("setname", hr_cmd_client_setname, 3, 0, "noscript loading stale", "@slow @connection",
        "Sets the connection name.", "2.6.9", "O(1)"),
    SUB("tracking", hr_cmd_client_tracking, -3, 0, "noscript loading stale",
        "@slow @connection", "Turns server-assisted client-side caching on or off.", "6.0.0",
        "O(1). Some options may introduce additional complexity."),
    SUB("trackinginfo", hr_cmd_client_trackinginfo, 2, 0, "noscript loading stale",
        "@slow @connection", "Returns the client-side caching state of the connection.",
        "6.2.0", "O(1)"),
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

static hr_command object_subs[] = {
    SUB("encoding", hr_cmd_object_encoding, 3, R, "readonly", "@keyspace @read @slow",
        "Returns the internal encoding of a key's value.", "2.2.3", "O(1)",
        .tips = "nondeterministic_output", .first_key = 2, .last_key = 2, .key_step = 1,
        .key_specs = (const hr_key_spec[]){{"RO", 2, 0, 1, 0, NULL}}, .key_specs_num = 1),
    SUB("freq", hr_cmd_object_freq, 3, R, "readonly", "@keyspace @read @slow",
        "Returns the logarithmic access frequency counter of a key.", "4.0.0", "O(1)",
        .tips = "nondeterministic_output", .first_key = 2, .last_key = 2, .key_step = 1,
        .key_specs = (const hr_key_spec[]){{"RO", 2, 0, 1, 0, NULL}}, .key_specs_num = 1),
    SUB("help", hr_cmd_object_help, 2, 0, "loading stale", "@keyspace @slow",
        "Describes the OBJECT subcommands.", "6.2.0", "O(1)"),
    SUB("idletime", hr_cmd_object_idletime, 3, R, "readonly", "@keyspace @read @slow",
        "Returns the seconds since a key was last accessed.", "2.2.3", "O(1)",
        .tips = "nondeterministic_output", .first_key = 2, .last_key = 2, .key_step = 1,
        .key_specs = (const hr_key_spec[]){{"RO", 2, 0, 1, 0, NULL}}, .key_specs_num = 1),
    SUB("refcount", hr_cmd_object_refcount, 3, R, "readonly", "@keyspace @read @slow",
        "Returns the reference count of a key's value.", "2.2.3", "O(1)",
        .tips = "nondeterministic_output", .first_key = 2, .last_key = 2, .key_step = 1,
        .key_specs = (const hr_key_spec[]){{"RO", 2, 0, 1, 0, NULL}}, .key_specs_num = 1),
    {0},
};

static hr_command memory_subs[] = {
    SUB("doctor", hr_cmd_memory_doctor, 2, 0, "", "@slow", "Reports memory problems.", "4.0.0",
        "O(1)", .tips = "nondeterministic_output request_policy:all_shards response_policy:special"),
    SUB("help", hr_cmd_memory_help, 2, 0, "loading stale", "@slow",
        "Describes the MEMORY subcommands.", "4.0.0", "O(1)"),
    SUB("malloc-stats", hr_cmd_memory_malloc_stats, 2, 0, "", "@slow",
        "Returns the allocator's statistics.", "4.0.0", "O(1)",
        .tips = "nondeterministic_output request_policy:all_shards response_policy:special"),
    SUB("purge", hr_cmd_memory_purge, 2, 0, "", "@slow",
        "Asks the allocator to release unused memory.", "4.0.0",
        "Depends on how much memory is allocated",
        .tips = "request_policy:all_shards response_policy:all_succeeded"),
    SUB("usage", hr_cmd_memory_usage, -3, R, "readonly", "@read @slow",
        "Estimates the memory used by a key and its value.", "4.0.0", "O(1) for strings",
        .first_key = 2, .last_key = 2, .key_step = 1,
        .key_specs = (const hr_key_spec[]){{"RO", 2, 0, 1, 0, NULL}}, .key_specs_num = 1),
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


hr_command hr_command_table[] = {
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
        .key_specs = (const hr_key_spec[]){{"not_key", 1, -1, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("sunsubscribe", hr_cmd_sunsubscribe, -1, PS, "pubsub noscript loading stale",
        "@pubsub @slow", "pubsub", "Stops listening to messages posted to shard channels.",
        "7.0.0", "O(N) where N is the number of shard channels to unsubscribe.", .first_key = 1,
        .last_key = -1, .key_step = 1,
        .key_specs = (const hr_key_spec[]){{"not_key", 1, -1, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("publish", hr_cmd_publish, 3, REPL, "pubsub loading stale fast",
        "@pubsub @fast", "pubsub", "Posts a message to a channel.", "2.0.0",
        "O(N+M) where N is the number of clients subscribed to the receiving channel and M is "
        "the total number of subscribed patterns (by any client)."),
    CMD("spublish", hr_cmd_spublish, 3, REPL, "pubsub loading stale fast", "@pubsub @fast",
        "pubsub", "Post a message to a shard channel", "7.0.0",
        "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        .first_key = 1, .last_key = 1, .key_step = 1,
        .key_specs = (const hr_key_spec[]){{"not_key", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CONTAINER("pubsub", -2, "", "@slow", "pubsub", "A container for Pub/Sub commands.", "2.8.0",
              pubsub_subs),
    /* connection */
    CMD("ping", hr_cmd_ping, -1, PS, "fast", "@fast @connection", "connection",
        "Returns the server's liveliness response.", "1.0.0", "O(1)",
        .tips = "request_policy:all_shards response_policy:all_succeeded"),
    CMD("echo", hr_cmd_echo, 2, 0, "loading stale fast", "@fast @connection", "connection",
        "Returns the given string.", "1.0.0", "O(1)"),
    CMD("quit", hr_cmd_quit, -1, PS | NOQ | NOMON,
        "noscript loading stale fast no_auth allow_busy", "@fast @connection", "connection",
        "Closes the connection.", "1.0.0", "O(1)"),
    CMD("reset", hr_cmd_reset, 1, PS | NOQ, "noscript loading stale fast no_auth allow_busy",
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
    CMD("monitor", hr_cmd_monitor, 1, 0, "admin noscript loading stale", "@admin @slow @dangerous",
        "server", "Streams every command the server runs, as it runs them.", "1.0.0", NULL),
    CONTAINER("config", -2, "", "@slow", "server", "A container for server configuration "
                                                   "commands.",
              "2.0.0", config_subs),
    CMD("dbsize", hr_cmd_dbsize, 1, R, "readonly fast", "@keyspace @read @fast", "server",
        "Returns the number of keys in the database.", "1.0.0", "O(1)",
        .tips = "request_policy:all_shards response_policy:agg_sum"),
    CMD("flushall", hr_cmd_flushall, -1, W, "write", "@keyspace @write @slow @dangerous",
        "server", "Removes all keys from all databases.", "1.0.0",
        "O(N) where N is the total number of keys in all databases",
        .tips = "request_policy:all_shards response_policy:all_succeeded"),
    CMD("flushdb", hr_cmd_flushdb, -1, W, "write", "@keyspace @write @slow @dangerous", "server",
        "Remove all keys from the current database.", "1.0.0",
        "O(N) where N is the number of keys in the selected database",
        .tips = "request_policy:all_shards response_policy:all_succeeded"),
    CMD("time", hr_cmd_time, 1, 0, "loading stale fast", "@fast", "server",
        "Returns the server time.", "2.6.0", "O(1)", .tips = "nondeterministic_output"),
    CMD("role", hr_cmd_role, 1, 0, "noscript loading stale fast", "@admin @fast @dangerous",
        "server", "Returns the replication role.", "2.8.12", "O(1)"),
    CONTAINER("memory", -2, "", "@slow", "server", "A container for memory introspection commands.",
              "4.0.0", memory_subs),
    CONTAINER("cluster", -2, "", "@slow", "cluster", "A container for Redis Cluster commands.",
              "3.0.0", cluster_subs),
    CMD("debug", hr_cmd_debug, -2, 0, "admin noscript loading stale",
        "@admin @slow @dangerous", "server", "A container for debugging commands.", "1.0.0",
        "Depends on subcommand."),
    CONTAINER("function", -2, "", "@slow", "scripting", "A container for function commands.",
              "7.0.0", function_subs),
    /* strings (cmd_string.c) */
    CMD("get", hr_cmd_get, 2, R, "readonly fast", "@read @string @fast", "string", "Returns the string value of a key.", "1.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RO access", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("set", hr_cmd_set, -3, W|OOM, "write denyoom", "@write @string @slow", "string", "Sets the string value of a key, with optional expiry and conditions.", "1.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW access update variable_flags", 1, 0, 1, 0, "RW and ACCESS due to the optional `GET` argument"}}, .key_specs_num = 1),
    CMD("setex", hr_cmd_setex, 4, W|OOM, "write denyoom", "@write @string @slow", "string", "Sets a key's value and its expiry in seconds.", "2.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"OW update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("psetex", hr_cmd_psetex, 4, W|OOM, "write denyoom", "@write @string @slow", "string", "Sets a key's value and its expiry in milliseconds.", "2.6.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"OW update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("setnx", hr_cmd_setnx, 3, W|OOM, "write denyoom fast", "@write @string @fast", "string", "Sets a key's value only when the key does not exist.", "1.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"OW insert", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("getdel", hr_cmd_getdel, 2, W, "write fast", "@write @string @fast", "string", "Returns a key's value and deletes the key.", "6.2.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW access delete", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("getex", hr_cmd_getex, -2, W, "write fast", "@write @string @fast", "string", "Returns a key's value and optionally changes its expiry.", "6.2.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW access update", 1, 0, 1, 0, "RW and UPDATE because it changes the TTL"}}, .key_specs_num = 1),
    CMD("getset", hr_cmd_getset, 3, W|OOM, "write denyoom fast", "@write @string @fast", "string", "Sets a key's value and returns the previous one.", "1.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW access update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("mget", hr_cmd_mget, -2, R, "readonly fast", "@read @string @fast", "string", "Returns the values of several keys.", "1.0.0", "O(N) for N keys", .first_key = 1, .last_key = -1, .key_step = 1, .tips = "request_policy:multi_shard", .key_specs = (const hr_key_spec[]){{"RO access", 1, -1, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("mset", hr_cmd_mset, -3, W|OOM, "write denyoom", "@write @string @slow", "string", "Sets several keys at once.", "1.0.1", "O(N) for N keys", .first_key = 1, .last_key = -1, .key_step = 2, .tips = "request_policy:multi_shard response_policy:all_succeeded", .key_specs = (const hr_key_spec[]){{"OW update", 1, -1, 2, 0, NULL}}, .key_specs_num = 1),
    CMD("msetnx", hr_cmd_msetnx, -3, W|OOM, "write denyoom", "@write @string @slow", "string", "Sets several keys at once, only when none of them exists.", "1.0.1", "O(N) for N keys", .first_key = 1, .last_key = -1, .key_step = 2, .tips = "request_policy:multi_shard response_policy:agg_min", .key_specs = (const hr_key_spec[]){{"OW insert", 1, -1, 2, 0, NULL}}, .key_specs_num = 1),
    CMD("strlen", hr_cmd_strlen, 2, R, "readonly fast", "@read @string @fast", "string", "Returns the length of a key's value.", "2.2.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RO", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("append", hr_cmd_append, 3, W|OOM, "write denyoom fast", "@write @string @fast", "string", "Appends to a key's value, creating the key when missing.", "2.0.0", "O(1) amortised", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW insert", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("incr", hr_cmd_incr, 2, W|OOM, "write denyoom fast", "@write @string @fast", "string", "Adds one to the integer value of a key.", "1.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW access update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("incrby", hr_cmd_incrby, 3, W|OOM, "write denyoom fast", "@write @string @fast", "string", "Adds an integer to the integer value of a key.", "1.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW access update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("incrbyfloat", hr_cmd_incrbyfloat, 3, W|OOM, "write denyoom fast", "@write @string @fast", "string", "Adds a floating-point number to the numeric value of a key.", "2.6.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW access update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("decr", hr_cmd_decr, 2, W|OOM, "write denyoom fast", "@write @string @fast", "string", "Subtracts one from the integer value of a key.", "1.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW access update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("decrby", hr_cmd_decrby, 3, W|OOM, "write denyoom fast", "@write @string @fast", "string", "Subtracts an integer from the integer value of a key.", "1.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW access update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("getrange", hr_cmd_getrange, 4, R, "readonly", "@read @string @slow", "string", "Returns a substring of a key's value.", "2.4.0", "O(N) for N returned bytes", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RO access", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("substr", hr_cmd_substr, 4, R, "readonly", "@read @string @slow", "string", "Returns a substring of a key's value (the older name of GETRANGE).", "1.0.0", "O(N) for N returned bytes", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RO access", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("setrange", hr_cmd_setrange, 4, W|OOM, "write denyoom", "@write @string @slow", "string", "Overwrites part of a key's value at an offset.", "2.2.0", "O(1) plus the copy of the value", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("setbit", hr_cmd_setbit, 4, W|OOM, "write denyoom", "@write @bitmap @slow", "bitmap", "Sets or clears one bit of a key's value.", "2.2.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW access update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("getbit", hr_cmd_getbit, 3, R, "readonly fast", "@read @bitmap @fast", "bitmap", "Returns one bit of a key's value.", "2.2.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RO access", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("bitcount", hr_cmd_bitcount, -2, R, "readonly", "@read @bitmap @slow", "bitmap", "Counts the set bits of a key's value, optionally in a range.", "2.6.0", "O(N)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RO access", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("bitpos", hr_cmd_bitpos, -3, R, "readonly", "@read @bitmap @slow", "bitmap", "Finds the first set or clear bit of a key's value.", "2.8.7", "O(N)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RO access", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("bitop", hr_cmd_bitop, -4, W|OOM, "write denyoom", "@write @bitmap @slow", "bitmap", "Combines the values of keys bitwise into a destination key.", "2.6.0", "O(N)", .first_key = 2, .last_key = -1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"OW update", 2, 0, 1, 0, NULL}, {"RO access", 3, -1, 1, 0, NULL}}, .key_specs_num = 2),
    CMD("lcs", hr_cmd_lcs, -3, R, "readonly", "@read @string @slow", "string", "Finds the longest common subsequence of two keys' values.", "7.0.0", "O(N*M) for values of lengths N and M", .first_key = 1, .last_key = 2, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RO access", 1, 1, 1, 0, NULL}}, .key_specs_num = 1),
    /* keys and expiry (cmd_keys.c) */
    CMD("del", hr_cmd_del, -2, W, "write", "@keyspace @write @slow", "generic", "Deletes keys.", "1.0.0", "O(N) for N keys", .first_key = 1, .last_key = -1, .key_step = 1, .tips = "request_policy:multi_shard response_policy:agg_sum", .key_specs = (const hr_key_spec[]){{"RM delete", 1, -1, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("unlink", hr_cmd_unlink, -2, W, "write fast", "@keyspace @write @fast", "generic", "Deletes keys (memory is reclaimed without blocking the caller).", "4.0.0", "O(1) per key", .first_key = 1, .last_key = -1, .key_step = 1, .tips = "request_policy:multi_shard response_policy:agg_sum", .key_specs = (const hr_key_spec[]){{"RM delete", 1, -1, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("exists", hr_cmd_exists, -2, R, "readonly fast", "@keyspace @read @fast", "generic", "Counts how many of the given keys exist.", "1.0.0", "O(N) for N keys", .first_key = 1, .last_key = -1, .key_step = 1, .tips = "request_policy:multi_shard response_policy:agg_sum", .key_specs = (const hr_key_spec[]){{"RO", 1, -1, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("touch", hr_cmd_touch, -2, R, "readonly fast", "@keyspace @read @fast", "generic", "Updates the last access time of keys and counts those that exist.", "3.2.1", "O(N) for N keys", .first_key = 1, .last_key = -1, .key_step = 1, .tips = "request_policy:multi_shard response_policy:agg_sum", .key_specs = (const hr_key_spec[]){{"RO", 1, -1, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("type", hr_cmd_type, 2, R, "readonly fast", "@keyspace @read @fast", "generic", "Returns the type of the value stored at a key.", "1.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RO", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("keys", hr_cmd_keys, 2, R, "readonly", "@keyspace @read @slow @dangerous", "generic", "Returns the key names that match a glob pattern.", "1.0.0", "O(N) for N keys in the database", .tips = "request_policy:all_shards nondeterministic_output_order"),
    CMD("scan", hr_cmd_scan, -2, R, "readonly", "@keyspace @read @slow", "generic", "Iterates over the key names of the database with a cursor.", "2.8.0", "O(1) per call, O(N) for a full iteration", .tips = "nondeterministic_output request_policy:special"),
    CMD("randomkey", hr_cmd_randomkey, 1, R, "readonly", "@keyspace @read @slow", "generic", "Returns a random key name of the database.", "1.0.0", "O(1)", .tips = "request_policy:all_shards nondeterministic_output"),
    CMD("rename", hr_cmd_rename, 3, W, "write", "@keyspace @write @slow", "generic", "Renames a key, overwriting the destination.", "1.0.0", "O(1)", .first_key = 1, .last_key = 2, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW access delete", 1, 0, 1, 0, NULL}, {"OW update", 2, 0, 1, 0, NULL}}, .key_specs_num = 2),
    CMD("renamenx", hr_cmd_renamenx, 3, W, "write fast", "@keyspace @write @fast", "generic", "Renames a key only when the new name does not exist.", "1.0.0", "O(1)", .first_key = 1, .last_key = 2, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW access delete", 1, 0, 1, 0, NULL}, {"OW insert", 2, 0, 1, 0, NULL}}, .key_specs_num = 2),
    CMD("expire", hr_cmd_expire, -3, W, "write fast", "@keyspace @write @fast", "generic", "Sets a key's time to live in seconds.", "1.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("pexpire", hr_cmd_pexpire, -3, W, "write fast", "@keyspace @write @fast", "generic", "Sets a key's time to live in milliseconds.", "2.6.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("expireat", hr_cmd_expireat, -3, W, "write fast", "@keyspace @write @fast", "generic", "Sets a key's expiry as a UNIX time in seconds.", "1.2.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("pexpireat", hr_cmd_pexpireat, -3, W, "write fast", "@keyspace @write @fast", "generic", "Sets a key's expiry as a UNIX time in milliseconds.", "2.6.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("ttl", hr_cmd_ttl, 2, R, "readonly fast", "@keyspace @read @fast", "generic", "Returns a key's remaining time to live in seconds.", "1.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .tips = "nondeterministic_output", .key_specs = (const hr_key_spec[]){{"RO access", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("pttl", hr_cmd_pttl, 2, R, "readonly fast", "@keyspace @read @fast", "generic", "Returns a key's remaining time to live in milliseconds.", "2.6.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .tips = "nondeterministic_output", .key_specs = (const hr_key_spec[]){{"RO access", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("expiretime", hr_cmd_expiretime, 2, R, "readonly fast", "@keyspace @read @fast", "generic", "Returns a key's expiry as a UNIX time in seconds.", "7.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RO access", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("pexpiretime", hr_cmd_pexpiretime, 2, R, "readonly fast", "@keyspace @read @fast", "generic", "Returns a key's expiry as a UNIX time in milliseconds.", "7.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RO access", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("persist", hr_cmd_persist, 2, W, "write fast", "@keyspace @write @fast", "generic", "Removes a key's expiry.", "2.2.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("move", hr_cmd_move, 3, W, "write fast", "@keyspace @write @fast", "generic", "Moves a key to another database.", "1.0.0", "O(1)", .first_key = 1, .last_key = 1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RW access update", 1, 0, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("swapdb", hr_cmd_swapdb, 3, W, "write fast", "@keyspace @write @fast @dangerous", "server", "Exchanges the contents of two databases.", "4.0.0", "O(N) for N clients watching keys of either database"),
    CONTAINER("object", -2, "", "@slow", "generic", "A container for object introspection "
                                                   "commands.",
              "2.2.3", object_subs),
    /* transactions (multi.c) */
    CMD("multi", hr_cmd_multi, 1, NOQ, "noscript loading stale fast allow_busy", "@fast @transaction", "transactions", "Starts a transaction.", "1.2.0", "O(1)"),
    CMD("exec", hr_cmd_exec, 1, NOQ, "noscript loading stale skip_slowlog", "@slow @transaction", "transactions", "Runs the commands queued since MULTI.", "1.2.0", "The sum of the queued commands"),
    CMD("discard", hr_cmd_discard, 1, NOQ, "noscript loading stale fast allow_busy", "@fast @transaction", "transactions", "Drops the commands queued since MULTI.", "2.0.0", "O(N) for N queued commands"),
    CMD("watch", hr_cmd_watch, -2, NOQ, "noscript loading stale fast allow_busy", "@fast @transaction", "transactions", "Makes the next EXEC abort when one of the keys changes.", "2.2.0", "O(1) per key", .first_key = 1, .last_key = -1, .key_step = 1, .key_specs = (const hr_key_spec[]){{"RO", 1, -1, 1, 0, NULL}}, .key_specs_num = 1),
    CMD("unwatch", hr_cmd_unwatch, 1, 0, "noscript loading stale fast allow_busy", "@fast @transaction", "transactions", "Forgets every watched key.", "2.2.0", "O(1)"),
    {0},
};

size_t hr_command_count(void)
{
    size_t n = 0;
    while (hr_command_table[n].name) n++;
    return n;
}

static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; p && (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return true;
    return false;
}

/* Dispatch flags that follow from a command's COMMAND INFO flags. */
static void derive_flags(hr_command *cmd)
{
    if (has_word(cmd->info, "admin")) cmd->flags |= HR_CMD_SKIP_MONITOR;
    if (has_word(cmd->info, "may_replicate")) cmd->flags |= HR_CMD_MAY_REPLICATE;
}

void hr_commands_register(hr_server *s)
{
    hr_dict_init(&s->commands);
    hr_dict_init(&s->errorstats);
    /* Parents and ids are the same for every server: the table is shared. */
    int id = 0;
    for (hr_command *cmd = hr_command_table; cmd->name; cmd++) {
        hr_dict_entry *e = hr_dict_upsert(&s->commands, cmd->name, strlen(cmd->name), NULL);
        e->val = cmd;
        cmd->id = id++;
        derive_flags(cmd);
        if (cmd->subcommands)
            for (hr_command *sub = (hr_command *)cmd->subcommands; sub->name; sub++) {
                sub->parent = cmd;
                sub->id = id++;
                derive_flags(sub);
            }
    }
    s->ncmdstats = (size_t)id;
    s->cmdstats = hr_calloc(s->ncmdstats, sizeof(*s->cmdstats));
    (void)hr_ticks(); /* starts the tick rate's measurement */
}

void hr_commands_unregister(hr_server *s)
{
    hr_dict_release(&s->commands);
    hr_dict_release(&s->errorstats);
    hr_free(s->cmdstats);
    s->cmdstats = NULL;
    hr_free(s->monitors);
    s->monitors = NULL;
    s->nmonitors = s->monitors_cap = 0;
}

void hr_commandstats_reset(hr_server *s)
{
    memset(s->cmdstats, 0, s->ncmdstats * sizeof(*s->cmdstats));
    hr_dict_release(&s->errorstats);
    hr_dict_init(&s->errorstats);
}

void hr_errorstats_count(hr_server *s, const char *code, size_t len)
{
    hr_dict_entry *e = hr_dict_find(&s->errorstats, code, len);
    if (!e) {
        if (hr_dict_size(&s->errorstats) >= HR_ERRORSTATS_MAX) return;
        e = hr_dict_upsert(&s->errorstats, code, len, NULL);
    }
    e->aux++;
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

void hr_command_call(hr_conn *c, const hr_command *cmd, int argc, hr_arg *argv)
{
    hr_server *s = c->srv;
    hr_conn *prev = s->current;
    /* Set first: CLIENT LIST shows the running command (EXEC while it runs
     * the transaction). */
    if (!(c->flags & HR_CONN_IN_EXEC)) c->last_cmd = cmd;
    s->current = c;
    /* CLIENT NO-TOUCH: nothing but TOUCH itself updates access times. */
    bool prev_no_touch = s->no_touch;
    s->no_touch = (c->flags & HR_CONN_NO_TOUCH) && cmd->fn != hr_cmd_touch;
    /* Errors answered by this command only: a command EXEC runs has its own
     * count, and EXEC does not fail because one of them did. */
    long long outer_errors = s->call_errors;
    s->call_errors = 0;
    uint64_t t0 = hr_ticks();
    cmd->fn(c, argc, argv);
    hr_cmdstat *st = &s->cmdstats[cmd->id];
    st->ticks += hr_ticks() - t0;
    st->calls++;
    if (s->call_errors) st->failed++;
    s->call_errors = outer_errors;
    if (s->nmonitors && !(cmd->flags & HR_CMD_SKIP_MONITOR)) hr_monitor_feed(c, cmd, argc, argv);
    s->no_touch = prev_no_touch;
    s->current = prev;
    hr_tracking_after_command(c, cmd, argc, argv);
    s->stats.total_commands_processed++;
}

/* A command refused before it ran: inside MULTI the transaction is marked
 * so EXEC answers EXECABORT, as in Redis. */
static void rejected(hr_conn *c, const hr_command *cmd, int argc)
{
    if (cmd) c->srv->cmdstats[cmd->id].rejected++;
    if (c->flags & HR_CONN_MULTI) c->flags |= HR_CONN_DIRTY_EXEC;
    hr_tracking_after_command(c, cmd, argc, NULL); /* CLIENT CACHING lapses */
}

/* Refuses cmd with msg; an EXEC refused inside MULTI aborts the transaction
 * with the reason instead ("EXECABORT Transaction discarded because of: "). */
static void refuse(hr_conn *c, const hr_command *cmd, int argc, const char *msg)
{
    if ((c->flags & HR_CONN_MULTI) && cmd->fn == hr_cmd_exec) {
        c->srv->cmdstats[cmd->id].rejected++;
        hr_multi_exec_abort(c, msg);
        hr_tracking_after_command(c, cmd, argc, NULL);
        return;
    }
    hr_reply_error(c, msg);
    rejected(c, cmd, argc);
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
        rejected(c, NULL, argc);
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
            rejected(c, NULL, argc);
            goto done;
        }
        cmd = sub;
    }
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity || !cmd->fn) {
        /* (no handler: a container called without a subcommand it accepts) */
        char full[96], msg[160];
        hr_command_fullname(cmd, full, sizeof(full));
        snprintf(msg, sizeof(msg), "ERR wrong number of arguments for '%s' command", full);
        refuse(c, cmd, argc, msg);
        goto done;
    }
    const hr_command *top = cmd->parent ? cmd->parent : cmd;
    /* A MONITOR connection is a replica to Redis: no keyspace commands. */
    if ((c->flags & HR_CONN_MONITOR) &&
        (cmd->flags & (HR_CMD_WRITE | HR_CMD_READONLY | HR_CMD_MAY_REPLICATE))) {
        refuse(c, cmd, argc, "ERR Replica can't interact with the keyspace");
        goto done;
    }
    /* maxmemory: evict first; when that cannot get under the limit, refuse
     * commands that may grow memory, and anything queued in MULTI. */
    if (s->cfg.maxmemory > 0 && hr_evict_perform(s) < 0) {
        bool in_multi = (c->flags & HR_CONN_MULTI) && !(top->flags & HR_CMD_NO_MULTI);
        bool exec_grows = cmd->fn == hr_cmd_exec && (c->flags & HR_CONN_MULTI) &&
                          (hr_multi_queued_flags(c) & HR_CMD_DENYOOM);
        if ((cmd->flags & HR_CMD_DENYOOM) || in_multi || exec_grows) {
            refuse(c, cmd, argc, "OOM command not allowed when used memory > 'maxmemory'.");
            goto done;
        }
    }
    /* RESP2 subscribed mode accepts only the pub/sub family, PING, QUIT and
     * RESET. */
    if (c->resp == 2 && !(top->flags & HR_CMD_PUBSUB_OK) && hr_conn_subscriptions(c) > 0) {
        char full[96];
        hr_command_fullname(cmd, full, sizeof(full));
        hr_reply_errorf(c,
                        "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                        "QUIT / RESET are allowed in this context",
                        full);
        rejected(c, cmd, argc);
        goto done;
    }
    if ((c->flags & HR_CONN_MULTI) && !(top->flags & HR_CMD_NO_MULTI)) {
        hr_multi_queue(c, cmd, argc, argv);
        goto done;
    }
    /* One wall-clock instant per command (and per EXEC), read on first use:
     * keys cannot expire half-way through it. */
    s->cmd_time_ms = HR_CMD_TIME_UNSET;
    hr_command_call(c, cmd, argc, argv);
    s->cmd_time_ms = 0;
    if (c->ndeferred) hr_conn_flush_deferred(c);
done:
    c->flags &= ~HR_CONN_REPLY_SKIP;
}
