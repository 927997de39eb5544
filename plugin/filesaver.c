/*
 * plugin/filesaver.c - the thread that keeps a file up to date
 * (filesaver.h says why a thread and what a crash loses).
 *
 * Locks: mu guards stop and the status; the state has its own lock, which
 * its save function holds only while copying the state into the file's
 * buffer, so a login on the broker thread waits at most that long.
 */
#include "filesaver.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dance/clock.h"

struct mdp_file_saver {
    pthread_mutex_t mu;
    pthread_cond_t cv;              /* signalled on stop */
    pthread_t thread;
    bool stop;
    mdp_file_saver_ops ops;
    void *state;
    const char *path;
    unsigned interval_ms;
    mdp_file_saver_status st;
};

/* save_once - write the file and record the outcome */
static int save_once(mdp_file_saver *s)
{
    char err[DANCE_REASON_MAX];
    int rc;

    err[0] = '\0';
    rc = s->ops.save(s->state, s->path, err, sizeof(err));
    pthread_mutex_lock(&s->mu);
    if (rc == 0) {
        s->st.ok = true;
        s->st.saves++;
        s->st.err[0] = '\0';
    } else {
        s->st.ok = false;
        s->st.failures++;
        memcpy(s->st.err, err, sizeof(s->st.err));
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void *saver_main(void *arg)
{
    mdp_file_saver *s = arg;
    struct timespec until;
    bool retry;

    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        until = dance_clock_deadline_after(s->interval_ms);
        while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT)
            ;
        if (s->stop)
            break;
        retry = !s->st.ok;
        pthread_mutex_unlock(&s->mu);
        if (retry || s->ops.dirty(s->state))
            save_once(s);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

mdp_file_saver *mdp_file_saver_start(const mdp_file_saver_ops *ops, void *state,
                                     const char *path, unsigned interval_ms,
                                     char *err, size_t errlen)
{
    mdp_file_saver *s = calloc(1, sizeof(*s));
    pthread_condattr_t ca;
    int rc;

    if (s == NULL) {
        dance_set_err(err, errlen, "out of memory");
        return NULL;
    }
    s->ops = *ops;
    s->state = state;
    s->path = path;
    s->interval_ms = interval_ms ? interval_ms : MDP_FILE_SAVE_INTERVAL_MS;
    s->st.ok = true;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        dance_set_err(err, errlen, "cannot create a mutex");
        return NULL;
    }
    if (pthread_condattr_init(&ca) != 0
        || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0
        || pthread_cond_init(&s->cv, &ca) != 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        dance_set_err(err, errlen, "cannot create a condition variable");
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    rc = pthread_create(&s->thread, NULL, saver_main, s);
    if (rc != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        dance_set_err(err, errlen, "cannot start the thread that writes %s: %s", path,
                      strerror(rc));
        return NULL;
    }
    return s;
}

void mdp_file_saver_get_status(mdp_file_saver *s, mdp_file_saver_status *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    pthread_mutex_unlock(&s->mu);
}

int mdp_file_saver_stop(mdp_file_saver *s, char *err, size_t errlen)
{
    int rc;

    if (s == NULL)
        return 0;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    rc = save_once(s);
    if (rc != 0)
        dance_set_err(err, errlen, "%s", s->st.err);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return rc;
}
