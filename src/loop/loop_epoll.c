/*
 * loop_epoll.c - hr_loop on Linux epoll; see loop.h.
 *
 * Timers live in an unsorted array: the server has a handful (its cron and
 * a few per-feature ones), so a linear scan per iteration is cheaper than a
 * heap. fd state is a flat array indexed by fd.
 */
#include "loop.h"
#include "alloc.h"
#include "hrtime.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct fd_state {
    int mask;
    hr_loop_fd_fn *rfn, *wfn;
    void *rdata, *wdata;
} fd_state;

typedef struct timer {
    long long id;
    uint64_t when_us;
    hr_loop_timer_fn *fn;
    void *data;
} timer;

struct hr_loop {
    int epfd;
    int wakefd;
    int max_fds;
    int nfds; /* size of fds[] */
    fd_state *fds;
    struct epoll_event *events;
    int nevents;
    timer *timers;
    int ntimers, timers_cap;
    long long next_timer_id;
    hr_loop_hook_fn *before_sleep;
    void *before_sleep_data;
    volatile int stop;
};

hr_loop *hr_loop_new(int max_fds)
{
    hr_loop *l = hr_calloc(1, sizeof(*l));
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) goto fail_epoll;
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wakefd < 0) goto fail_eventfd;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = -1};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0) goto fail_ctl;
    l->max_fds = max_fds;
    l->nevents = 256;
    l->events = hr_malloc(sizeof(*l->events) * (size_t)l->nevents);
    return l;

fail_ctl:
    close(l->wakefd);
fail_eventfd:
    close(l->epfd);
fail_epoll:
    hr_free(l);
    return NULL;
}

void hr_loop_free(hr_loop *l)
{
    if (!l) return;
    close(l->wakefd);
    close(l->epfd);
    hr_free(l->fds);
    hr_free(l->events);
    hr_free(l->timers);
    hr_free(l);
}

static int ensure_fd(hr_loop *l, int fd)
{
    if (fd < 0 || fd >= l->max_fds) {
        errno = ERANGE;
        return -1;
    }
    if (fd >= l->nfds) {
        int n = l->nfds ? l->nfds : 64;
        while (n <= fd) n *= 2;
        if (n > l->max_fds) n = l->max_fds;
        l->fds = hr_realloc(l->fds, sizeof(*l->fds) * (size_t)n);
        memset(l->fds + l->nfds, 0, sizeof(*l->fds) * (size_t)(n - l->nfds));
        l->nfds = n;
    }
    return 0;
}

static uint32_t to_epoll(int mask)
{
    return (mask & HR_LOOP_READ ? EPOLLIN : 0) | (mask & HR_LOOP_WRITE ? EPOLLOUT : 0);
}

int hr_loop_add_fd(hr_loop *l, int fd, int mask, hr_loop_fd_fn *fn, void *data)
{
    if (ensure_fd(l, fd) < 0) return -1;
    fd_state *s = &l->fds[fd];
    int newmask = s->mask | mask;
    struct epoll_event ev = {.events = to_epoll(newmask), .data.fd = fd};
    if (epoll_ctl(l->epfd, s->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) return -1;
    s->mask = newmask;
    if (mask & HR_LOOP_READ) {
        s->rfn = fn;
        s->rdata = data;
    }
    if (mask & HR_LOOP_WRITE) {
        s->wfn = fn;
        s->wdata = data;
    }
    return 0;
}

void hr_loop_del_fd(hr_loop *l, int fd, int mask)
{
    if (fd < 0 || fd >= l->nfds) return;
    fd_state *s = &l->fds[fd];
    if (!(s->mask & mask)) return;
    int newmask = s->mask & ~mask;
    struct epoll_event ev = {.events = to_epoll(newmask), .data.fd = fd};
    epoll_ctl(l->epfd, newmask ? EPOLL_CTL_MOD : EPOLL_CTL_DEL, fd, &ev);
    s->mask = newmask;
}

int hr_loop_fd_mask(const hr_loop *l, int fd)
{
    return fd >= 0 && fd < l->nfds ? l->fds[fd].mask : 0;
}

long long hr_loop_add_timer(hr_loop *l, long long ms, hr_loop_timer_fn *fn, void *data)
{
    if (l->ntimers == l->timers_cap) {
        l->timers_cap = l->timers_cap ? l->timers_cap * 2 : 8;
        l->timers = hr_realloc(l->timers, sizeof(*l->timers) * (size_t)l->timers_cap);
    }
    timer *t = &l->timers[l->ntimers++];
    t->id = ++l->next_timer_id;
    t->when_us = hr_mono_us() + (uint64_t)(ms < 0 ? 0 : ms) * 1000u;
    t->fn = fn;
    t->data = data;
    return t->id;
}

int hr_loop_del_timer(hr_loop *l, long long id)
{
    for (int i = 0; i < l->ntimers; i++) {
        if (l->timers[i].id == id) {
            l->timers[i] = l->timers[--l->ntimers];
            return 0;
        }
    }
    return -1;
}

void hr_loop_set_before_sleep(hr_loop *l, hr_loop_hook_fn *fn, void *data)
{
    l->before_sleep = fn;
    l->before_sleep_data = data;
}

static int wait_ms_for_timers(hr_loop *l, int wait_ms)
{
    if (l->ntimers == 0) return wait_ms;
    uint64_t now = hr_mono_us(), next = UINT64_MAX;
    for (int i = 0; i < l->ntimers; i++)
        if (l->timers[i].when_us < next) next = l->timers[i].when_us;
    long long ms = next <= now ? 0 : (long long)((next - now + 999) / 1000);
    if (wait_ms < 0 || ms < wait_ms) return ms > 1000000 ? 1000000 : (int)ms;
    return wait_ms;
}

static void run_timers(hr_loop *l)
{
    uint64_t now = hr_mono_us();
    /* Timers added by handlers run no earlier than the next iteration. */
    long long max_id = l->next_timer_id;
    for (int i = 0; i < l->ntimers; i++) {
        timer *t = &l->timers[i];
        if (t->id > max_id || t->when_us > now) continue;
        long long id = t->id;
        long long again = t->fn(l, id, t->data);
        /* The array may have changed: find the timer again by id. */
        int j;
        for (j = 0; j < l->ntimers && l->timers[j].id != id; j++) {}
        if (j == l->ntimers) {
            i = -1; /* deleted by its handler: rescan safely */
            continue;
        }
        if (again == HR_LOOP_NOMORE) {
            l->timers[j] = l->timers[--l->ntimers];
            i = -1;
        } else {
            l->timers[j].when_us = hr_mono_us() + (uint64_t)again * 1000u;
        }
    }
}

static void dispatch(hr_loop *l, int n)
{
    for (int i = 0; i < n; i++) {
        struct epoll_event *e = &l->events[i];
        int fd = e->data.fd;
        if (fd < 0) {
            uint64_t v;
            while (read(l->wakefd, &v, sizeof(v)) > 0) {}
            continue;
        }
        if (fd >= l->nfds) continue;
        fd_state *s = &l->fds[fd];
        int fired = 0;
        if (e->events & (EPOLLIN | EPOLLERR | EPOLLHUP)) fired |= HR_LOOP_READ;
        if (e->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) fired |= HR_LOOP_WRITE;
        if ((fired & HR_LOOP_READ) && (s->mask & HR_LOOP_READ))
            s->rfn(l, fd, s->rdata, HR_LOOP_READ);
        /* Re-read state: the read handler may have closed the fd. */
        if ((fired & HR_LOOP_WRITE) && fd < l->nfds && (l->fds[fd].mask & HR_LOOP_WRITE))
            l->fds[fd].wfn(l, fd, l->fds[fd].wdata, HR_LOOP_WRITE);
    }
    if (n == l->nevents && l->nevents < 8192) {
        l->nevents *= 2;
        l->events = hr_realloc(l->events, sizeof(*l->events) * (size_t)l->nevents);
    }
}

int hr_loop_poll(hr_loop *l)
{
    int n = epoll_wait(l->epfd, l->events, l->nevents, 0);
    if (n <= 0) return 0;
    dispatch(l, n);
    return n;
}

void hr_loop_run_once(hr_loop *l, int wait_ms)
{
    if (l->before_sleep) l->before_sleep(l, l->before_sleep_data);
    int timeout = l->stop ? 0 : wait_ms_for_timers(l, wait_ms);
    int n = epoll_wait(l->epfd, l->events, l->nevents, timeout);
    if (n > 0) dispatch(l, n);
    run_timers(l);
}

void hr_loop_run(hr_loop *l)
{
    l->stop = 0;
    while (!l->stop) hr_loop_run_once(l, -1);
}

void hr_loop_stop(hr_loop *l)
{
    l->stop = 1;
}

void hr_loop_wakeup(hr_loop *l)
{
    uint64_t one = 1;
    ssize_t r = write(l->wakefd, &one, sizeof(one));
    (void)r;
}
