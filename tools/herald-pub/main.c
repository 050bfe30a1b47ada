/*
 * herald-pub - the seed's Producer, over libherald: every --interval seconds
 * it publishes {"id":"<uuid v4>","timestamp":"<ISO-8601 UTC, ms>"} to
 * --channel and logs "Sending message: <channel> - <json>".
 *
 *   herald-pub [--url URL] [--channel NAME] [--interval SECONDS] [--count N]
 *              [--message TEXT | --stdin] [--sharded] [--resp 2|3] [--name NAME]
 *
 * --message publishes TEXT instead of the generated JSON; --stdin publishes
 * each line of standard input (pipelined, as fast as the connection allows;
 * paced only when --interval is given too) and exits at end of input once
 * every message is answered. --sharded uses SPUBLISH. Connection loss and
 * recovery are logged; while disconnected, messages are dropped (and logged):
 * pub/sub is at-most-once. Logs go to stdout, one line each:
 *   <ISO-8601 UTC time> <level> herald-pub: <text>
 * Exit status: 0 after SIGINT/SIGTERM or when every message was published;
 * 1 when some could not be; 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <uuid.h>

#include "herald/client.h"

#define MAX_LINE (16 * 1024 * 1024)

static const char *prog = "herald-pub";

static void iso_now(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void logf_(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const char *level, const char *fmt, ...)
{
    char ts[40];
    iso_now(ts, sizeof(ts));
    va_list ap;
    va_start(ap, fmt);
    flockfile(stdout);
    fprintf(stdout, "%s %-5s %s: ", ts, level, prog);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    funlockfile(stdout);
    va_end(ap);
}

static void on_event(herald_client_t *c, const herald_event_t *ev, void *ud)
{
    (void)c;
    (void)ud;
    if (!(ev->role & HERALD_ROLE_COMMAND)) return;
    switch (ev->type) {
    case HERALD_EVENT_CONNECTED:
        if (ev->reconnects == 0)
            logf_("info", "Connected to %s", ev->address);
        else
            logf_("info", "Connection recovered: %s (reconnect #%llu)", ev->address,
                  ev->reconnects);
        break;
    case HERALD_EVENT_DISCONNECTED:
        if (ev->err != HERALD_ECLOSED)
            logf_("warn", "Connection lost: %s (%s); reconnecting", ev->detail,
                  herald_strerror(ev->err));
        break;
    case HERALD_EVENT_ERROR: logf_("warn", "%s", ev->detail); break;
    default: break;
    }
}

/* {"id":"<uuid v4>","timestamp":"<ISO-8601>"}; caller frees (cJSON_free). */
static char *make_message(void)
{
    uuid_t u;
    char id[37], ts[40];
    uuid_generate_random(u);
    uuid_unparse_lower(u, id);
    iso_now(ts, sizeof(ts));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "timestamp", ts);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Waits up to ms milliseconds (-1: forever) for a signal or, when infd >= 0,
 * input. Returns 1 on a signal, 2 when infd is readable, 0 on timeout. */
static int wait_for(int sfd, int infd, int ms)
{
    struct pollfd p[2] = {{sfd, POLLIN, 0}, {infd, POLLIN, 0}};
    int n = poll(p, infd >= 0 ? 2 : 1, ms);
    if (n <= 0) return 0;
    if (p[0].revents) {
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof(si)) > 0) return 1;
    }
    if (infd >= 0 && p[1].revents) return 2;
    return 0;
}

typedef struct stdin_state {
    pthread_mutex_t mu;
    long failed;
} stdin_state;

static void on_published(herald_client_t *c, long long result, void *ud)
{
    (void)c;
    stdin_state *st = ud;
    if (result < 0) {
        logf_("warn", "Publish failed: %s", herald_strerror((int)result));
        pthread_mutex_lock(&st->mu);
        st->failed++;
        pthread_mutex_unlock(&st->mu);
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: herald-pub [options]\n"
               "  --url URL          server (default redis://127.0.0.1:6379)\n"
               "  --channel NAME     channel (default messages)\n"
               "  --interval SECS    seconds between messages (default 5; fractions ok)\n"
               "  --count N          stop after N messages (default: until interrupted)\n"
               "  --message TEXT     publish TEXT instead of {\"id\",\"timestamp\"} JSON\n"
               "  --stdin            publish each line of standard input\n"
               "  --sharded          use SPUBLISH (sharded channel)\n"
               "  --resp 2|3         protocol (default 2)\n"
               "  --name NAME        client name (default herald-pub)\n");
}

int main(int argc, char **argv)
{
    const char *url = "redis://127.0.0.1:6379", *channel = "messages", *message = NULL;
    const char *name = "herald-pub";
    double interval = 5;
    bool interval_set = false, from_stdin = false, sharded = false;
    long count = 0;
    int resp = 2;
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"channel", required_argument, NULL, 'c'},
                                         {"interval", required_argument, NULL, 'i'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"message", required_argument, NULL, 'm'},
                                         {"stdin", no_argument, NULL, 's'},
                                         {"sharded", no_argument, NULL, 'S'},
                                         {"resp", required_argument, NULL, 'r'},
                                         {"name", required_argument, NULL, 'N'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    for (int ch; (ch = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        char *end = NULL;
        switch (ch) {
        case 'u': url = optarg; break;
        case 'c': channel = optarg; break;
        case 'i':
            errno = 0;
            interval = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(interval >= 0 && interval <= 86400)) {
                fprintf(stderr, "%s: bad --interval '%s'\n", prog, optarg);
                return 2;
            }
            interval_set = true;
            break;
        case 'n':
            errno = 0;
            count = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || count <= 0) {
                fprintf(stderr, "%s: bad --count '%s'\n", prog, optarg);
                return 2;
            }
            break;
        case 'm': message = optarg; break;
        case 's': from_stdin = true; break;
        case 'S': sharded = true; break;
        case 'r':
            if (strcmp(optarg, "2") != 0 && strcmp(optarg, "3") != 0) {
                fprintf(stderr, "%s: --resp takes 2 or 3\n", prog);
                return 2;
            }
            resp = optarg[0] - '0';
            break;
        case 'N': name = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || (message && from_stdin)) {
        usage(stderr);
        return 2;
    }

    /* Signals are read from a signalfd by this thread; the library's
     * threads inherit the blocked mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);

    herald_options_t o;
    herald_options_init(&o);
    o.protocol = resp;
    o.client_name = name;
    o.lazy_connect = 1;
    o.on_event = on_event;
    herald_client_t *c = NULL;
    int rc = herald_connect(url, &o, &c);
    if (rc != HERALD_OK) {
        logf_("error", "Cannot use %s: %s", url, herald_strerror(rc));
        return 2;
    }
    logf_("info", "Publishing to %s%s on %s", sharded ? "shard channel " : "", channel, url);
    /* Give the first connection a moment, interruptibly. */
    bool stop = false;
    for (int i = 0; i < 500 && !herald_is_connected(c) && !stop; i++)
        stop = wait_for(sfd, -1, 10) == 1;

    long failed = 0;
    if (from_stdin && !stop) {
        stdin_state st = {PTHREAD_MUTEX_INITIALIZER, 0};
        char *buf = malloc(65536);
        size_t cap = 65536, len = 0;
        bool eof = false;
        long sent = 0;
        while (!stop && !eof && (count == 0 || sent < count)) {
            int w = wait_for(sfd, 0, -1);
            if (w == 1) {
                stop = true;
                break;
            }
            if (w != 2) continue;
            if (cap - len < 65536) {
                if (cap >= MAX_LINE * 2) {
                    logf_("error", "Input line longer than %d bytes: dropped", MAX_LINE);
                    len = 0;
                } else {
                    cap *= 2;
                    buf = realloc(buf, cap);
                }
            }
            ssize_t n = read(0, buf + len, cap - len);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                eof = true;
                if (len > 0) buf[len++] = '\n'; /* last line without newline */
            } else {
                len += (size_t)n;
            }
            size_t start = 0;
            for (size_t i = 0; i < len && (count == 0 || sent < count) && !stop; i++) {
                if (buf[i] != '\n') continue;
                size_t l = i - start;
                if (l > 0 && buf[start + l - 1] == '\r') l--;
                const char *line = buf + start;
                start = i + 1;
                int r;
                do {
                    r = sharded ? herald_spublish_async(c, channel, line, l, on_published, &st)
                                : herald_publish_async(c, channel, line, l, on_published, &st);
                    if (r == HERALD_EFULL) stop = wait_for(sfd, -1, 1) == 1;
                } while (r == HERALD_EFULL && !stop);
                sent++;
                if (r == HERALD_OK) {
                    logf_("info", "Sending message: %s - %.*s", channel, (int)l, line);
                } else {
                    logf_("warn", "Publish failed (%s): message dropped: %.*s", herald_strerror(r),
                          (int)l, line);
                    failed++;
                }
                if (interval_set && interval > 0 && wait_for(sfd, -1, (int)(interval * 1000)) == 1)
                    stop = true;
            }
            memmove(buf, buf + start, len - start);
            len -= start;
        }
        free(buf);
        int fr = herald_flush(c, 10000);
        if (fr != HERALD_OK && fr != HERALD_ECLOSED) {
            logf_("warn", "Not every message was confirmed: %s", herald_strerror(fr));
            if (!stop) failed++;
        }
        pthread_mutex_lock(&st.mu);
        failed += st.failed;
        pthread_mutex_unlock(&st.mu);
    } else {
        for (long i = 0; !stop && (count == 0 || i < count); i++) {
            char *json = message ? NULL : make_message();
            const char *payload = message ? message : json;
            size_t len = strlen(payload);
            long long r = sharded ? herald_spublish(c, channel, payload, len)
                                  : herald_publish(c, channel, payload, len);
            if (r >= 0) {
                logf_("info", "Sending message: %s - %s", channel, payload);
            } else {
                logf_("warn", "Publish failed (%s): message dropped: %s", herald_strerror((int)r),
                      payload);
                failed++;
            }
            if (json) cJSON_free(json);
            if (count > 0 && i + 1 == count) break;
            if (wait_for(sfd, -1, (int)(interval * 1000)) == 1) stop = true;
        }
    }
    herald_free(c);
    close(sfd);
    logf_("info", "Stopped%s", stop ? " (signal)" : "");
    if (stop) return 0;
    return failed ? 1 : 0;
}
