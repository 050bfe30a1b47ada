/*
 * herald-sub - the seed's Consumer, over libherald: subscribes and logs
 * "Received message: <channel> - <payload>" for every message.
 *
 *   herald-sub [--url URL] [--channel NAME]... [--pattern GLOB]...
 *              [--sharded NAME]... [--json] [--count N] [--resp 2|3]
 *              [--name NAME] [--queue-max N] [--backpressure]
 *
 * Without any --channel/--pattern/--sharded it subscribes to "messages".
 * Payloads are parsed as JSON (with cJSON); a malformed payload is logged as
 * such (escaped) and never stops the program. With --json, every message is
 * also printed on stdout as one JSON object
 *   {"channel":"...","pattern":"..."|null,"payload":"..."}
 * (strings made valid UTF-8: invalid bytes and NULs become U+FFFD) and the
 * log goes to stderr; otherwise the log goes to stdout. Log lines:
 *   <ISO-8601 UTC time> <level> herald-sub: <text>
 * Connection loss, recovery and resubscription are logged. --count N exits
 * after N messages. The default client name is "herald-sub-" and 8 hex
 * digits of a random UUID, so consumers are told apart in CLIENT LIST. Exit status 0 after
 * SIGINT/SIGTERM or --count; 2 on bad usage.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <uuid.h>

#include "herald/client.h"
#include "tool_common.h"

static const char *prog = "herald-sub";
static bool json_out;
static long max_count;
static long received;
static pthread_mutex_t count_mu = PTHREAD_MUTEX_INITIALIZER;

/* s[0..n) with control bytes, backslashes and non-ASCII bytes escaped as
 * \xHH; caller frees. */
static char *escape(const char *s, size_t n)
{
    char *o = malloc(n * 4 + 1), *p = o;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch >= 0x7f || ch == '\\')
            p += sprintf(p, "\\x%02x", ch);
        else
            *p++ = (char)ch;
    }
    *p = 0;
    return o;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned cp;
    if (c >= 0x01 && c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* A NUL-terminated, valid UTF-8 copy of s[0..n) (bad bytes and NUL become
 * U+FFFD); caller frees. */
static char *utf8_clean(const char *s, size_t n)
{
    char *o = malloc(n * 3 + 1), *p = o;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (l == 0) {
            memcpy(p, "\xef\xbf\xbd", 3);
            p += 3;
            i++;
        } else {
            memcpy(p, s + i, l);
            p += l;
            i += l;
        }
    }
    *p = 0;
    return o;
}

/* Parses payload strictly (one JSON value, only whitespace around it). */
static cJSON *parse_json(const char *s, size_t n)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!v) return NULL;
    for (const char *p = end; p && p < s + n; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            cJSON_Delete(v);
            return NULL;
        }
    }
    return v;
}

static bool single_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20) return false;
    return true;
}

static void on_message(herald_client_t *c, const herald_message_t *m, void *ud)
{
    (void)c;
    (void)ud;
    char *ch = escape(m->channel, m->channel_len);
    cJSON *v = parse_json(m->payload, m->payload_len);
    if (v) {
        /* the payload as sent, unless it spans lines: then compacted */
        if (single_line(m->payload, m->payload_len) && !memchr(m->payload, 0, m->payload_len)) {
            hr_tool_log("info", "Received message: %s - %.*s", ch, (int)m->payload_len, m->payload);
        } else {
            char *t = cJSON_PrintUnformatted(v);
            hr_tool_log("info", "Received message: %s - %s", ch, t ? t : "?");
            cJSON_free(t);
        }
        cJSON_Delete(v);
    } else {
        char *p = escape(m->payload, m->payload_len);
        hr_tool_log("warn", "Received malformed message (not JSON): %s - %s", ch, p);
        free(p);
    }
    free(ch);
    if (json_out) {
        cJSON *o = cJSON_CreateObject();
        char *s = utf8_clean(m->channel, m->channel_len);
        cJSON_AddStringToObject(o, "channel", s);
        free(s);
        if (m->pattern) {
            s = utf8_clean(m->pattern, m->pattern_len);
            cJSON_AddStringToObject(o, "pattern", s);
            free(s);
        } else {
            cJSON_AddNullToObject(o, "pattern");
        }
        s = utf8_clean(m->payload, m->payload_len);
        cJSON_AddStringToObject(o, "payload", s);
        free(s);
        char *line = cJSON_PrintUnformatted(o);
        flockfile(stdout);
        fputs(line, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        funlockfile(stdout);
        cJSON_free(line);
        cJSON_Delete(o);
    }
    pthread_mutex_lock(&count_mu);
    bool done = ++received == max_count;
    pthread_mutex_unlock(&count_mu);
    if (done) kill(getpid(), SIGUSR1); /* read by main's signalfd */
}

static void on_event(herald_client_t *c, const herald_event_t *ev, void *ud)
{
    (void)c;
    (void)ud;
    if (!(ev->role & HERALD_ROLE_SUBSCRIBER)) return;
    if (ev->type == HERALD_EVENT_RESUBSCRIBED) {
        static bool first = true; /* events all run on the delivery thread */
        hr_tool_log("info", "%s to %zu subscription(s)", first ? "Subscribed" : "Resubscribed",
                    ev->count);
        first = false;
        return;
    }
    hr_tool_log_event(ev);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: herald-sub [options]\n"
               "  --url URL          server (default redis://127.0.0.1:6379)\n"
               "  --channel NAME     subscribe to a channel (repeatable; default messages)\n"
               "  --pattern GLOB     subscribe to a pattern (repeatable)\n"
               "  --sharded NAME     subscribe to a shard channel (repeatable)\n"
               "  --json             one JSON object per message on stdout; log on stderr\n"
               "  --count N          exit after N messages\n"
               "  --resp 2|3         protocol (default 2)\n"
               "  --name NAME        client name (default herald-sub-<random>)\n"
               "  --queue-max N      messages waiting for the handler (default 10000)\n"
               "  --backpressure     when that queue is full, stop reading instead of\n"
               "                     dropping the oldest message\n");
}

typedef struct sublist {
    const char *v[64];
    int n;
} sublist;

static bool add(sublist *l, const char *s)
{
    if (l->n == 64) {
        fprintf(stderr, "%s: too many subscriptions (64 per kind)\n", prog);
        return false;
    }
    l->v[l->n++] = s;
    return true;
}

int main(int argc, char **argv)
{
    const char *url = "redis://127.0.0.1:6379", *name = NULL;
    sublist channels = {{0}, 0}, patterns = {{0}, 0}, shards = {{0}, 0};
    int resp = 2;
    long qmax = 10000;
    bool backpressure = false;
    hr_tool_init(prog, stdout);
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"channel", required_argument, NULL, 'c'},
                                         {"pattern", required_argument, NULL, 'p'},
                                         {"sharded", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"resp", required_argument, NULL, 'r'},
                                         {"name", required_argument, NULL, 'N'},
                                         {"queue-max", required_argument, NULL, 'q'},
                                         {"backpressure", no_argument, NULL, 'b'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    for (int ch; (ch = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (ch) {
        case 'u': url = optarg; break;
        case 'c':
            if (!add(&channels, optarg)) return 2;
            break;
        case 'p':
            if (!add(&patterns, optarg)) return 2;
            break;
        case 's':
            if (!add(&shards, optarg)) return 2;
            break;
        case 'j': json_out = true; break;
        case 'n':
            if (!hr_tool_parse_positive("number", optarg, &max_count)) return 2;
            break;
        case 'q':
            if (!hr_tool_parse_positive("number", optarg, &qmax)) return 2;
            break;
        case 'r':
            if (!hr_tool_parse_resp(optarg, &resp)) return 2;
            break;
        case 'N': name = optarg; break;
        case 'b': backpressure = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (channels.n + patterns.n + shards.n == 0) add(&channels, "messages");
    if (json_out) hr_tool_set_log(stderr);
    /* A distinct default name per consumer, as seen in CLIENT LIST. */
    char defname[32];
    if (!name) {
        uuid_t u;
        char id[37];
        uuid_generate_random(u);
        uuid_unparse_lower(u, id);
        snprintf(defname, sizeof(defname), "herald-sub-%.8s", id);
        name = defname;
    }

    /* SIGUSR1: --count reached (see on_message) */
    int sfd = hr_tool_signalfd(SIGUSR1);

    herald_options_t o;
    hr_tool_options(&o, resp, name, on_event);
    o.queue_max = (size_t)qmax;
    o.overflow = backpressure ? HERALD_OVERFLOW_BACKPRESSURE : HERALD_OVERFLOW_DROP_OLDEST;
    herald_client_t *c = hr_tool_connect(url, &o);
    if (!c) return 2;
    for (int i = 0; i < channels.n; i++)
        herald_subscribe(c, channels.v[i], on_message, NULL);
    for (int i = 0; i < patterns.n; i++)
        herald_psubscribe(c, patterns.v[i], on_message, NULL);
    for (int i = 0; i < shards.n; i++)
        herald_ssubscribe(c, shards.v[i], on_message, NULL);
    hr_tool_log("info", "Subscribing on %s to %d channel(s), %d pattern(s), %d shard channel(s)",
                url, channels.n, patterns.n, shards.n);

    int sig = 0;
    while (hr_tool_wait(sfd, -1, -1, &sig) != HR_TOOL_SIGNAL)
        ;
    herald_stats_t st;
    herald_get_stats(c, &st);
    herald_free(c); /* no callback runs after this */
    close(sfd);
    pthread_mutex_lock(&count_mu);
    long handled = received;
    pthread_mutex_unlock(&count_mu);
    hr_tool_log("info", "Stopped (%s): %ld message(s) handled, %llu dropped",
                sig == SIGUSR1 ? "count reached" : "signal", handled, st.messages_dropped);
    return 0;
}
