/* log.c - levelled logging; see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static FILE *log_fp;
static int log_level = HR_LOG_NOTICE;
static const char *names[] = {"debug", "verbose", "notice", "warning", "nothing"};

int hr_log_open(const char *path)
{
    if (!path || !*path) {
        if (log_fp && log_fp != stdout) fclose(log_fp);
        log_fp = NULL;
        return 0;
    }
    FILE *fp = fopen(path, "a");
    if (!fp) return -1;
    if (log_fp && log_fp != stdout) fclose(log_fp);
    log_fp = fp;
    return 0;
}

void hr_log_set_level(int level)
{
    log_level = level;
}

int hr_log_get_level(void)
{
    return log_level;
}

int hr_log_level_from_name(const char *name)
{
    for (int i = 0; i <= HR_LOG_NOTHING; i++)
        if (!strcasecmp(name, names[i])) return i;
    return -1;
}

const char *hr_log_level_name(int level)
{
    return level >= 0 && level <= HR_LOG_NOTHING ? names[level] : "notice";
}

void hr_log(int level, const char *fmt, ...)
{
    if (level < log_level || level >= HR_LOG_NOTHING) return;
    FILE *fp = log_fp ? log_fp : stdout;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char ts[64];
    size_t n = strftime(ts, sizeof(ts), "%d %b %Y %H:%M:%S.", &tm);
    snprintf(ts + n, sizeof(ts) - n, "%03d", (int)(tv.tv_usec / 1000));
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(fp, "%d:M %s %c %s\n", (int)getpid(), ts, ".-*#"[level], msg);
    fflush(fp);
}
