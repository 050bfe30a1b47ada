/*
 * cmds.h - command handlers, one group per file (cmd_*.c, config.c). The
 * table that binds names, arity and metadata to them is in commands.c.
 */
#ifndef HR_CMDS_H
#define HR_CMDS_H

#include "server.h"

#define HR_CMD(name) void hr_cmd_##name(hr_conn *c, int argc, hr_arg *argv)

/* monitor.c */
HR_CMD(monitor);

/* cmd_pubsub.c */
HR_CMD(subscribe);
HR_CMD(unsubscribe);
HR_CMD(psubscribe);
HR_CMD(punsubscribe);
HR_CMD(ssubscribe);
HR_CMD(sunsubscribe);
HR_CMD(publish);
HR_CMD(spublish);
HR_CMD(pubsub_channels);
HR_CMD(pubsub_numsub);
HR_CMD(pubsub_numpat);
HR_CMD(pubsub_shardchannels);
HR_CMD(pubsub_shardnumsub);
HR_CMD(pubsub_help);

/* cmd_conn.c */
HR_CMD(ping);
HR_CMD(echo);
HR_CMD(quit);
HR_CMD(reset);
HR_CMD(select);
HR_CMD(hello);
HR_CMD(dbsize);
HR_CMD(flushall);
HR_CMD(flushdb);
HR_CMD(time);
HR_CMD(role);
HR_CMD(cluster);
HR_CMD(debug);
HR_CMD(function_flush);
HR_CMD(function_help);

/* cmd_client.c */
HR_CMD(client_id);
HR_CMD(client_setname);
HR_CMD(client_getname);
HR_CMD(client_info);
HR_CMD(client_list);
HR_CMD(client_kill);
HR_CMD(client_reply);
HR_CMD(client_setinfo);
HR_CMD(client_no_evict);
HR_CMD(client_no_touch);
HR_CMD(client_help);

/* cmd_info.c */
HR_CMD(info);

/* cmd_command.c */
HR_CMD(command);
HR_CMD(command_count);
HR_CMD(command_info);
HR_CMD(command_docs);
HR_CMD(command_list);
HR_CMD(command_help);

/* cmd_string.c */
HR_CMD(get);
HR_CMD(set);
HR_CMD(setex);
HR_CMD(psetex);
HR_CMD(setnx);
HR_CMD(getdel);
HR_CMD(getex);
HR_CMD(getset);
HR_CMD(mget);
HR_CMD(mset);
HR_CMD(msetnx);
HR_CMD(strlen);
HR_CMD(append);
HR_CMD(incr);
HR_CMD(incrby);
HR_CMD(incrbyfloat);
HR_CMD(decr);
HR_CMD(decrby);
HR_CMD(getrange);
HR_CMD(substr);
HR_CMD(setrange);
HR_CMD(setbit);
HR_CMD(getbit);
HR_CMD(bitcount);
HR_CMD(bitpos);
HR_CMD(bitop);
HR_CMD(lcs);

/* cmd_keys.c */
HR_CMD(del);
HR_CMD(unlink);
HR_CMD(exists);
HR_CMD(touch);
HR_CMD(type);
HR_CMD(keys);
HR_CMD(scan);
HR_CMD(randomkey);
HR_CMD(rename);
HR_CMD(renamenx);
HR_CMD(expire);
HR_CMD(pexpire);
HR_CMD(expireat);
HR_CMD(pexpireat);
HR_CMD(ttl);
HR_CMD(pttl);
HR_CMD(expiretime);
HR_CMD(pexpiretime);
HR_CMD(persist);
HR_CMD(move);
HR_CMD(swapdb);
HR_CMD(object_encoding);
HR_CMD(object_freq);
HR_CMD(object_help);
HR_CMD(object_idletime);
HR_CMD(object_refcount);

/* cmd_memory.c */
HR_CMD(memory_usage);
HR_CMD(memory_purge);
HR_CMD(memory_doctor);
HR_CMD(memory_malloc_stats);
HR_CMD(memory_help);

/* multi.c */
HR_CMD(multi);
HR_CMD(exec);
HR_CMD(discard);
HR_CMD(watch);
HR_CMD(unwatch);

/* tracking.c */
HR_CMD(client_tracking);
HR_CMD(client_caching);
HR_CMD(client_getredir);
HR_CMD(client_trackinginfo);

/* config.c */
HR_CMD(config_get);
HR_CMD(config_set);
HR_CMD(config_resetstat);
HR_CMD(config_rewrite);
HR_CMD(config_help);

/* Validates a client name (CLIENT SETNAME, HELLO SETNAME): returns NULL when
 * valid or Redis's error text. */
const char *hr_client_name_error(const char *s, size_t len);
/* "name" or "parent|name" of a command, as used in errors and CLIENT LIST. */
void hr_command_fullname(const hr_command *cmd, char *out, size_t outlen);
/* Resets a connection to its initial state (RESET). */
void hr_conn_reset_state(hr_conn *c);

#endif
