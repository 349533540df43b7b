/* rng.c — the random numbers of src/nn (initial weights, dropout seeds, shuffling): splitmix64
 * seeds xoshiro256**, as src/io/dataset.c does. Every generator is a value owned by its caller:
 * no global state, so the same seed gives the same numbers on every run and thread. */
#include <math.h>

#include "nn.h"

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
