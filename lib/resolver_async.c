/*
 * resolver_async.c - many TLSA lookups in flight on one getdns event loop
 * (implements dance_resolver_async, dance/resolver.h).
 *
 * Why: a validating stub lookup spends nearly all its time waiting for
 * answers (the TLSA query, then DS and DNSKEY up the chain). One lookup per
 * thread makes the number of threads the number of lookups in flight; one
 * thread running getdns' own event loop can keep hundreds in flight.
 *
 * Threads and ownership:
 *  - One thread (loop_main) owns the dance_resolver, i.e. its getdns
 *    contexts (one per upstream) and their event loop; only it calls getdns
 *    after start.
 *  - Any thread submits: the request (owner copied, callback, argument) is
 *    appended to `submitted` under `lock`, and the eventfd registered as a
 *    read event with the context's loop wakes the loop thread.
 *  - The loop thread moves submitted requests to its own FIFO, starts them
 *    while fewer than max_inflight run, runs the loop, settles lookups whose
 *    attempt ended (resolver_lookup_settle, the code the synchronous lookup
 *    uses too) and calls each request's callback once, with no lock held,
 *    then frees the request.
 *  - stop sets `stopping` under the lock and wakes the thread, which
 *    cancels every lookup in flight, calls every remaining callback with
 *    cancelled set, and exits; stop joins it and frees the context. A
 *    submit that sees `stopping` is refused, so nothing is left behind.
 *
 * Order: requests start in submission order; answers come in the order
 * they arrive.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "dance/error.h"
#include "dance/resolver.h"
#include "resolver_internal.h"

/* getdns' "no timeout" for an event (its TIMEOUT_FOREVER, not exported) */
#define ASYNC_NO_TIMEOUT UINT64_MAX

typedef struct async_req {
    struct async_req *next, *prev;  /* submitted list, FIFO or in-flight list */
    resolver_lookup lk;             /* only once started */
    dance_resolver_answer_fn fn;
    void *arg;
    char owner[];
} async_req;

typedef struct req_list {
    async_req *head, *tail;
} req_list;

struct dance_resolver_async {
    dance_resolver *r;              /* the loop thread's after start */
    unsigned max_inflight;
    int wake_fd;                    /* eventfd */
    getdns_eventloop_event wake_ev;
    pthread_t thread;

    pthread_mutex_t lock;           /* guards submitted and stopping */
    req_list submitted;
    bool stopping;

    /* loop thread only */
    req_list fifo;                  /* taken from submitted, not started */
    req_list inflight;
    size_t ninflight;

    atomic_size_t stat_queued;      /* submitted, not started */
    atomic_size_t stat_inflight;
};

static void list_append(req_list *l, async_req *q)
{
    q->next = NULL;
    q->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
}

static void list_unlink(req_list *l, async_req *q)
{
    if (q->prev != NULL)
        q->prev->next = q->next;
    else
        l->head = q->next;
    if (q->next != NULL)
        q->next->prev = q->prev;
    else
        l->tail = q->prev;
    q->next = q->prev = NULL;
}

/* list_splice - append all of src to dst, leaving src empty */
static void list_splice(req_list *dst, req_list *src)
{
    if (src->head == NULL)
        return;
    if (dst->tail != NULL) {
        dst->tail->next = src->head;
        src->head->prev = dst->tail;
    } else {
        dst->head = src->head;
    }
    dst->tail = src->tail;
    src->head = src->tail = NULL;
}

/* lookup_req - the request that holds lk */
static async_req *lookup_req(resolver_lookup *lk)
{
    return (async_req *)(void *)((char *)lk - offsetof(async_req, lk));
}

static void wake(dance_resolver_async *ra)
{
    uint64_t one = 1;

    /* EAGAIN: the counter is already huge, the thread wakes anyway */
    while (write(ra->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

/* wake_cb - the loop woke for new requests or stop: reset the eventfd */
static void wake_cb(void *userarg)
{
    dance_resolver_async *ra = userarg;
    uint64_t n;

    while (read(ra->wake_fd, &n, sizeof(n)) < 0 && errno == EINTR)
        ;
}

/* deliver - run q's callback once and free q (loop thread, no lock) */
static void deliver(async_req *q, dance_tlsa_result *answer, int cancelled)
{
    q->fn(q->arg, q->owner, answer, cancelled);
    dance_tlsa_result_clear(answer);
    free(q);
}

/* cancel_unstarted - a request that never started gets "cancelled" */
static void cancel_unstarted(async_req *q)
{
    dance_tlsa_result res;

    memset(&res, 0, sizeof(res));
    dance_tlsa_result_clear(&res);
    dance_set_err(res.reason, sizeof(res.reason), "TLSA lookup for %s failed: "
                  "the query was cancelled", q->owner);
    deliver(q, &res, 1);
}

/* start_queued - start lookups from the FIFO while there is room */
static void start_queued(dance_resolver_async *ra)
{
    while (ra->fifo.head != NULL && ra->ninflight < ra->max_inflight) {
        async_req *q = ra->fifo.head;

        list_unlink(&ra->fifo, q);
        list_append(&ra->inflight, q);
        ra->ninflight++;
        atomic_fetch_sub(&ra->stat_queued, 1);
        atomic_fetch_add(&ra->stat_inflight, 1);
        resolver_lookup_start(ra->r, &q->lk, q->owner);
    }
}

/* settle_ready - every lookup whose attempt ended: retry or answer; frees
 * slots, so queued lookups start as answers go */
static void settle_ready(dance_resolver_async *ra)
{
    resolver_lookup *lk;

    while ((lk = resolver_ready_pop(ra->r)) != NULL) {
        async_req *q = lookup_req(lk);
        dance_tlsa_result answer;

        if (!resolver_lookup_settle(ra->r, lk))
            continue;                   /* next upstream asked */
        list_unlink(&ra->inflight, q);
        ra->ninflight--;
        atomic_fetch_sub(&ra->stat_inflight, 1);
        answer = lk->result;            /* moves the records */
        memset(&lk->result, 0, sizeof(lk->result));
        deliver(q, &answer, 0);
        start_queued(ra);
    }
}

/* shut_down - stopping: cancel what is in flight, then what waits */
static void shut_down(dance_resolver_async *ra)
{
    async_req *q;

    while ((q = ra->inflight.head) != NULL) {
        dance_tlsa_result answer;

        list_unlink(&ra->inflight, q);
        resolver_lookup_cancel(ra->r, &q->lk);
        ra->ninflight--;
        atomic_fetch_sub(&ra->stat_inflight, 1);
        answer = q->lk.result;
        memset(&q->lk.result, 0, sizeof(q->lk.result));
        deliver(q, &answer, 1);
    }
    while ((q = ra->fifo.head) != NULL) {
        list_unlink(&ra->fifo, q);
        atomic_fetch_sub(&ra->stat_queued, 1);
        cancel_unstarted(q);
    }
    if (ra->wake_ev.ev != NULL)
        (void)resolver_loop(ra->r)->vmt->clear(resolver_loop(ra->r), &ra->wake_ev);
}

static void *loop_main(void *arg)
{
    dance_resolver_async *ra = arg;
    getdns_eventloop *loop = resolver_loop(ra->r);

    for (;;) {
        req_list taken = { NULL, NULL };
        bool stopping;

        pthread_mutex_lock(&ra->lock);
        taken = ra->submitted;
        ra->submitted.head = ra->submitted.tail = NULL;
        stopping = ra->stopping;
        pthread_mutex_unlock(&ra->lock);
        list_splice(&ra->fifo, &taken);
        if (stopping)
            break;
        start_queued(ra);
        settle_ready(ra);
        /* blocks until a socket, a deadline or the eventfd is ready; the
         * eventfd stays readable until wake_cb reads it, so a submit made
         * after the list was taken is never missed */
        loop->vmt->run_once(loop, 1);
        settle_ready(ra);
    }
    shut_down(ra);
    return NULL;
}

dance_resolver_async *dance_resolver_async_start(const dance_resolver_config *cfg,
                                                 unsigned max_inflight,
                                                 char *err, size_t errlen)
{
    dance_resolver_async *ra = calloc(1, sizeof(*ra));
    getdns_eventloop *loop;
    sigset_t all, old;
    int rc;

    if (ra == NULL) {
        dance_set_err(err, errlen, "out of memory creating the resolver");
        return NULL;
    }
    ra->max_inflight = max_inflight > 0 ? max_inflight : 1;
    ra->wake_fd = -1;
    atomic_init(&ra->stat_queued, 0);
    atomic_init(&ra->stat_inflight, 0);
    ra->r = dance_resolver_new(cfg, err, errlen);
    if (ra->r == NULL) {
        free(ra);
        return NULL;
    }
    ra->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ra->wake_fd < 0) {
        dance_set_err(err, errlen, "cannot create the resolver's wake-up "
                      "eventfd: %s", strerror(errno));
        goto fail;
    }
    loop = resolver_loop(ra->r);
    ra->wake_ev.userarg = ra;
    ra->wake_ev.read_cb = wake_cb;
    if (loop->vmt->schedule(loop, ra->wake_fd, ASYNC_NO_TIMEOUT, &ra->wake_ev)
        != GETDNS_RETURN_GOOD) {
        dance_set_err(err, errlen, "cannot register the resolver's wake-up "
                      "with the getdns event loop");
        goto fail;
    }
    if (pthread_mutex_init(&ra->lock, NULL) != 0) {
        dance_set_err(err, errlen, "cannot create the resolver's lock");
        goto fail;
    }
    /* Signals belong to the host's threads (a broker handles SIGHUP and
     * SIGTERM on its own): the loop thread starts with all blocked. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&ra->thread, NULL, loop_main, ra);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_mutex_destroy(&ra->lock);
        dance_set_err(err, errlen, "cannot start the resolver thread: %s",
                      strerror(rc));
        goto fail;
    }
    return ra;

fail:
    if (ra->wake_ev.ev != NULL)
        (void)resolver_loop(ra->r)->vmt->clear(resolver_loop(ra->r), &ra->wake_ev);
    if (ra->wake_fd >= 0)
        close(ra->wake_fd);
    dance_resolver_free(ra->r);
    free(ra);
    return NULL;
}

int dance_resolver_async_submit(dance_resolver_async *ra, const char *owner,
                                dance_resolver_answer_fn fn, void *arg)
{
    size_t len;
    async_req *q;

    if (ra == NULL || fn == NULL || owner == NULL || owner[0] == '\0')
        return -1;
    len = strlen(owner);
    q = calloc(1, sizeof(*q) + len + 1);
    if (q == NULL)
        return -1;
    q->fn = fn;
    q->arg = arg;
    memcpy(q->owner, owner, len + 1);

    pthread_mutex_lock(&ra->lock);
    if (ra->stopping) {
        pthread_mutex_unlock(&ra->lock);
        free(q);
        return -1;
    }
    list_append(&ra->submitted, q);
    atomic_fetch_add(&ra->stat_queued, 1);
    pthread_mutex_unlock(&ra->lock);
    wake(ra);
    return 0;
}

void dance_resolver_async_get_stats(dance_resolver_async *ra,
                                    dance_resolver_async_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (ra == NULL)
        return;
    out->queued = atomic_load(&ra->stat_queued);
    out->inflight = atomic_load(&ra->stat_inflight);
}

void dance_resolver_async_stop(dance_resolver_async *ra)
{
    if (ra == NULL)
        return;
    pthread_mutex_lock(&ra->lock);
    ra->stopping = true;
    pthread_mutex_unlock(&ra->lock);
    wake(ra);
    pthread_join(ra->thread, NULL);
    pthread_mutex_destroy(&ra->lock);
    close(ra->wake_fd);
    dance_resolver_free(ra->r);
    free(ra);
}
