/*
 * deliver.c - the delivery queue and the delivery thread.
 *
 * The I/O side (holding c->mu) appends items: pub/sub messages, other
 * pushes, connection events, completions of asynchronous calls. The delivery
 * thread pops them in order and runs the user's callback for each, with mu
 * released. Only messages and pushes count against queue_max; events and
 * completions are never dropped (completions are bounded by max_inflight).
 *
 * Overflow (queue_max messages waiting):
 *  - DROP_OLDEST: the oldest waiting message is freed and counted.
 *  - BACKPRESSURE: c->bp_paused stops the subscriber connections from being
 *    read (conn.c); the delivery thread clears it once the queue is down to
 *    half, and the I/O side resumes (c->bp_resume).
 *
 * A message's subscription is looked up when it is delivered, not when it
 * arrives, so nothing is delivered for a subscription removed meanwhile;
 * c->cb_sub names the subscription whose callback runs so that
 * herald_unsubscribe() can wait for it.
 */
#include "client_int.h"

#include <signal.h>
#include <string.h>

#include "alloc.h"

void hc_item_free(hc_item *it)
{
    if (!it) return;
    hr_reply_free(it->reply);
    hr_free(it->detail);
    hr_free(it);
}

static bool is_msg(const hc_item *it)
{
    return it->type == HC_ITEM_MSG || it->type == HC_ITEM_PUSH;
}

static void pause_subs(herald_client_t *c)
{
    c->bp_paused = true;
    c->stats.backpressure_pauses++;
    /* conn.c checks bp_paused before every reply and read, and drops
     * EPOLLIN at the end of the read in progress. */
}

/* Removes the oldest message of the queue; returns false when there is none. */
static bool drop_oldest(herald_client_t *c)
{
    hc_item *prev = NULL;
    for (hc_item *it = c->dq_head; it; prev = it, it = it->next) {
        if (!is_msg(it)) continue;
        if (prev)
            prev->next = it->next;
        else
            c->dq_head = it->next;
        if (c->dq_tail == it) c->dq_tail = prev;
        c->dq_msgs--;
        c->dq_done++;
        hc_item_free(it);
        return true;
    }
    return false;
}

void hc_deliver_push(herald_client_t *c, hc_item *it)
{
    size_t max = c->opts.queue_max ? c->opts.queue_max : 1;
    if (is_msg(it)) {
        if (c->dq_discard) {
            hc_item_free(it);
            return;
        }
        if (c->opts.overflow == HERALD_OVERFLOW_DROP_OLDEST) {
            while (c->dq_msgs >= max && drop_oldest(c))
                c->stats.messages_dropped++;
        }
        c->dq_msgs++;
        if (c->dq_msgs > c->stats.queue_peak) c->stats.queue_peak = c->dq_msgs;
        if (c->opts.overflow == HERALD_OVERFLOW_BACKPRESSURE && c->dq_msgs >= max && !c->bp_paused)
            pause_subs(c);
    }
    it->next = NULL;
    if (c->dq_tail)
        c->dq_tail->next = it;
    else
        c->dq_head = it;
    c->dq_tail = it;
    c->dq_in++;
    pthread_cond_signal(&c->dq_cond);
}

void hc_deliver_event(herald_client_t *c, herald_event_type_t type, herald_conn_role_t role,
                      int err, const char *detail, size_t count)
{
    if (!c->opts.on_event) return;
    hc_item *it = hr_calloc(1, sizeof(*it));
    it->type = HC_ITEM_EVENT;
    it->detail = hr_strdup(detail ? detail : "");
    it->ev.type = type;
    it->ev.role = role;
    it->ev.err = err;
    it->ev.count = count;
    it->ev.address = c->nodes[0]->ep.display;
    it->ev.reconnects = c->stats.reconnects;
    hc_deliver_push(c, it);
}

void hc_deliver_reply(herald_client_t *c, hc_req *req, int status, hr_reply *reply)
{
    if (!req->pcb && !req->rcb) {
        hr_reply_free(reply);
        return;
    }
    hc_item *it = hr_calloc(1, sizeof(*it));
    it->type = HC_ITEM_REPLY;
    it->status = status;
    it->reply = reply;
    it->is_publish = req->is_publish;
    it->pcb = req->pcb;
    it->rcb = req->rcb;
    it->ud = req->ud;
    hc_deliver_push(c, it);
}

/* Runs the callback for one item; called with mu held, returns with it held. */
static void deliver(herald_client_t *c, hc_item *it)
{
    switch (it->type) {
    case HC_ITEM_MSG: {
        const herald_message_t *m = &it->msg;
        const char *key = m->kind == HERALD_SUB_PATTERN ? m->pattern : m->channel;
        size_t klen = m->kind == HERALD_SUB_PATTERN ? m->pattern_len : m->channel_len;
        hc_sub *s = hr_dict_get(&c->subs[m->kind], key, klen);
        if (!s || !s->cb) break;
        herald_message_cb cb = s->cb;
        void *ud = s->ud;
        s->refs++;
        c->cb_sub = s;
        pthread_mutex_unlock(&c->mu);
        cb(c, m, ud);
        pthread_mutex_lock(&c->mu);
        c->cb_sub = NULL;
        c->stats.messages_delivered++;
        hc_sub_unref(s);
        pthread_cond_broadcast(&c->cond);
        break;
    }
    case HC_ITEM_PUSH: {
        herald_push_cb cb = c->opts.on_push;
        if (!cb) break;
        herald_reply_t *r = hc_reply_convert(it->reply);
        it->reply = NULL;
        pthread_mutex_unlock(&c->mu);
        cb(c, r, c->opts.push_userdata);
        herald_reply_free(r);
        pthread_mutex_lock(&c->mu);
        break;
    }
    case HC_ITEM_EVENT: {
        herald_event_cb cb = c->opts.on_event;
        if (!cb) break;
        it->ev.detail = it->detail;
        pthread_mutex_unlock(&c->mu);
        cb(c, &it->ev, c->opts.event_userdata);
        pthread_mutex_lock(&c->mu);
        break;
    }
    case HC_ITEM_REPLY:
        if (it->is_publish) {
            long long result = it->status;
            if (it->status == HERALD_OK)
                result = it->reply && it->reply->type == HR_RESP_INTEGER ? it->reply->integer
                                                                         : HERALD_EPROTO;
            if (!it->pcb) break;
            pthread_mutex_unlock(&c->mu);
            it->pcb(c, result, it->ud);
            pthread_mutex_lock(&c->mu);
        } else {
            if (!it->rcb) break;
            herald_reply_t *r = hc_reply_convert(it->reply);
            it->reply = NULL;
            pthread_mutex_unlock(&c->mu);
            it->rcb(c, it->status, r, it->ud);
            herald_reply_free(r);
            pthread_mutex_lock(&c->mu);
        }
        break;
    default: break;
    }
}

void *hc_deliver_main(void *arg)
{
    herald_client_t *c = arg;
    size_t max = c->opts.queue_max ? c->opts.queue_max : 1;
    size_t low = max / 2;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->dq_head && !c->dq_stop)
            pthread_cond_wait(&c->dq_cond, &c->mu);
        hc_item *it = c->dq_head;
        if (!it) break; /* stopping and drained */
        c->dq_head = it->next;
        if (!c->dq_head) c->dq_tail = NULL;
        bool skip = false;
        if (is_msg(it)) {
            c->dq_msgs--;
            if (c->bp_paused && c->dq_msgs <= low) {
                c->bp_paused = false;
                c->bp_resume = true;
                hc_wake_io(c);
            }
            skip = c->dq_discard;
        }
        if (!skip) deliver(c, it);
        hc_item_free(it);
        c->dq_done++;
        pthread_cond_broadcast(&c->cond);
    }
    bool self_free = c->self_free;
    pthread_mutex_unlock(&c->mu);
    if (self_free) hc_client_destroy(c);
    return NULL;
}
