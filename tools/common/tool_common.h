/*
 * tool_common.h - what the command-line tools herald-pub and herald-sub
 * share: their timestamped log lines, the logging of connection events,
 * option-value parsing, client options and the signalfd they wait on.
 *
 * Built on the public libherald API only (include/herald/client.h). The
 * program name and log stream are process-wide: set them with
 * hr_tool_init() before anything logs. Logging is safe from any thread
 * (each line is written under the stream's lock and flushed).
 */
#ifndef HR_TOOL_COMMON_H
#define HR_TOOL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "herald/client.h"

/* hr_tool_wait() results */
#define HR_TOOL_TIMEOUT 0 /* nothing happened (timeout or interrupted poll) */
#define HR_TOOL_SIGNAL 1  /* a signal was read from the signalfd */
#define HR_TOOL_INPUT 2   /* the input fd is readable */

/* Sets the program name used in log lines and messages (borrowed: must stay
 * valid, typically a string literal) and the log stream (borrowed; NULL:
 * stdout). */
void hr_tool_init(const char *prog, FILE *log);

/* Changes the log stream (borrowed; NULL: stdout). */
void hr_tool_set_log(FILE *log);

/* Writes the current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out[0..n)
 * (NUL-terminated; 40 bytes are plenty). */
void hr_tool_iso_now(char *out, size_t n);

/* Logs one line "<ISO-8601 UTC time> <level> <prog>: <text>" to the log
 * stream and flushes it. */
void hr_tool_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs a connection event: "Connected to", "Connection recovered",
 * "Connection lost" (not for a deliberate close) and errors. Other event
 * types (RESUBSCRIBED) are left to the caller and logged here not at all.
 * ev is borrowed. */
void hr_tool_log_event(const herald_event_t *ev);

/* Parses a --resp value ("2" or "3") into *resp. Returns false (after
 * telling stderr "<prog>: --resp takes 2 or 3") on anything else. */
bool hr_tool_parse_resp(const char *arg, int *resp);

/* Parses arg as a positive decimal long into *out. Returns false (after
 * telling stderr "<prog>: bad <what> '<arg>'") when it is not one. */
bool hr_tool_parse_positive(const char *what, const char *arg, long *out);

/* Fills *o with the defaults plus protocol resp, client name name
 * (borrowed), lazy connect and on_event. */
void hr_tool_options(herald_options_t *o, int resp, const char *name, herald_event_cb on_event);

/* herald_connect(url, o); on failure logs "Cannot use <url>: <reason>" as an
 * error and returns NULL. The returned handle is the caller's
 * (herald_free()). */
herald_client_t *hr_tool_connect(const char *url, const herald_options_t *o);

/* Blocks SIGINT, SIGTERM and extra_sig (when nonzero) in this thread - the
 * library's threads created afterwards inherit the mask - ignores SIGPIPE,
 * and returns a signalfd reading those signals (the caller closes it), or
 * -1 on failure. */
int hr_tool_signalfd(int extra_sig);

/* Waits up to ms milliseconds (-1: forever) for a signal on sfd or, when
 * infd >= 0, for infd to become readable. Returns HR_TOOL_SIGNAL (the
 * signal is consumed and, when sig is not NULL, stored in *sig),
 * HR_TOOL_INPUT or HR_TOOL_TIMEOUT. */
int hr_tool_wait(int sfd, int infd, int ms, int *sig);

#endif
