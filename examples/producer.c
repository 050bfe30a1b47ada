/*
 * producer.c - the seed's Producer over libherald: every 5 seconds, publish
 * {"id":"<uuid>","timestamp":"<ISO-8601 UTC>"} on channel "messages".
 *
 *   example-producer [redis://host:port]        (Ctrl-C stops it)
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uuid.h>

#include <herald/client.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "redis://127.0.0.1:6379";
    herald_client_t *c;
    int rc = herald_connect(url, NULL, &c); /* like ConnectionMultiplexer.Connect */
    if (rc != HERALD_OK) {
        fprintf(stderr, "connect %s: %s\n", url, herald_strerror(rc));
        return 1;
    }
    signal(SIGINT, on_signal); /* library threads block signals: they come here */
    signal(SIGTERM, on_signal);
    while (!stop) {
        uuid_t id;
        char uuid[37], ts[32], json[128];
        uuid_generate_random(id);
        uuid_unparse_lower(id, uuid);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", gmtime(&now.tv_sec));
        snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);
        snprintf(json, sizeof(json), "{\"id\":\"%s\",\"timestamp\":\"%s\"}", uuid, ts);

        long long receivers = herald_publish(c, "messages", json, strlen(json));
        if (receivers >= 0)
            printf("Sending message: messages - %s\n", json);
        else
            fprintf(stderr, "publish failed: %s\n", herald_strerror((int)receivers));
        fflush(stdout);
        sleep(5); /* a signal cuts it short */
    }
    herald_free(c);
    return 0;
}
