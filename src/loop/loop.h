/*
 * loop.h - single-threaded epoll event loop (hr_loop).
 *
 * One iteration, in order:
 *   1. run the before-sleep hook (the server flushes output queues here; it
 *      may first take in input that is already waiting, see hr_loop_poll);
 *   2. epoll_wait until the nearest timer is due (or forever / until stopped);
 *   3. dispatch fd events: for each fd, readable first, then writable
 *      (unless HR_LOOP_BARRIER asks for the reverse);
 *   4. run every due timer (monotonic clock), re-arming periodic ones.
 *
 * fds are registered with a mask of HR_LOOP_READ / HR_LOOP_WRITE and one
 * handler per direction. Handlers may (un)register any fd, including their
 * own, during dispatch: events for an fd removed in the same iteration are
 * skipped. Timers are identified by a positive id; a handler returns the
 * delay in ms until it runs again, or HR_LOOP_NOMORE to be deleted.
 */
#ifndef HR_LOOP_H
#define HR_LOOP_H

#include <stdint.h>

#define HR_LOOP_NONE 0
#define HR_LOOP_READ 1
#define HR_LOOP_WRITE 2
#define HR_LOOP_NOMORE (-1)

typedef struct hr_loop hr_loop;
typedef void hr_loop_fd_fn(hr_loop *loop, int fd, void *data, int mask);
typedef long long hr_loop_timer_fn(hr_loop *loop, long long id, void *data);
typedef void hr_loop_hook_fn(hr_loop *loop, void *data);

/* Creates a loop that can watch fds below max_fds (grown on demand up to
 * that size). Returns NULL on failure (errno set). */
hr_loop *hr_loop_new(int max_fds);
void hr_loop_free(hr_loop *loop);

/* Adds mask to the events watched on fd, with fn as the handler for them.
 * Returns 0, or -1 with errno set. */
int hr_loop_add_fd(hr_loop *loop, int fd, int mask, hr_loop_fd_fn *fn, void *data);
/* Stops watching mask on fd (the fd is forgotten when no mask is left). */
void hr_loop_del_fd(hr_loop *loop, int fd, int mask);
int hr_loop_fd_mask(const hr_loop *loop, int fd);

/* Runs fn after ms milliseconds; returns its id (> 0). */
long long hr_loop_add_timer(hr_loop *loop, long long ms, hr_loop_timer_fn *fn, void *data);
/* Returns 0, or -1 when no such timer. */
int hr_loop_del_timer(hr_loop *loop, long long id);

void hr_loop_set_before_sleep(hr_loop *loop, hr_loop_hook_fn *fn, void *data);

/* Dispatches the fd events that are ready right now, without waiting and
 * without running the before-sleep hook or timers. Returns how many events
 * were dispatched (0: nothing was ready). Callable from the before-sleep
 * hook, e.g. to take in waiting input before deciding to flush output. */
int hr_loop_poll(hr_loop *loop);

/* Runs one iteration; wait_ms < 0 blocks until an event or timer, 0 polls. */
void hr_loop_run_once(hr_loop *loop, int wait_ms);
/* Runs iterations until hr_loop_stop(). */
void hr_loop_run(hr_loop *loop);
/* Asks hr_loop_run to return after the current iteration (safe from a
 * handler; from a signal handler, use hr_loop_wakeup after setting a flag). */
void hr_loop_stop(hr_loop *loop);
/* Wakes a blocked epoll_wait (async-signal-safe: writes to an eventfd). */
void hr_loop_wakeup(hr_loop *loop);

#endif
