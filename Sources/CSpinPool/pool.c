// See spinpool.h. One global pool: a nested or concurrent caller gets -1 and uses Dispatch.
//
// Work is handed out by index: whoever is awake (the caller included) claims the next index of
// the current job with a compare-and-swap on one word that holds the job's generation, its
// size and the next index. A helper that the OS has not scheduled yet therefore never holds up
// a job: the caller runs the unclaimed indices itself. It waits only for indices that are
// already running elsewhere. Each index runs exactly once, so results do not depend on who ran it.
#include "spinpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

enum { MAX_WORKERS = 256 };
/// How long an idle helper spins before it sleeps, in nanoseconds.
static const long SPIN_NS = 1000000;

// state = generation << 32 | workers << 16 | next unclaimed index
#define GEN(s) ((uint32_t)((s) >> 32))
#define SIZE(s) ((int)(((s) >> 16) & 0xFFFF))
#define NEXT(s) ((int)((s) & 0xFFFF))

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static _Atomic uint64_t state;
static atomic_int completed;      // indices of the current job that have returned
static atomic_int sleeping;       // helpers waiting on `wake`
static atomic_int busy;           // a job is being run
static int helpers;               // helper threads started (changed only while `busy` is held)
// The current job: written before `state` publishes it; stable while any index is unfinished.
static sp_task_fn job_fn;
static void *job_ctx;

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

/// Claims and runs indices of the job published as `s` until none is left.
static void run_indices(uint64_t s) {
    for (;;) {
        if (NEXT(s) >= SIZE(s)) return;
        const uint64_t claimed = s + 1;
        if (atomic_compare_exchange_weak_explicit(&state, &s, claimed, memory_order_acquire, memory_order_relaxed)) {
            job_fn(job_ctx, NEXT(s));
            atomic_fetch_add_explicit(&completed, 1, memory_order_release);
            s = claimed;
        }
        // On failure `s` holds the current word: another index was claimed, or a new job began.
    }
}

static void *helper_main(void *arg) {
    uint32_t seen = (uint32_t)(uintptr_t)arg;   // generation at start
    for (;;) {
        uint64_t s;
        long spun_since = 0;
        for (int spins = 0; GEN(s = atomic_load_explicit(&state, memory_order_acquire)) == seen; spins++) {
            CPU_RELAX();
            if ((spins & 255) != 255) continue;
            const long t = now_ns();
            if (spun_since == 0) { spun_since = t; continue; }
            if (t - spun_since < SPIN_NS) continue;
            // Idle for a while: sleep. `sleeping` is raised before the state is checked under the
            // lock, so a job published after the check finds us counted and broadcasts.
            pthread_mutex_lock(&lock);
            atomic_fetch_add(&sleeping, 1);
            while (GEN(s = atomic_load(&state)) == seen) pthread_cond_wait(&wake, &lock);
            atomic_fetch_sub(&sleeping, 1);
            pthread_mutex_unlock(&lock);
            break;
        }
        seen = GEN(s);
        run_indices(s);
    }
    return NULL;
}

int sp_capacity(void) { return MAX_WORKERS; }

int sp_run(int workers, sp_task_fn fn, void *ctx) {
    if (workers <= 1) { fn(ctx, 0); return 0; }
    if (workers > MAX_WORKERS) return -1;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&busy, &expected, 1)) return -1;
    const uint64_t old = atomic_load(&state);
    while (helpers < workers - 1) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        const int rc = pthread_create(&t, &a, helper_main, (void *)(uintptr_t)GEN(old));
        pthread_attr_destroy(&a);
        if (rc != 0) break;   // fewer helpers: the caller runs more indices itself
        helpers++;
    }
    job_fn = fn;
    job_ctx = ctx;
    atomic_store_explicit(&completed, 0, memory_order_relaxed);
    const uint64_t s = ((uint64_t)(GEN(old) + 1) << 32) | ((uint64_t)workers << 16);
    atomic_store(&state, s);   // seq_cst: ordered before the `sleeping` load below
    if (atomic_load(&sleeping) > 0) {
        pthread_mutex_lock(&lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&lock);
    }
    run_indices(s);
    // Only indices another thread is running remain.
    for (int spins = 0; atomic_load_explicit(&completed, memory_order_acquire) < workers; spins++) {
        if (spins < 4096) CPU_RELAX(); else sched_yield();
    }
    atomic_store_explicit(&busy, 0, memory_order_release);
    return 0;
}
