/*
 * cmds.h - command handlers, one group per file (cmd_*.c, config.c). The
 * table that binds names, arity and metadata to them is in commands.c.
 */
#ifndef HR_CMDS_H
#define HR_CMDS_H

#include "server.h"

#define HR_CMD(name) void hr_cmd_##name(hr_conn *c, int argc, hr_arg *argv)

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
