#pragma once
// A persistent worker pool whose threads spin briefly between jobs.
//
// Why: decode runs ~150 parallel regions per token (each matrix-vector product, each layer's
// attention), each a few tens of microseconds long. Waking sleeping threads through the kernel
// (DispatchQueue.concurrentPerform) costs about as much as the work, so two threads decoded
// slower than one. Here workers stay awake for a short while after each job and see the next
// one through an atomic counter; after ~1 ms without work they sleep on a condition variable.
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*sp_task_fn)(void *ctx, int worker);

/// Runs fn(ctx, w) for w in 0..<workers, w = 0 on the calling thread, and returns when all have
/// finished. Returns 0, or -1 without running anything when the pool is busy (a nested or
/// concurrent caller) or `workers` exceeds its size: the caller then uses another way.
int sp_run(int workers, sp_task_fn fn, void *ctx);

/// Largest `workers` sp_run accepts (threads are started on first use, up to this many).
int sp_capacity(void);

#ifdef __cplusplus
}
#endif
