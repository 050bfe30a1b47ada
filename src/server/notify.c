/*
 * notify.c - keyspace notifications (notify-keyspace-events): each event is
 * published like a PUBLISH on __keyspace@<db>__:<key> (message: the event
 * name) and/or __keyevent@<db>__:<event> (message: the key), so pattern and
 * RESP3 subscribers receive them with no special casing.
 */
#include "db.h"
#include "alloc.h"
#include "pubsub.h"
#include "util.h"

#include <string.h>

static void publish_on(hr_server *s, const char *kind, int dbid, const char *suffix, size_t slen,
                       const char *msg, size_t mlen)
{
    char small[256];
    size_t klen = strlen(kind);
    char dbbuf[24];
    size_t dblen = hr_ll2str(dbbuf, dbid);
    /* "__" kind "@" db "__:" suffix */
    size_t n = 2 + klen + 1 + dblen + 3 + slen;
    char *ch = n <= sizeof(small) ? small : hr_malloc(n);
    char *p = ch;
    memcpy(p, "__", 2), p += 2;
    memcpy(p, kind, klen), p += klen;
    *p++ = '@';
    memcpy(p, dbbuf, dblen), p += dblen;
    memcpy(p, "__:", 3), p += 3;
    if (slen) memcpy(p, suffix, slen);
    hr_pubsub_publish(s, HR_PS_CHANNEL, ch, n, msg, mlen);
    if (ch != small) hr_free(ch);
}

void hr_notify_keyspace_event(hr_server *s, int type, const char *event, const char *key,
                              size_t klen, int dbid)
{
    int flags = s->cfg.notify_flags;
    if (!(flags & type)) return;
    size_t elen = strlen(event);
    if (flags & HR_NOTIFY_KEYSPACE) publish_on(s, "keyspace", dbid, key, klen, event, elen);
    if (flags & HR_NOTIFY_KEYEVENT) publish_on(s, "keyevent", dbid, event, elen, key, klen);
}
