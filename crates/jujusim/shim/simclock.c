/*
 * jujusim simclock: an LD_PRELOAD shim that shows a hook process the simulated clock.
 *
 * With `Model::set_hook_clock(true)` the simulator starts every hook and action process with
 * LD_PRELOAD=<this library> and JUJUSIM_CLOCK_OFFSET_NS=<model clock - real time at launch, in
 * ns, signed>. Every read of the wall clock through libc (clock_gettime with CLOCK_REALTIME or
 * CLOCK_REALTIME_COARSE, gettimeofday, time, timespec_get with TIME_UTC) gets that offset
 * added; every other clock (monotonic, boottime, CPU time) passes through untouched, so sleeps,
 * timeouts and durations behave as before. The hook thus sees the model's clock plus the real
 * time elapsed since its launch.
 *
 * The variable is read on every call (getenv), not cached: the Python fork server
 * (tests/charms/pyfork) forks hook processes from one warm interpreter that has this library
 * loaded and sets each hook's environment (its own offset) only after the fork. Without the
 * variable (or an unparsable one) the offset is 0: real time.
 *
 * Built by crates/jujusim/build.rs with the system C compiler; libc (and libdl) only.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#define OFFSET_VAR "JUJUSIM_CLOCK_OFFSET_NS"
#define NS 1000000000LL

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef int (*gettimeofday_fn)(struct timeval *, void *);

static clock_gettime_fn real_clock_gettime_ptr;
static gettimeofday_fn real_gettimeofday_ptr;

static clock_gettime_fn real_clock_gettime(void) {
    clock_gettime_fn f = __atomic_load_n(&real_clock_gettime_ptr, __ATOMIC_ACQUIRE);
    if (!f) {
        f = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
        __atomic_store_n(&real_clock_gettime_ptr, f, __ATOMIC_RELEASE);
    }
    return f;
}

static gettimeofday_fn real_gettimeofday(void) {
    gettimeofday_fn f = __atomic_load_n(&real_gettimeofday_ptr, __ATOMIC_ACQUIRE);
    if (!f) {
        f = (gettimeofday_fn)dlsym(RTLD_NEXT, "gettimeofday");
        __atomic_store_n(&real_gettimeofday_ptr, f, __ATOMIC_RELEASE);
    }
    return f;
}

/* The offset in ns: the variable's value, 0 when unset or not a plain signed integer. */
static long long offset_ns(void) {
    const char *s = getenv(OFFSET_VAR);
    if (!s || !*s)
        return 0;
    int saved = errno;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int bad = errno != 0 || *end != 0;
    errno = saved;
    return bad ? 0 : v;
}

/* ts += off, normalised (0 <= tv_nsec < 1e9). */
static void shift(struct timespec *ts, long long off) {
    long long sec = (long long)ts->tv_sec + off / NS;
    long long nsec = (long long)ts->tv_nsec + off % NS;
    if (nsec < 0) {
        nsec += NS;
        sec -= 1;
    } else if (nsec >= NS) {
        nsec -= NS;
        sec += 1;
    }
    ts->tv_sec = (time_t)sec;
    ts->tv_nsec = (long)nsec;
}

static int realtime(clockid_t id) { return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE; }

int clock_gettime(clockid_t id, struct timespec *ts) {
    clock_gettime_fn f = real_clock_gettime();
    if (!f) {
        errno = ENOSYS;
        return -1;
    }
    int r = f(id, ts);
    if (r == 0 && realtime(id)) {
        long long off = offset_ns();
        if (off)
            shift(ts, off);
    }
    return r;
}

int gettimeofday(struct timeval *tv_arg, void *tz) {
    /* glibc declares tv nonnull; callers may still pass NULL (only tz wanted). */
    struct timeval *volatile tv = tv_arg;
    long long off = offset_ns();
    if (!off || !tv) {
        gettimeofday_fn g = real_gettimeofday();
        if (!g) {
            errno = ENOSYS;
            return -1;
        }
        return g(tv_arg, tz);
    }
    if (tz) { /* obsolete; let libc fill it */
        gettimeofday_fn g = real_gettimeofday();
        if (g)
            g(NULL, tz);
    }
    struct timespec ts;
    clock_gettime_fn f = real_clock_gettime();
    if (!f || f(CLOCK_REALTIME, &ts) != 0)
        return -1;
    shift(&ts, off);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

time_t time(time_t *t) {
    struct timespec ts;
    clock_gettime_fn f = real_clock_gettime();
    if (!f || f(CLOCK_REALTIME, &ts) != 0)
        return (time_t)-1;
    long long off = offset_ns();
    if (off)
        shift(&ts, off);
    if (t)
        *t = ts.tv_sec;
    return ts.tv_sec;
}

int timespec_get(struct timespec *ts, int base) {
    if (base != TIME_UTC)
        return 0;
    if (clock_gettime(CLOCK_REALTIME, ts) != 0)
        return 0;
    return base;
}
