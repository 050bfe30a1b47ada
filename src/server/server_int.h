/*
 * server_int.h - functions shared between the server's own files only (not
 * part of the embedding API in server.h).
 */
#ifndef HR_SERVER_INT_H
#define HR_SERVER_INT_H

#include "server.h"

hr_conn *hr_conn_new(hr_server *s, int fd, int is_unix);
/* Output batching: a connection whose queue holds only pushes may wait for
 * more input to be processed, so one writev carries more messages; at most
 * this many bytes or this long. Replies are never held back. */
#define HR_DEFER_MAX_BYTES (16 * 1024)
#define HR_DEFER_MAX_US 1000
/* Before-sleep input rounds taken while output is held back. */
#define HR_DEFER_MAX_ROUNDS 8

/* Flushes every connection on the pending-write list; with allow_defer,
 * push-only queues may stay pending (see above). Returns how many did. */
size_t hr_server_flush_pending(hr_server *s, bool allow_defer);
void hr_conn_flush_deferred(hr_conn *c);
/* Uptime in seconds. */
long long hr_server_uptime(const hr_server *s);

#endif
