/*
 * plugin/waitbudget.h - how long the broker thread may wait for DNS.
 *
 * Mosquitto 2.0 has no way to answer a CONNECT later, so a cold lookup is
 * either waited for on the broker thread (stalling every client) or
 * refused as "pending" (the device retries and finds the cache warm).
 * One device on a quiet broker should simply get in; a storm of cold
 * devices must not turn into one stall after another. So waiting draws on
 * a credit: it holds at most connect_budget_ms (one connect never waits
 * longer) and refills at MDP_WAIT_SHARE_PERMILLE of elapsed time, which
 * bounds the share of its time the broker thread spends waiting, however
 * many cold devices arrive. Pure code (no Mosquitto, no clock): the caller
 * passes monotonic milliseconds.
 */
#ifndef MDP_WAITBUDGET_H
#define MDP_WAITBUDGET_H

#include <stdint.h>

/* At most 1/10 of the broker thread's time goes to waiting for DNS. */
#define MDP_WAIT_SHARE_PERMILLE 100u

/* Waiting is for a device that comes (nearly) alone: with more lookups
 * than this under way, its own included, many cold devices are arriving,
 * and a wait would only stall the broker while they queue behind it (each
 * gets in on its retry either way). Measured in the 2,000-device storm of
 * scripts/bench: waiting within the credit alone made it 2.2 times as long
 * as stock Mosquitto's, not waiting 1.4 times. */
#define MDP_WAIT_ALONE_MAX 4u

typedef struct mdp_wait_budget {
    uint64_t cap_us;        /* connect_budget_ms, in microseconds */
    uint64_t credit_us;     /* waiting allowed now */
    uint64_t last_ms;       /* when credit was last refilled */
} mdp_wait_budget;

/* mdp_wait_budget_init - full credit (the first cold device after a
 * quiet spell may wait the whole budget). budget_ms 0: never wait. */
void mdp_wait_budget_init(mdp_wait_budget *b, unsigned budget_ms, uint64_t now_ms);

/* mdp_wait_budget_allow - refill for the time since the last call and
 * return how many whole milliseconds the caller may wait now (0: do not
 * wait, refuse as pending). */
unsigned mdp_wait_budget_allow(mdp_wait_budget *b, uint64_t now_ms);

/* mdp_wait_budget_spend - take what was actually waited (the answer
 * may come before the allowance runs out). */
void mdp_wait_budget_spend(mdp_wait_budget *b, uint64_t waited_ms);

#endif
