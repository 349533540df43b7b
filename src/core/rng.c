/* rng.c — the library's host random numbers (initial weights, dropout seeds, every shuffle of
 * src/nn and src/io): splitmix64 seeds xoshiro256**. Every generator is a value owned by its
 * caller: no global state, so the same seed gives the same numbers on every run and thread. */
#include <math.h>

#include "internal.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void clnn__rng_seed(clnn__rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

void clnn__rng_seed_stream(clnn__rng *r, uint64_t seed, uint64_t stream)
{
    clnn__rng_seed(r, seed ^ (stream * 0xd1342543de82ef95ull + 0x2545f4914f6cdd1dull));
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t clnn__rng_next(clnn__rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double clnn__rng_uniform(clnn__rng *r)
{
    return (double)(clnn__rng_next(r) >> 11) * 0x1.0p-53;
}

double clnn__rng_normal(clnn__rng *r)
{
    double u1 = clnn__rng_uniform(r), u2 = clnn__rng_uniform(r);
    if (u1 < 0x1.0p-60)
        u1 = 0x1.0p-60;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

uint64_t clnn__rng_below(clnn__rng *r, uint64_t bound)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound, v;
    do
        v = clnn__rng_next(r);
    while (v >= limit);
    return v % bound;
}

void clnn__permutation(int64_t *order, int64_t n, clnn__rng *r)
{
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)clnn__rng_below(r, (uint64_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}
