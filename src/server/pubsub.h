/*
 * pubsub.h - the subscription registry and message fan-out.
 *
 * Three namespaces: channels (SUBSCRIBE/PUBLISH), patterns (PSUBSCRIBE, glob
 * matched against PUBLISH channels) and shard channels (SSUBSCRIBE/
 * SPUBLISH). Each name maps to an hr_subscribers list in subscription order;
 * each connection keeps the reverse map (name -> list) in its own dicts so
 * unsubscribing and closing never search the registry.
 *
 * Patterns are indexed by their literal prefix (the bytes before the first
 * glob metacharacter): PUBLISH only tests patterns whose prefix is a prefix
 * of the channel, so its cost does not grow with patterns that cannot match.
 *
 * Fan-out: a message is encoded at most once per frame kind (RESP2 message,
 * RESP3 push, and per matching pattern the pmessage in each protocol),
 * shared by reference across every subscriber's output queue. Small frames
 * are appended to a slab per variant, so consecutive messages to the same
 * subscribers are contiguous and leave as one iovec (outq.h).
 */
#ifndef HR_PUBSUB_H
#define HR_PUBSUB_H

#include "server.h"

/* Subscribers of one name, in subscription order. Removal leaves a NULL
 * tombstone (each connection's dict entry remembers its slot in aux), and
 * the array is compacted once half of it is tombstones, so unsubscribing
 * is O(1) amortised and delivery order is kept. */
typedef struct hr_subscribers {
    hr_conn **conns;
    size_t n, cap; /* slots used (live + tombstones), allocated */
    size_t live;   /* subscribers */
    char *name; /* borrowed from the registry dict entry */
    size_t namelen;
    struct hr_pattern_bucket *bucket; /* patterns only */
} hr_subscribers;

enum { HR_PS_CHANNEL = 0, HR_PS_PATTERN = 1, HR_PS_SHARD = 2 };

hr_pubsub *hr_pubsub_new(void);
void hr_pubsub_free(hr_pubsub *ps);

/* Subscribes c to name in the given namespace; returns 1 when newly
 * subscribed, 0 when it already was. */
int hr_pubsub_subscribe(hr_server *s, hr_conn *c, int kind, const char *name, size_t len);
/* Returns 1 when c was subscribed and is not any more, 0 otherwise. */
int hr_pubsub_unsubscribe(hr_server *s, hr_conn *c, int kind, const char *name, size_t len);
/* Removes every subscription of c (connection close, RESET), silently. */
void hr_pubsub_unsubscribe_all(hr_server *s, hr_conn *c);

/* Delivers a message; returns the number of receivers. kind is
 * HR_PS_CHANNEL (PUBLISH: channel subscribers then matching patterns) or
 * HR_PS_SHARD (SPUBLISH). */
long long hr_pubsub_publish(hr_server *s, int kind, const char *ch, size_t chlen,
                            const char *msg, size_t msglen);

/* Introspection. */
size_t hr_pubsub_count(const hr_server *s, int kind); /* names with subscribers */
size_t hr_pubsub_numsub(const hr_server *s, int kind, const char *name, size_t len);
/* The registry dict of a namespace (name -> hr_subscribers*), for listing. */
hr_dict *hr_pubsub_dict(hr_server *s, int kind);
/* Number of literal-prefix buckets in the pattern index (tests check that
 * the index shrinks when patterns go away). */
size_t hr_pubsub_pattern_buckets(const hr_server *s);

#endif
