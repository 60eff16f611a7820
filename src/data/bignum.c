/* bignum.c: the little arithmetic on non-negative integers of any size that
 * the binary tasks need (their numbers have up to n bits): conversion from
 * and to bits, sum, product and integer square root.
 *
 * A number is an array of 32-bit words, least significant first; its length
 * counts words up to the highest nonzero one (0 has length 0).
 */
#include "data_internal.h"

#include <string.h>

/* Length of a[0 .. n-1] without its high zero words. */
static int trimmed_len(const uint32_t *a, int n) {
    while (n > 0 && a[n - 1] == 0) n--;
    return n;
}

int rg_big_from_bits(const int *first, int nbits, int stride, uint32_t *out) {
    int words = rg_big_words(nbits);
    memset(out, 0, (size_t)words * sizeof *out);
    for (int i = 0; i < nbits; i++)
        if (first[(long)i * stride]) out[i / 32] |= (uint32_t)1 << (i % 32);
    return trimmed_len(out, words);
}

static int top_bit_count(const uint32_t *a, int na) { /* bits up to the highest 1 */
    if (na == 0) return 0;
    int bits = 32 * (na - 1);
    for (uint32_t w = a[na - 1]; w; w >>= 1) bits++;
    return bits;
}

int rg_big_to_bits(const uint32_t *a, int na, int *bits) {
    int nb = top_bit_count(a, na);
    if (nb == 0) {
        bits[0] = 0;
        return 1;
    }
    for (int i = 0; i < nb; i++) bits[i] = (int)(a[i / 32] >> (i % 32) & 1);
    return nb;
}

void rg_big_to_fixed_bits(const uint32_t *a, int na, int *first, int nbits, int stride) {
    for (int i = 0; i < nbits; i++)
        first[(long)i * stride] = i / 32 < na ? (int)(a[i / 32] >> (i % 32) & 1) : 0;
}

int rg_big_add(const uint32_t *a, int na, const uint32_t *b, int nb, uint32_t *out) {
    int n = na > nb ? na : nb;
    uint64_t carry = 0;
    for (int i = 0; i < n; i++) {
        uint64_t s = carry + (i < na ? a[i] : 0) + (i < nb ? b[i] : 0);
        out[i] = (uint32_t)s;
        carry = s >> 32;
    }
    out[n] = (uint32_t)carry;
    return trimmed_len(out, n + 1);
}

int rg_big_mul(const uint32_t *a, int na, const uint32_t *b, int nb, uint32_t *out) {
    memset(out, 0, (size_t)(na + nb) * sizeof *out);
    for (int i = 0; i < na; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < nb; j++) {
            uint64_t t = (uint64_t)a[i] * b[j] + out[i + j] + carry;
            out[i + j] = (uint32_t)t;
            carry = t >> 32;
        }
        out[i + nb] = (uint32_t)carry;
    }
    return trimmed_len(out, na + nb);
}

/* a = a * 2^k + add (k <= 2, add < 2^k), in place; a has room for one more
 * word; returns the new length. */
static int shift_in(uint32_t *a, int na, int k, uint32_t add) {
    uint32_t carry = add;
    for (int i = 0; i < na; i++) {
        uint32_t w = a[i];
        a[i] = w << k | carry;
        carry = w >> (32 - k);
    }
    a[na] = carry;
    return trimmed_len(a, na + 1);
}

static int compare(const uint32_t *a, int na, const uint32_t *b, int nb) {
    if (na != nb) return na < nb ? -1 : 1;
    for (int i = na - 1; i >= 0; i--)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

/* a -= b where a >= b; returns a's new length. */
static int subtract(uint32_t *a, int na, const uint32_t *b, int nb) {
    int64_t borrow = 0;
    for (int i = 0; i < na; i++) {
        int64_t d = (int64_t)a[i] - (i < nb ? b[i] : 0) - borrow;
        borrow = d < 0;
        a[i] = (uint32_t)(d + (borrow << 32));
    }
    return trimmed_len(a, na);
}

/* Digit by digit in base 4: with the root y and remainder r of the leading
 * pairs of bits, bring down the next pair (r = 4r + pair) and try the next
 * root bit 1: it fits when r >= 4y + 1, then r -= 4y + 1 and y = 2y + 1;
 * otherwise y = 2y. */
int rg_big_isqrt(const uint32_t *a, int na, uint32_t *out, uint32_t *work) {
    int bits = top_bit_count(a, na), pairs = (bits + 1) / 2;
    uint32_t *r = work, *t = work + na + 2;
    int nr = 0, ny = 0, room = na + 2;
    memset(r, 0, (size_t)room * sizeof *r);
    memset(out, 0, (size_t)room * sizeof *out);
    for (int p = pairs - 1; p >= 0; p--) {
        int i = 2 * p; /* bits i+1 and i of a */
        uint32_t pair = (a[(i + 1) / 32] >> ((i + 1) % 32) & 1) << 1 | (a[i / 32] >> (i % 32) & 1);
        nr = shift_in(r, nr, 2, pair);
        memcpy(t, out, (size_t)ny * sizeof *t);
        int nt = shift_in(t, ny, 2, 1);
        if (compare(r, nr, t, nt) >= 0) {
            nr = subtract(r, nr, t, nt);
            ny = shift_in(out, ny, 1, 1);
        } else {
            ny = shift_in(out, ny, 1, 0);
        }
    }
    return ny;
}
