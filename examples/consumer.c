/*
 * consumer.c - the seed's Consumer over libherald: subscribe to "messages"
 * and log every message. The callback runs on libherald's delivery thread.
 *
 *   example-consumer [redis://host:port]        (Ctrl-C stops it)
 */
#include <signal.h>
#include <stdio.h>

#include <herald/client.h>

static void on_message(herald_client_t *c, const herald_message_t *m, void *userdata)
{
    (void)c;
    (void)userdata;
    printf("Received message: %.*s - %.*s\n", (int)m->channel_len, m->channel, (int)m->payload_len,
           m->payload);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "redis://127.0.0.1:6379";
    sigset_t sigs; /* blocked here, then awaited with sigwait() */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, NULL);

    herald_client_t *c;
    int rc = herald_connect(url, NULL, &c);
    if (rc != HERALD_OK) {
        fprintf(stderr, "connect %s: %s\n", url, herald_strerror(rc));
        return 1;
    }
    herald_subscribe(c, "messages", on_message, NULL); /* kept across reconnects */

    int sig;
    sigwait(&sigs, &sig);
    herald_free(c);
    return 0;
}
