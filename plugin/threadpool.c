/*
 * plugin/threadpool.c - the plugin's thread pool (see threadpool.h).
 *
 * Locks: `lock` guards the queues, the counters and `stop`; a thread holds
 * it only to take an item and to account for it, never while running one.
 * `done_lock` guards the completion list; `has_done` says, without the
 * lock, whether it may hold anything, because the broker thread asks at
 * every TICK (every turn of Mosquitto's loop, many per message under load)
 * and nearly always finds it empty. Every queue has its own condition
 * variable, so a push wakes only a thread that serves it.
 */
#include "threadpool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pool_queue {
    mdp_pool_item *head, *tail;
    pthread_cond_t cond;
};

struct pool_thread {
    mdp_pool *pool;
    unsigned index;
    pthread_t thread;
    bool started;
};

struct mdp_pool {
    mdp_pool_config cfg;
    struct pool_queue *queues;
    struct pool_thread *threads;
    bool stopped;

    pthread_mutex_t lock;
    size_t queued, running;
    uint64_t completed;
    bool stop;

    pthread_mutex_t done_lock;
    mdp_pool_item *done_head, *done_tail;
    atomic_bool has_done;           /* set with the list, under done_lock */
};

static void *pool_main(void *arg)
{
    struct pool_thread *t = arg;
    mdp_pool *pool = t->pool;
    struct pool_queue *q = &pool->queues[t->index % pool->cfg.queues];

    for (;;) {
        mdp_pool_item *item;

        pthread_mutex_lock(&pool->lock);
        while (!pool->stop && q->head == NULL)
            pthread_cond_wait(&q->cond, &pool->lock);
        if (pool->stop) {
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
        item = q->head;
        q->head = item->next;
        if (q->head == NULL)
            q->tail = NULL;
        item->next = NULL;
        pool->queued--;
        pool->running++;
        pthread_mutex_unlock(&pool->lock);

        pool->cfg.run(pool->cfg.ctx, t->index, item);

        pthread_mutex_lock(&pool->lock);
        pool->running--;
        pool->completed++;
        pthread_mutex_unlock(&pool->lock);
    }
}

bool mdp_pool_push(mdp_pool *pool, unsigned qi, mdp_pool_item *item, size_t max)
{
    struct pool_queue *q = &pool->queues[qi % pool->cfg.queues];

    pthread_mutex_lock(&pool->lock);
    if (max > 0 && pool->queued >= max) {
        pthread_mutex_unlock(&pool->lock);
        return false;
    }
    item->next = NULL;
    if (q->tail != NULL)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    pool->queued++;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&pool->lock);
    return true;
}

void mdp_pool_push_front(mdp_pool *pool, unsigned qi, mdp_pool_item *item)
{
    struct pool_queue *q = &pool->queues[qi % pool->cfg.queues];

    pthread_mutex_lock(&pool->lock);
    item->next = q->head;
    q->head = item;
    if (q->tail == NULL)
        q->tail = item;
    pool->queued++;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&pool->lock);
}

bool mdp_pool_find(mdp_pool *pool, mdp_pool_match_fn match, void *ctx)
{
    bool found = false;

    pthread_mutex_lock(&pool->lock);
    for (unsigned i = 0; i < pool->cfg.queues && !found; i++)
        for (const mdp_pool_item *it = pool->queues[i].head; it != NULL; it = it->next)
            if (match(ctx, it)) {
                found = true;
                break;
            }
    pthread_mutex_unlock(&pool->lock);
    return found;
}

void mdp_pool_done(mdp_pool *pool, mdp_pool_item *item)
{
    item->next = NULL;
    pthread_mutex_lock(&pool->done_lock);
    if (pool->done_tail != NULL)
        pool->done_tail->next = item;
    else
        pool->done_head = item;
    pool->done_tail = item;
    atomic_store_explicit(&pool->has_done, true, memory_order_release);
    pthread_mutex_unlock(&pool->done_lock);
}

mdp_pool_item *mdp_pool_take_done(mdp_pool *pool)
{
    mdp_pool_item *list;

    /* an item pushed just after this load is taken at the next TICK */
    if (!atomic_load_explicit(&pool->has_done, memory_order_acquire))
        return NULL;
    pthread_mutex_lock(&pool->done_lock);
    list = pool->done_head;
    pool->done_head = pool->done_tail = NULL;
    atomic_store_explicit(&pool->has_done, false, memory_order_relaxed);
    pthread_mutex_unlock(&pool->done_lock);
    return list;
}

size_t mdp_pool_room(mdp_pool *pool, size_t max)
{
    size_t room;

    pthread_mutex_lock(&pool->lock);
    room = pool->queued < max ? max - pool->queued : 0;
    pthread_mutex_unlock(&pool->lock);
    return room;
}

void mdp_pool_get_stats(mdp_pool *pool, mdp_pool_stats *out)
{
    pthread_mutex_lock(&pool->lock);
    out->queued = pool->queued;
    out->running = pool->running;
    out->completed = pool->completed;
    pthread_mutex_unlock(&pool->lock);
}

void mdp_pool_stop(mdp_pool *pool)
{
    if (pool == NULL || pool->stopped)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stop = true;
    for (unsigned i = 0; i < pool->cfg.queues; i++)
        pthread_cond_broadcast(&pool->queues[i].cond);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < pool->cfg.threads; i++)
        if (pool->threads[i].started) {
            pthread_join(pool->threads[i].thread, NULL);
            pool->threads[i].started = false;
        }
    pool->stopped = true;
}

static void free_list(mdp_pool_item *it, mdp_pool_free_fn free_item, void *ctx)
{
    while (it != NULL) {
        mdp_pool_item *next = it->next;
        if (free_item != NULL)
            free_item(ctx, it);
        it = next;
    }
}

void mdp_pool_free(mdp_pool *pool, mdp_pool_free_fn free_item, void *ctx)
{
    if (pool == NULL)
        return;
    mdp_pool_stop(pool);
    for (unsigned i = 0; i < pool->cfg.queues; i++) {
        free_list(pool->queues[i].head, free_item, ctx);
        pthread_cond_destroy(&pool->queues[i].cond);
    }
    free_list(pool->done_head, free_item, ctx);
    pthread_mutex_destroy(&pool->lock);
    pthread_mutex_destroy(&pool->done_lock);
    free(pool->queues);
    free(pool->threads);
    free(pool);
}

mdp_pool *mdp_pool_start(const mdp_pool_config *cfg, char *err, size_t errlen)
{
    const char *name = cfg->name != NULL ? cfg->name : "thread pool";
    mdp_pool *pool;
    sigset_t all, old;
    int rc = 0;

    if (cfg->threads == 0 || cfg->queues == 0 || cfg->queues > cfg->threads ||
        cfg->run == NULL) {
        snprintf(err, errlen, "%s: invalid configuration", name);
        return NULL;
    }
    pool = calloc(1, sizeof(*pool));
    if (pool == NULL || (pool->queues = calloc(cfg->queues, sizeof(*pool->queues))) == NULL ||
        (pool->threads = calloc(cfg->threads, sizeof(*pool->threads))) == NULL) {
        if (pool != NULL)
            free(pool->queues);
        free(pool);
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    pool->cfg = *cfg;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_mutex_init(&pool->done_lock, NULL);
    atomic_init(&pool->has_done, false);
    for (unsigned i = 0; i < cfg->queues; i++)
        pthread_cond_init(&pool->queues[i].cond, NULL);

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned i = 0; i < cfg->threads; i++) {
        pool->threads[i].pool = pool;
        pool->threads[i].index = i;
        rc = pthread_create(&pool->threads[i].thread, NULL, pool_main, &pool->threads[i]);
        if (rc != 0)
            break;
        pool->threads[i].started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot start a thread: %s", name, strerror(rc));
        mdp_pool_free(pool, NULL, NULL);
        return NULL;
    }
    return pool;
}
