/*
 * plugin/waitbudget.c - the broker thread's credit for waiting on DNS
 * (why: waitbudget.h). Written by hand: a token bucket is a few lines and
 * no dependency of ours has one.
 */
#include "waitbudget.h"

void mdp_wait_budget_init(mdp_wait_budget *b, unsigned budget_ms, uint64_t now_ms)
{
    b->cap_us = (uint64_t)budget_ms * 1000u;
    b->credit_us = b->cap_us;
    b->last_ms = now_ms;
}

unsigned mdp_wait_budget_allow(mdp_wait_budget *b, uint64_t now_ms)
{
    if (now_ms > b->last_ms) {
        uint64_t elapsed = now_ms - b->last_ms;
        /* elapsed ms * permille = microseconds of credit; saturate long
         * idle spells at the cap before multiplying */
        if (elapsed >= b->cap_us / MDP_WAIT_SHARE_PERMILLE + 1)
            b->credit_us = b->cap_us;
        else {
            b->credit_us += elapsed * MDP_WAIT_SHARE_PERMILLE;
            if (b->credit_us > b->cap_us)
                b->credit_us = b->cap_us;
        }
        b->last_ms = now_ms;
    }
    return (unsigned)(b->credit_us / 1000u);
}

void mdp_wait_budget_spend(mdp_wait_budget *b, uint64_t waited_ms)
{
    uint64_t us = waited_ms * 1000u;

    b->credit_us = us >= b->credit_us ? 0 : b->credit_us - us;
}
