/*
 * bench/bench_replaymem.c - figure replay-memory: resident memory per
 * message held in the message replay cache, the number that sizes
 * plugin_opt_replay_cache_size.
 *
 *   bench_replaymem [--messages N] [--per-sender K]
 *
 * Fills a dance_replay (capacity N, window 600 s) with N entries as the
 * verifier makes them: per sender (d<i>._device.acme.example, N / K
 * senders, K messages each, in turn) the key of a message without jti,
 * "sha256:" and 64 hex digits. RSS is read before and after. Output lines:
 *   messages N
 *   senders S
 *   replay_bytes <per message>     (RSS after - RSS before) / N
 *   data_bytes <per message>       the key and the sender's name over its
 *                                  K messages, the baseline
 *   entries <entries held> evicted <entries forgotten early>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "dance/replay.h"

int main(int argc, char **argv)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 1000000, per = 10, senders, data_bytes = 0, rss0, rss1;
    dance_replay *rp;
    dance_replay_stats st;
    char name[64], key[7 + 64 + 1];

    bu_set_prog(argv[0]);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--messages") == 0) {
            n = (size_t)bu_arg_long(argv[i], v, 1000, 100000000);
            i++;
        } else if (strcmp(argv[i], "--per-sender") == 0) {
            per = (size_t)bu_arg_long(argv[i], v, 1, 1000000);
            i++;
        } else {
            fprintf(stderr, "usage: bench_replaymem [--messages N] [--per-sender K]\n");
            return 2;
        }
    }
    senders = n / per ? n / per : 1;
    rp = dance_replay_new(n, 600, NULL, NULL);
    if (rp == NULL)
        bu_die("cannot make the replay cache");
    memcpy(key, "sha256:", 7);
    rss0 = bu_rss_bytes();
    for (size_t i = 0; i < n; i++) {
        /* a digest-like key: distinct, spread over the hash space */
        unsigned long long h = (unsigned long long)i * 0x9e3779b97f4a7c15ull;

        snprintf(name, sizeof(name), "d%zu._device.acme.example", i % senders);
        for (size_t j = 0; j < 64; j++) {
            key[7 + j] = hex[h & 15];
            h = (h >> 4) | (h << 60);
            if (j == 15 || j == 31 || j == 47)
                h ^= (unsigned long long)i * 0xbf58476d1ce4e5b9ull + j;
        }
        key[7 + 64] = '\0';
        if (dance_replay_check_add(rp, name, key) != 0)
            bu_die("message %zu was taken for a replay or not stored", i);
        data_bytes += strlen(key) + (i < senders ? strlen(name) : 0);
    }
    rss1 = bu_rss_bytes();
    dance_replay_get_stats(rp, &st);
    printf("messages %zu\n", n);
    printf("senders %zu\n", senders);
    printf("replay_bytes %.1f\n", (double)(rss1 - rss0) / (double)n);
    printf("data_bytes %.1f\n", (double)data_bytes / (double)n);
    printf("entries %llu evicted %llu\n", (unsigned long long)st.entries,
           (unsigned long long)st.evicted_early);
    dance_replay_free(rp);
    return 0;
}
