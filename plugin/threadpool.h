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
 * owner hands finished items to the completion list (mdp_pool_done),
 * which the host (broker) thread takes whole at TICK
 * (mdp_pool_take_done): Mosquitto gives plugins no wake-up pipe, so the
 * host polls.
 *
 * Items are the owner's structures with a mdp_pool_item embedded; the
 * pool only links them. Pure: no Mosquitto headers.
 */
#ifndef MDP_THREADPOOL_H
#define MDP_THREADPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mdp_pool_item {
    struct mdp_pool_item *next;   /* the pool's link */
} mdp_pool_item;

typedef struct mdp_pool mdp_pool;

/* Runs item on pool thread `thread` (0..threads-1), unlocked. */
typedef void (*mdp_pool_run_fn)(void *ctx, unsigned thread, mdp_pool_item *item);
/* Decides whether item is the one looked for (mdp_pool_find). */
typedef bool (*mdp_pool_match_fn)(void *ctx, const mdp_pool_item *item);
/* Frees an item the pool still holds when it is freed. */
typedef void (*mdp_pool_free_fn)(void *ctx, mdp_pool_item *item);

typedef struct mdp_pool_config {
    unsigned threads;               /* >= 1 */
    unsigned queues;                /* 1 .. threads */
    mdp_pool_run_fn run;
    void *ctx;                      /* for run */
    const char *name;               /* for errors: "worker pool" */
} mdp_pool_config;

typedef struct mdp_pool_stats {
    size_t queued;                  /* waiting, all queues */
    size_t running;                 /* being run now */
    uint64_t completed;             /* items run to the end */
} mdp_pool_stats;

/* mdp_pool_start - start the threads. NULL with "<name>: reason" in err. */
mdp_pool *mdp_pool_start(const mdp_pool_config *cfg, char *err, size_t errlen);

/* mdp_pool_push - append item to queue q (any thread). With max > 0,
 * only while fewer than max items wait in all queues: false when full
 * (item not taken). */
bool mdp_pool_push(mdp_pool *pool, unsigned q, mdp_pool_item *item, size_t max);

/* mdp_pool_push_front - put item first in queue q, to run before what
 * waits there (any thread). */
void mdp_pool_push_front(mdp_pool *pool, unsigned q, mdp_pool_item *item);

/* mdp_pool_find - whether an item waiting in any queue matches (any
 * thread; match runs under the pool's lock and must not call the pool). */
bool mdp_pool_find(mdp_pool *pool, mdp_pool_match_fn match, void *ctx);

/* mdp_pool_done - append item to the completion list (any thread). */
void mdp_pool_done(mdp_pool *pool, mdp_pool_item *item);

/* mdp_pool_take_done - the completion list, oldest first, and an empty
 * list left behind (host thread). Walk it by item->next. */
mdp_pool_item *mdp_pool_take_done(mdp_pool *pool);

/* mdp_pool_room - how many more items fit under max now. */
size_t mdp_pool_room(mdp_pool *pool, size_t max);

void mdp_pool_get_stats(mdp_pool *pool, mdp_pool_stats *out);

/* mdp_pool_stop - stop and join the threads (an item being run is
 * finished first; waiting items stay). NULL-safe, idempotent. */
void mdp_pool_stop(mdp_pool *pool);

/* mdp_pool_free - stop, hand every item still waiting or completed to
 * free_item (may be NULL), and free the pool. NULL-safe. */
void mdp_pool_free(mdp_pool *pool, mdp_pool_free_fn free_item, void *ctx);

#endif
