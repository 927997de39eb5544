/*
 * plugin/threadpool.h - a small pool of threads for the plugin's slow
 * work, shared by the DNS workers (workers.c) and the message pipeline
 * (pipeline.c).
 *
 * The pool has one or more FIFO queues of items and N threads; thread i
 * serves queue i % queues (one shared queue: any thread takes any item;
 * one queue per thread: an item's queue picks its thread). The threads
 * block every signal: Mosquitto's handlers (SIGHUP reload, SIGINT/SIGTERM
 * stop, SIGUSR1...) must run on the broker thread. A thread runs one item
 * at a time, outside any lock, through the owner's run function; the
 * owner hands finished items to the completion list (dance_pool_done),
 * which the host (broker) thread takes whole at TICK
 * (dance_pool_take_done): Mosquitto gives plugins no wake-up pipe, so the
 * host polls.
 *
 * Items are the owner's structures with a dance_pool_item embedded; the
 * pool only links them. Pure: no Mosquitto headers.
 */
#ifndef DANCE_PLUGIN_THREADPOOL_H
#define DANCE_PLUGIN_THREADPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dance_pool_item {
    struct dance_pool_item *next;   /* the pool's link */
} dance_pool_item;

typedef struct dance_pool dance_pool;

/* Runs item on pool thread `thread` (0..threads-1), unlocked. */
typedef void (*dance_pool_run_fn)(void *ctx, unsigned thread, dance_pool_item *item);
/* Decides whether item is the one looked for (dance_pool_find). */
typedef bool (*dance_pool_match_fn)(void *ctx, const dance_pool_item *item);
/* Frees an item the pool still holds when it is freed. */
typedef void (*dance_pool_free_fn)(void *ctx, dance_pool_item *item);

typedef struct dance_pool_config {
    unsigned threads;               /* >= 1 */
    unsigned queues;                /* 1 .. threads */
    dance_pool_run_fn run;
    void *ctx;                      /* for run */
    const char *name;               /* for errors: "worker pool" */
} dance_pool_config;

typedef struct dance_pool_stats {
    size_t queued;                  /* waiting, all queues */
    size_t running;                 /* being run now */
    uint64_t completed;             /* items run to the end */
} dance_pool_stats;

/* dance_pool_start - start the threads. NULL with "<name>: reason" in err. */
dance_pool *dance_pool_start(const dance_pool_config *cfg, char *err, size_t errlen);

/* dance_pool_push - append item to queue q (any thread). With max > 0,
 * only while fewer than max items wait in all queues: false when full
 * (item not taken). */
bool dance_pool_push(dance_pool *pool, unsigned q, dance_pool_item *item, size_t max);

/* dance_pool_push_front - put item first in queue q, to run before what
 * waits there (any thread). */
void dance_pool_push_front(dance_pool *pool, unsigned q, dance_pool_item *item);

/* dance_pool_find - whether an item waiting in any queue matches (any
 * thread; match runs under the pool's lock and must not call the pool). */
bool dance_pool_find(dance_pool *pool, dance_pool_match_fn match, void *ctx);

/* dance_pool_done - append item to the completion list (any thread). */
void dance_pool_done(dance_pool *pool, dance_pool_item *item);

/* dance_pool_take_done - the completion list, oldest first, and an empty
 * list left behind (host thread). Walk it by item->next. */
dance_pool_item *dance_pool_take_done(dance_pool *pool);

/* dance_pool_room - how many more items fit under max now. */
size_t dance_pool_room(dance_pool *pool, size_t max);

void dance_pool_get_stats(dance_pool *pool, dance_pool_stats *out);

/* dance_pool_stop - stop and join the threads (an item being run is
 * finished first; waiting items stay). NULL-safe, idempotent. */
void dance_pool_stop(dance_pool *pool);

/* dance_pool_free - stop, hand every item still waiting or completed to
 * free_item (may be NULL), and free the pool. NULL-safe. */
void dance_pool_free(dance_pool *pool, dance_pool_free_fn free_item, void *ctx);

#endif
