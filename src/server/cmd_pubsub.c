/*
 * cmd_pubsub.c - SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBEs,
 * PUBLISH, SPUBLISH and PUBSUB introspection.
 *
 * Confirmation counts follow Redis: (un)subscribe and p(un)subscribe report
 * channels + patterns of the connection; s(un)subscribe report shard
 * channels only. Confirmations are arrays in RESP2 and pushes in RESP3.
 */
#include "server.h"
#include "alloc.h"
#include "cmds.h"
#include "glob.h"
#include "pubsub.h"

#include <stdio.h>
#include <string.h>

static long long sub_count(const hr_conn *c, int kind)
{
    if (kind == HR_PS_SHARD) return (long long)hr_dict_size(&c->shard_channels);
    return (long long)(hr_dict_size(&c->channels) + hr_dict_size(&c->patterns));
}

/* A confirmation is a push: it is sent even under CLIENT REPLY OFF/SKIP. */
static void confirm(hr_conn *c, const char *word, int kind, const char *name, size_t len,
                    bool null_name)
{
    c->flags |= HR_CONN_PUSHING;
    hr_reply_push(c, 3);
    hr_reply_bulk_str(c, word);
    if (null_name) hr_reply_null(c);
    else hr_reply_bulk(c, name, len);
    hr_reply_int(c, sub_count(c, kind));
    c->flags &= ~HR_CONN_PUSHING;
}

static void subscribe_generic(hr_conn *c, int argc, hr_arg *argv, int kind, const char *word)
{
    for (int i = 1; i < argc; i++) {
        hr_pubsub_subscribe(c->srv, c, kind, argv[i].ptr, argv[i].len);
        confirm(c, word, kind, argv[i].ptr, argv[i].len, false);
    }
}

static void unsubscribe_generic(hr_conn *c, int argc, hr_arg *argv, int kind, const char *word)
{
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            hr_pubsub_unsubscribe(c->srv, c, kind, argv[i].ptr, argv[i].len);
            confirm(c, word, kind, argv[i].ptr, argv[i].len, false);
        }
        return;
    }
    hr_dict *d = kind == HR_PS_CHANNEL   ? &c->channels
                 : kind == HR_PS_PATTERN ? &c->patterns
                                         : &c->shard_channels;
    if (hr_dict_size(d) == 0) {
        confirm(c, word, kind, NULL, 0, true);
        return;
    }
    /* Unsubscribe from everything: collect names first (the dict changes). */
    size_t n = hr_dict_size(d), i = 0;
    char **names = hr_malloc(n * sizeof(char *));
    size_t *lens = hr_malloc(n * sizeof(size_t));
    hr_dict_iter it;
    hr_dict_iter_init(&it, d);
    for (hr_dict_entry *e; (e = hr_dict_next(&it));) {
        names[i] = hr_strndup(e->key, e->klen);
        lens[i++] = e->klen;
    }
    hr_dict_iter_done(&it);
    for (i = 0; i < n; i++) {
        hr_pubsub_unsubscribe(c->srv, c, kind, names[i], lens[i]);
        confirm(c, word, kind, names[i], lens[i], false);
        hr_free(names[i]);
    }
    hr_free(names);
    hr_free(lens);
}

HR_CMD(subscribe)
{
    subscribe_generic(c, argc, argv, HR_PS_CHANNEL, "subscribe");
}

HR_CMD(psubscribe)
{
    subscribe_generic(c, argc, argv, HR_PS_PATTERN, "psubscribe");
}

HR_CMD(ssubscribe)
{
    subscribe_generic(c, argc, argv, HR_PS_SHARD, "ssubscribe");
}

HR_CMD(unsubscribe)
{
    unsubscribe_generic(c, argc, argv, HR_PS_CHANNEL, "unsubscribe");
}

HR_CMD(punsubscribe)
{
    unsubscribe_generic(c, argc, argv, HR_PS_PATTERN, "punsubscribe");
}

HR_CMD(sunsubscribe)
{
    unsubscribe_generic(c, argc, argv, HR_PS_SHARD, "sunsubscribe");
}

HR_CMD(publish)
{
    hr_reply_int(c, hr_pubsub_publish(c->srv, HR_PS_CHANNEL, argv[1].ptr, argv[1].len,
                                      argv[2].ptr, argv[2].len));
}

HR_CMD(spublish)
{
    hr_reply_int(c, hr_pubsub_publish(c->srv, HR_PS_SHARD, argv[1].ptr, argv[1].len, argv[2].ptr,
                                      argv[2].len));
}

static void list_names(hr_conn *c, int argc, hr_arg *argv, int kind)
{
    if (argc > 3) {
        hr_reply_subcommand_error(c, "PUBSUB", &argv[1]);
        return;
    }
    const hr_arg *pat = argc == 3 ? &argv[2] : NULL;
    hr_dict *d = hr_pubsub_dict(c->srv, kind);
    size_t tok = hr_reply_defer(c);
    long long n = 0;
    hr_dict_iter it;
    hr_dict_iter_init(&it, d);
    for (hr_dict_entry *e; (e = hr_dict_next(&it));) {
        if (pat && !hr_glob_match(pat->ptr, pat->len, e->key, e->klen, false)) continue;
        hr_reply_bulk(c, e->key, e->klen);
        n++;
    }
    hr_dict_iter_done(&it);
    hr_reply_deferred_len(c, tok, '*', n);
}

static void numsub(hr_conn *c, int argc, hr_arg *argv, int kind)
{
    hr_reply_array(c, (long long)(argc - 2) * 2);
    for (int i = 2; i < argc; i++) {
        hr_reply_bulk(c, argv[i].ptr, argv[i].len);
        hr_reply_int(c, (long long)hr_pubsub_numsub(c->srv, kind, argv[i].ptr, argv[i].len));
    }
}

HR_CMD(pubsub_channels)
{
    list_names(c, argc, argv, HR_PS_CHANNEL);
}

HR_CMD(pubsub_shardchannels)
{
    list_names(c, argc, argv, HR_PS_SHARD);
}

HR_CMD(pubsub_numsub)
{
    numsub(c, argc, argv, HR_PS_CHANNEL);
}

HR_CMD(pubsub_shardnumsub)
{
    numsub(c, argc, argv, HR_PS_SHARD);
}

HR_CMD(pubsub_numpat)
{
    hr_reply_int(c, (long long)hr_pubsub_count(c->srv, HR_PS_PATTERN));
}

HR_CMD(pubsub_help)
{
    static const char *help[] = {
        "CHANNELS [<pattern>]",
        "    List the channels that have subscribers, optionally only those matching the",
        "    glob-style <pattern>.",
        "NUMPAT",
        "    Count the distinct patterns subscribed to.",
        "NUMSUB [<channel> ...]",
        "    For each <channel>, count its subscribers (pattern subscriptions excluded).",
        "SHARDCHANNELS [<pattern>]",
        "    Like CHANNELS, for shard channels.",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Like NUMSUB, for shard channels.",
        NULL};
    hr_reply_help(c, "PUBSUB", help);
}
