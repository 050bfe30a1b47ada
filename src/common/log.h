/*
 * log.h - levelled logging to stdout or a file, in Redis's line format:
 *   <pid>:<role> <dd Mon yyyy hh:mm:ss.mmm> <level-char> <message>
 * Levels: debug (.), verbose (-), notice (*), warning (#).
 */
#ifndef HR_LOG_H
#define HR_LOG_H

enum { HR_LOG_DEBUG = 0, HR_LOG_VERBOSE, HR_LOG_NOTICE, HR_LOG_WARNING, HR_LOG_NOTHING };

/* Sets the destination: NULL or "" is stdout. Returns 0, or -1 when the
 * file cannot be opened (the previous destination is kept). */
int hr_log_open(const char *path);
void hr_log_set_level(int level);
int hr_log_get_level(void);
/* Parses "debug"/"verbose"/"notice"/"warning"/"nothing"; -1 when unknown. */
int hr_log_level_from_name(const char *name);
const char *hr_log_level_name(int level);
void hr_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define hr_log_debug(...) hr_log(HR_LOG_DEBUG, __VA_ARGS__)
#define hr_log_verbose(...) hr_log(HR_LOG_VERBOSE, __VA_ARGS__)
#define hr_log_notice(...) hr_log(HR_LOG_NOTICE, __VA_ARGS__)
#define hr_log_warning(...) hr_log(HR_LOG_WARNING, __VA_ARGS__)

#endif
