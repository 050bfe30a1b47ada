/*
 * worker.c - one herald-bench worker thread: a tight epoll loop over the
 * connections it owns.
 *
 * One iteration:
 *   1. note the phase (thread CPU time is sampled when warmup and the
 *      measured interval end);
 *   2. let every publisher emit what it may: in closed-loop mode up to its
 *      window (messages not yet acknowledged - a PUBLISH reply, or for NATS
 *      the PONG of a later PING - and, end to end, not yet delivered to every
 *      reading subscriber); at a fixed rate every message whose scheduled time
 *      has come, stamped with that scheduled time, so a server (or socket)
 *      that stalls is charged for the whole wait (no coordinated omission);
 *   3. flush publishers' output;
 *   4. epoll_pwait2 until the next scheduled message, a phase boundary or
 *      50 ms (never sleeping for less than 10 us: that is spun);
 *   5. read and parse (subscribers record latency), write.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>

#include "alloc.h"
#include "bench.h"

#define HB_OUT_HIGH_WINDOW (1u << 20)
#define HB_OUT_HIGH_RATE (8u << 20)
#define HB_TICK_NS 50000000LL
#define HB_SPIN_NS 10000LL

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void hb_worker_add(hb_worker *w, hb_conn *c)
{
    c->w = w;
    if (w->nconns == w->capconns) {
        w->capconns = w->capconns ? w->capconns * 2 : 64;
        w->conns = hr_realloc(w->conns, (size_t)w->capconns * sizeof *w->conns);
    }
    w->conns[w->nconns++] = c;
    if (c->role == HB_PUB) {
        if (w->npubs == w->cappubs) {
            w->cappubs = w->cappubs ? w->cappubs * 2 : 8;
            w->pubs = hr_realloc(w->pubs, (size_t)w->cappubs * sizeof *w->pubs);
        }
        w->pubs[w->npubs++] = c;
    }
}

static void set_out(hb_worker *w, hb_conn *c, bool want)
{
    if (c->dead || want == c->wr_armed) return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->wr_armed = want;
}

static void conn_dead(hb_worker *w, hb_conn *c)
{
    if (c->dead) return;
    c->dead = true;
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->role == HB_SUB) {
        w->sub_dead++;
        for (int i = 0; i < c->nchans; i++)
            atomic_fetch_sub_explicit(&g.chans[c->chans[i]].fanout, 1, memory_order_relaxed);
        atomic_store(&g.e2e_off, 1); /* its outstanding deliveries never come */
        hb_conn_error(c, "subscriber connection closed by the server", 42);
    } else if (c->role == HB_PUB) {
        w->pub_dead++;
        c->pub->done = true;
        hb_conn_error(c, "publisher connection closed by the server", 41);
    } else {
        hb_conn_error(c, "idle/pattern connection closed by the server", 44);
    }
}

static void pub_emit(hb_worker *w, hb_conn *c, int64_t ts, int64_t now)
{
    hb_pub *ps = c->pub;
    hb_chan *ch = &g.chans[ps->cursor];
    if (++ps->cursor == (uint32_t)g.o.channels) ps->cursor = 0;
    size_t n = ch->tmpl.len;
    char *dst = hr_buf_reserve(&c->out, n);
    memcpy(dst, ch->tmpl.data, n);
    memcpy(dst + ch->pay_off, &ts, 8);
    if (g.o.payload >= 12) memcpy(dst + ch->pay_off + 8, &ps->id, 4);
    c->out.len += n;
    ps->sent++;
    ps->expected += (uint64_t)atomic_load_explicit(&ch->fanout, memory_order_relaxed);
    w->pub_total++;
    if (now >= g.t_warm && now < g.t_end) w->pub_win++;
    if (g.o.proto == HB_PROTO_NATS && g.o.rate <= 0) {
        uint32_t every = g.o.window / 2 > 0 ? (uint32_t)g.o.window / 2 : 1;
        if (++ps->since_ping >= every && ps->mcount < ps->mcap) {
            hr_buf_append(&c->out, "PING\r\n", 6);
            ps->marks[(ps->mhead + ps->mcount) % ps->mcap] = ps->sent;
            ps->mcount++;
            ps->since_ping = 0;
        }
    }
}

static void pub_fill(hb_worker *w, hb_conn *c, int64_t now, int64_t *next_due)
{
    hb_pub *ps = c->pub;
    if (c->dead || ps->done) return;
    if (now >= g.t_end) {
        ps->done = true;
        return;
    }
    if (g.o.rate > 0) {
        for (;;) {
            int64_t due = (int64_t)(ps->t_first + (double)ps->k * ps->interval);
            if (due >= g.t_end) {
                ps->done = true;
                return;
            }
            if (due > now) {
                if (due < *next_due) *next_due = due;
                return;
            }
            /* the socket does not take more: the schedule runs on, and the
             * messages, when they go, carry the time they were due */
            if (hb_conn_pending(c) >= HB_OUT_HIGH_RATE) return;
            pub_emit(w, c, due, now);
            ps->k++;
        }
    }
    if (hb_conn_pending(c) >= HB_OUT_HIGH_WINDOW) return;
    uint64_t W = (uint64_t)g.o.window;
    uint64_t inflight = ps->sent - ps->acked;
    if (inflight >= W) return;
    uint64_t budget = W - inflight;
    if (!g.o.no_e2e && g.o.payload >= 12 && g.max_fanout > 0 &&
        !atomic_load_explicit(&g.e2e_off, memory_order_relaxed)) {
        uint64_t mf = (uint64_t)g.max_fanout;
        uint64_t del = atomic_load_explicit(&ps->delivered, memory_order_relaxed);
        uint64_t outst = ps->expected > del ? ps->expected - del : 0;
        uint64_t lim = W * mf;
        if (outst >= lim) return;
        uint64_t b2 = (lim - outst) / mf;
        if (b2 == 0) b2 = 1;
        if (b2 < budget) budget = b2;
    }
    while (budget-- > 0)
        pub_emit(w, c, now, now);
}

static int wait_events(hb_worker *w, struct epoll_event *evs, int max, int64_t ns)
{
    static atomic_int no_pwait2;
    if (!no_pwait2) {
        struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
        int n = epoll_pwait2(w->ep, evs, max, &ts, NULL);
        if (n >= 0 || errno != ENOSYS) return n;
        no_pwait2 = 1;
    }
    return epoll_wait(w->ep, evs, max, (int)((ns + 999999) / 1000000));
}

static void mirror(hb_worker *w)
{
    atomic_store_explicit(&w->a_pub_total, w->pub_total, memory_order_relaxed);
    atomic_store_explicit(&w->a_deliv_total, w->deliv_total, memory_order_relaxed);
    if (w->lat_max > atomic_load_explicit(&w->a_lat_max, memory_order_relaxed))
        atomic_store_explicit(&w->a_lat_max, w->lat_max, memory_order_relaxed);
    w->lat_max = 0;
    for (int i = 0; i < w->npubs; i++) {
        hb_pub *ps = w->pubs[i]->pub;
        atomic_store_explicit(&ps->a_sent, ps->sent, memory_order_relaxed);
        atomic_store_explicit(&ps->a_expected, ps->expected, memory_order_relaxed);
    }
}

void *hb_worker_main(void *arg)
{
    hb_worker *w = arg;
    struct epoll_event evs[512];
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    while (!atomic_load_explicit(&g.stop, memory_order_relaxed)) {
        int64_t now = hb_now_ns();
        if (!w->saw_warm && now >= g.t_warm) {
            w->cpu_warm = thread_cpu_ns();
            w->saw_warm = true;
        }
        if (!w->saw_end && now >= g.t_end) {
            w->cpu_end = thread_cpu_ns();
            w->saw_end = true;
        }
        int64_t next_due = INT64_MAX;
        for (int i = 0; i < w->npubs; i++) {
            hb_conn *c = w->pubs[i];
            pub_fill(w, c, now, &next_due);
            if (!c->dead && hb_conn_pending(c)) {
                if (hb_conn_flush(c) < 0) {
                    conn_dead(w, c);
                    continue;
                }
                set_out(w, c, hb_conn_pending(c) > 0);
            }
        }
        mirror(w);

        int64_t wake = now + HB_TICK_NS;
        if (now < g.t_warm && g.t_warm < wake) wake = g.t_warm;
        if (now < g.t_end && g.t_end < wake) wake = g.t_end;
        if (next_due < wake) wake = next_due;
        int64_t dt = wake - hb_now_ns();
        if (dt < HB_SPIN_NS) dt = 0;
        int n = wait_events(w, evs, (int)(sizeof evs / sizeof evs[0]), dt);
        if (n < 0 && errno != EINTR) {
            if (w->errors++ == 0)
                snprintf(w->first_err, sizeof w->first_err, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            hb_conn *c = evs[i].data.ptr;
            if (c->dead) continue;
            uint32_t ev = evs[i].events;
            if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                if (hb_conn_read(c, &w->rb, 4) < 0) {
                    conn_dead(w, c);
                    continue;
                }
            }
            if (hb_conn_pending(c) && hb_conn_flush(c) < 0) {
                conn_dead(w, c);
                continue;
            }
            set_out(w, c, hb_conn_pending(c) > 0);
        }
    }
    mirror(w);
    if (!w->saw_warm) w->cpu_warm = thread_cpu_ns();
    if (!w->saw_end) w->cpu_end = thread_cpu_ns();
    return NULL;
}
