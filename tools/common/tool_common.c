/*
 * tool_common.c - the logging, option parsing and signal handling shared by
 * herald-pub and herald-sub (see tool_common.h). Public libherald API only.
 */
#include "tool_common.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "herald-tool";
static FILE *log_stream; /* NULL: stdout */

void hr_tool_init(const char *name, FILE *log)
{
    prog = name;
    log_stream = log;
}

void hr_tool_set_log(FILE *log)
{
    log_stream = log;
}

void hr_tool_iso_now(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000L);
}

void hr_tool_log(const char *level, const char *fmt, ...)
{
    FILE *f = log_stream ? log_stream : stdout;
    char ts[40];
    hr_tool_iso_now(ts, sizeof(ts));
    va_list ap;
    va_start(ap, fmt);
    flockfile(f);
    fprintf(f, "%s %-5s %s: ", ts, level, prog);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
    funlockfile(f);
    va_end(ap);
}

void hr_tool_log_event(const herald_event_t *ev)
{
    switch (ev->type) {
    case HERALD_EVENT_CONNECTED:
        if (ev->reconnects == 0)
            hr_tool_log("info", "Connected to %s", ev->address);
        else
            hr_tool_log("info", "Connection recovered: %s (reconnect #%llu)", ev->address,
                        ev->reconnects);
        break;
    case HERALD_EVENT_DISCONNECTED:
        if (ev->err != HERALD_ECLOSED)
            hr_tool_log("warn", "Connection lost: %s (%s); reconnecting", ev->detail,
                        herald_strerror(ev->err));
        break;
    case HERALD_EVENT_ERROR: hr_tool_log("warn", "%s", ev->detail); break;
    default: break;
    }
}

bool hr_tool_parse_resp(const char *arg, int *resp)
{
    if (strcmp(arg, "2") != 0 && strcmp(arg, "3") != 0) {
        fprintf(stderr, "%s: --resp takes 2 or 3\n", prog);
        return false;
    }
    *resp = arg[0] - '0';
    return true;
}

bool hr_tool_parse_positive(const char *what, const char *arg, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v <= 0) {
        fprintf(stderr, "%s: bad %s '%s'\n", prog, what, arg);
        return false;
    }
    *out = v;
    return true;
}

void hr_tool_options(herald_options_t *o, int resp, const char *name, herald_event_cb on_event)
{
    herald_options_init(o);
    o->protocol = resp;
    o->client_name = name;
    o->lazy_connect = 1;
    o->on_event = on_event;
}

herald_client_t *hr_tool_connect(const char *url, const herald_options_t *o)
{
    herald_client_t *c = NULL;
    int rc = herald_connect(url, o, &c);
    if (rc != HERALD_OK) {
        hr_tool_log("error", "Cannot use %s: %s", url, herald_strerror(rc));
        return NULL;
    }
    return c;
}

int hr_tool_signalfd(int extra_sig)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    if (extra_sig) sigaddset(&sigs, extra_sig);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &sigs, SFD_CLOEXEC);
}

int hr_tool_wait(int sfd, int infd, int ms, int *sig)
{
    struct pollfd p[2] = {{sfd, POLLIN, 0}, {infd, POLLIN, 0}};
    int n = poll(p, infd >= 0 ? 2 : 1, ms);
    if (n <= 0) return HR_TOOL_TIMEOUT;
    if (p[0].revents) {
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            if (sig) *sig = (int)si.ssi_signo;
            return HR_TOOL_SIGNAL;
        }
    }
    if (infd >= 0 && p[1].revents) return HR_TOOL_INPUT;
    return HR_TOOL_TIMEOUT;
}
