/*
 * server_int.h - functions shared between the server's own files only (not
 * part of the embedding API in server.h).
 */
#ifndef HR_SERVER_INT_H
#define HR_SERVER_INT_H

#include "server.h"

hr_conn *hr_conn_new(hr_server *s, int fd, int is_unix);
void hr_server_flush_pending(hr_server *s);
void hr_conn_flush_deferred(hr_conn *c);
/* Uptime in seconds. */
long long hr_server_uptime(const hr_server *s);

#endif
