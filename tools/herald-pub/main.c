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
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <uuid.h>

#include "herald/client.h"
#include "tool_common.h"

#define MAX_LINE (16 * 1024 * 1024)

static const char *prog = "herald-pub";

static void on_event(herald_client_t *c, const herald_event_t *ev, void *ud)
{
    (void)c;
    (void)ud;
    if (ev->role & HERALD_ROLE_COMMAND) hr_tool_log_event(ev);
}

/* {"id":"<uuid v4>","timestamp":"<ISO-8601>"}; caller frees (cJSON_free). */
static char *make_message(void)
{
    uuid_t u;
    char id[37], ts[40];
    uuid_generate_random(u);
    uuid_unparse_lower(u, id);
    hr_tool_iso_now(ts, sizeof(ts));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "timestamp", ts);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
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
        hr_tool_log("warn", "Publish failed: %s", herald_strerror((int)result));
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
    hr_tool_init(prog, stdout);
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
            if (!hr_tool_parse_positive("--count", optarg, &count)) return 2;
            break;
        case 'm': message = optarg; break;
        case 's': from_stdin = true; break;
        case 'S': sharded = true; break;
        case 'r':
            if (!hr_tool_parse_resp(optarg, &resp)) return 2;
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
    int sfd = hr_tool_signalfd(0);

    herald_options_t o;
    hr_tool_options(&o, resp, name, on_event);
    herald_client_t *c = hr_tool_connect(url, &o);
    if (!c) return 2;
    hr_tool_log("info", "Publishing to %s%s on %s", sharded ? "shard channel " : "", channel, url);
    /* Give the first connection a moment, interruptibly. */
    bool stop = false;
    for (int i = 0; i < 500 && !herald_is_connected(c) && !stop; i++)
        stop = hr_tool_wait(sfd, -1, 10, NULL) == HR_TOOL_SIGNAL;

    long failed = 0;
    if (from_stdin && !stop) {
        stdin_state st = {PTHREAD_MUTEX_INITIALIZER, 0};
        char *buf = malloc(65536);
        size_t cap = 65536, len = 0;
        bool eof = false;
        long sent = 0;
        while (!stop && !eof && (count == 0 || sent < count)) {
            int w = hr_tool_wait(sfd, 0, -1, NULL);
            if (w == HR_TOOL_SIGNAL) {
                stop = true;
                break;
            }
            if (w != HR_TOOL_INPUT) continue;
            if (cap - len < 65536) {
                if (cap >= MAX_LINE * 2) {
                    hr_tool_log("error", "Input line longer than %d bytes: dropped", MAX_LINE);
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
                    if (r == HERALD_EFULL) stop = hr_tool_wait(sfd, -1, 1, NULL) == HR_TOOL_SIGNAL;
                } while (r == HERALD_EFULL && !stop);
                sent++;
                if (r == HERALD_OK) {
                    hr_tool_log("info", "Sending message: %s - %.*s", channel, (int)l, line);
                } else {
                    hr_tool_log("warn", "Publish failed (%s): message dropped: %.*s",
                                herald_strerror(r), (int)l, line);
                    failed++;
                }
                if (interval_set && interval > 0 &&
                    hr_tool_wait(sfd, -1, (int)(interval * 1000), NULL) == HR_TOOL_SIGNAL)
                    stop = true;
            }
            memmove(buf, buf + start, len - start);
            len -= start;
        }
        free(buf);
        int fr = herald_flush(c, 10000);
        if (fr != HERALD_OK && fr != HERALD_ECLOSED) {
            hr_tool_log("warn", "Not every message was confirmed: %s", herald_strerror(fr));
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
                hr_tool_log("info", "Sending message: %s - %s", channel, payload);
            } else {
                hr_tool_log("warn", "Publish failed (%s): message dropped: %s",
                            herald_strerror((int)r), payload);
                failed++;
            }
            if (json) cJSON_free(json);
            if (count > 0 && i + 1 == count) break;
            if (hr_tool_wait(sfd, -1, (int)(interval * 1000), NULL) == HR_TOOL_SIGNAL) stop = true;
        }
    }
    herald_free(c);
    close(sfd);
    hr_tool_log("info", "Stopped%s", stop ? " (signal)" : "");
    if (stop) return 0;
    return failed ? 1 : 0;
}
