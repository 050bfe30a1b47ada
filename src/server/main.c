/*
 * main.c - the herald-server program: command line, config file, signals.
 *
 *   herald-server [file.conf] [--<directive> value ...]
 *
 * Directives are Redis's config-file directives (see config.c); command-line
 * ones are applied after the file, so they win.
 */
#include "server.h"
#include "log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static hr_server *the_server;

static void on_signal(int sig)
{
    if (the_server) hr_server_shutdown(the_server);
}

static void usage(FILE *fp)
{
    fprintf(fp, "Usage: herald-server [/path/to/herald.conf] [options]\n"
                "       herald-server --version\n"
                "       herald-server --help\n"
                "\n"
                "Options are config-file directives written as --<directive> <value ...>:\n"
                "  --port 6379 --bind \"127.0.0.1 -::1\" --unixsocket /tmp/herald.sock\n"
                "  --maxclients 10000 --timeout 0 --tcp-keepalive 300\n"
                "  --client-output-buffer-limit \"pubsub 32mb 8mb 60\"\n"
                "  --loglevel notice --logfile \"\"\n"
                "\n"
                "Examples:\n"
                "  herald-server                       (listen on 127.0.0.1:6379 and [::1]:6379)\n"
                "  herald-server --port 7777\n"
                "  herald-server /etc/herald.conf --loglevel verbose\n");
}

/* Applies "--name v1 v2 ..." groups; values run until the next "--". */
static int apply_cmdline(hr_config *cfg, int argc, char **argv, int start)
{
    for (int i = start; i < argc;) {
        if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
            fprintf(stderr, "herald-server: unexpected argument '%s' (see --help)\n", argv[i]);
            return -1;
        }
        hr_arg args[64];
        int n = 0;
        args[n].ptr = argv[i] + 2;
        args[n++].len = strlen(argv[i] + 2);
        int j = i + 1;
        for (; j < argc && strncmp(argv[j], "--", 2) != 0 && n < 64; j++) {
            args[n].ptr = argv[j];
            args[n++].len = strlen(argv[j]);
        }
        /* "--bind '127.0.0.1 ::1'" and "--client-output-buffer-limit
         * 'pubsub 32mb 8mb 60'" pass several words in one argument. */
        hr_buf split = HR_BUF_INIT;
        if (n == 2 && strchr(args[1].ptr, ' ')) {
            hr_arg words[64];
            int w = hr_resp_split_line(args[1].ptr, args[1].len, &split, words, 63);
            if (w > 0) {
                memcpy(args + 1, words, sizeof(hr_arg) * (size_t)w);
                n = 1 + w;
            }
        }
        char err[256];
        int rc = hr_config_apply(cfg, n, args, err, sizeof(err));
        hr_buf_release(&split);
        if (rc < 0) {
            fprintf(stderr, "herald-server: option '%s': %s\n", argv[i], err);
            return -1;
        }
        i = j;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v"))) {
        printf("herald-server v=%s (Redis protocol compatible with 7.2)\n", HERALD_VERSION);
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    hr_config cfg;
    hr_config_defaults(&cfg);
    int start = 1;
    if (argc >= 2 && strncmp(argv[1], "--", 2) != 0) {
        char err[1024];
        if (hr_config_load_file(&cfg, argv[1], err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            hr_config_release(&cfg);
            return 1;
        }
        char *abs = realpath(argv[1], NULL);
        cfg.config_file = abs ? abs : strdup(argv[1]);
        start = 2;
    }
    if (apply_cmdline(&cfg, argc, argv, start) < 0) {
        hr_config_release(&cfg);
        return 1;
    }
    hr_log_set_level(cfg.loglevel);
    if (cfg.logfile && *cfg.logfile && hr_log_open(cfg.logfile) < 0) {
        fprintf(stderr, "Can't open the log file: %s\n", cfg.logfile);
        hr_config_release(&cfg);
        return 1;
    }

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    hr_log_notice("herald-server %s starting, pid=%d", HERALD_VERSION, (int)getpid());
    char err[512];
    hr_server *s = hr_server_new(&cfg, err, sizeof(err));
    if (!s) {
        hr_log_warning("%s", err);
        hr_config_release(&cfg);
        return 1;
    }
    the_server = s;
    if (s->cfg.pidfile && *s->cfg.pidfile) {
        FILE *fp = fopen(s->cfg.pidfile, "w");
        if (fp) {
            fprintf(fp, "%d\n", (int)getpid());
            fclose(fp);
        }
    }
    if (s->nlisten) hr_log_notice("Ready to accept connections tcp on port %d", s->actual_port);
    if (s->unix_fd >= 0) hr_log_notice("Ready to accept connections unix on %s", s->cfg.unixsocket);
    hr_server_run(s);
    hr_log_notice("Received shutdown request, closing listeners and exiting.");
    if (s->cfg.pidfile && *s->cfg.pidfile) unlink(s->cfg.pidfile);
    the_server = NULL;
    hr_server_free(s);
    hr_log_notice("herald-server is now ready to exit, bye bye...");
    return 0;
}
