/* train_set.c: the fixed training set of Kazemnejad et al. 2023
 * (train_examples = N): N examples made once, walked through in a fresh
 * random order every epoch.
 *
 * What their code does (McGill-NLP/length-generalization,
 * scripts/dataset_builders/make_*_dataset.py and the Hugging Face trainer)
 * and what this file follows:
 *   - The dataset is written once, with one fixed seed, and every run (every
 *     model seed, every scheme) trains on the same file: here the examples
 *     come from rg_train_set_seed(), the same for every model seed.
 *   - Lengths are spread evenly over the training lengths (a bin per length
 *     with the same count, about 1.15 N in all, shuffled, N kept for
 *     training): here example i has length 1 + i mod train_len, so the
 *     counts differ by at most one.
 *   - Training shuffles the set anew every epoch with the run's seed (a
 *     seeded random sampler): here epoch e's order is a Fisher-Yates
 *     permutation from rg_train_order_seed(seed, e).
 *   - With index hints, each example's hint offset is drawn when the set is
 *     made (from the set's generator) and kept, as in a dataset file.
 *   - Their last batch of an epoch is short (drop_last = False); here every
 *     batch has B examples and a batch that crosses an epoch's end takes the
 *     first examples of the next epoch's order, so batch k is examples
 *     k*B .. k*B+B-1 of the epochs one after another.
 */
#include "data_internal.h"

#include <stdlib.h>
#include <string.h>

void rg_train_set_init(rg_train_set *s, const rg_data_spec *spec, int n_examples, int train_len,
                       int seed) {
    if (n_examples < 1 || train_len < 1 || spec->lengths != RG_LENGTHS_PER_EXAMPLE)
        rg_die("rg_train_set_init: %d examples of lengths 1..%d (lengths per %s)", n_examples,
               train_len, spec->lengths == RG_LENGTHS_PER_EXAMPLE ? "example" : "batch");
    memset(s, 0, sizeof *s);
    s->spec = *spec, s->n_examples = n_examples, s->train_len = train_len, s->seed = seed;
    s->len = rg_xmalloc((size_t)n_examples * sizeof *s->len, "the training set's lengths");
    s->scored = rg_xmalloc((size_t)n_examples * sizeof *s->scored, "the training set");
    s->start = rg_xmalloc(((size_t)n_examples + 1) * sizeof *s->start, "the training set");
    s->order = rg_xmalloc((size_t)n_examples * sizeof *s->order, "the training set's order");
    s->order_epoch = -1;
    long total = 0;
    for (int i = 0; i < n_examples; i++) {
        int n = 1 + i % train_len;
        s->len[i] = n;
        s->start[i] = total;
        total += rg_spec_input_len(spec, n) + rg_spec_out_len(spec, n);
    }
    s->start[n_examples] = total;
    s->tokens = rg_xmalloc((size_t)total * sizeof *s->tokens, "the training set's examples");
    uint32_t *work = rg_xmalloc(rg_task_work_len(train_len) * sizeof *work, "numbers");
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_set_seed());
    for (int i = 0; i < n_examples; i++) {
        int *x = s->tokens + s->start[i];
        s->scored[i] =
            rg_example_draw(spec, s->len[i], &rng, x, x + rg_spec_input_len(spec, s->len[i]), work);
    }
    free(work);
}

void rg_train_set_free(rg_train_set *s) {
    free(s->len);
    free(s->start);
    free(s->tokens);
    free(s->scored);
    free(s->order);
    memset(s, 0, sizeof *s);
}

/* s->order = epoch e's permutation of 0 .. N-1 (kept until another epoch
 * is asked for). */
static void order_of_epoch(rg_train_set *s, long e) {
    if (s->order_epoch == e) return;
    int N = s->n_examples;
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_order_seed(s->seed, e));
    for (int i = 0; i < N; i++) s->order[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int j = rg_rng_int(&rng, 0, i), t = s->order[i];
        s->order[i] = s->order[j], s->order[j] = t;
    }
    s->order_epoch = e;
}

void rg_train_set_batch(rg_train_set *s, long k, int B, rg_batch *b) {
    if (k < 0 || B < 1) rg_die("rg_train_set_batch: batch %ld of %d examples", k, B);
    const rg_data_spec *spec = &s->spec;
    int N = s->n_examples;
    rg_batch_reserve(b, spec, B, s->train_len);
    /* which example each row holds: lengths first (they set the width) */
    long first = k * (long)B;
    for (int i = 0; i < B; i++) {
        long g = first + i;
        order_of_epoch(s, g / N);
        b->in_len[i] = s->len[s->order[g % N]];
    }
    rg_batch_set_rows(b, spec, B);
    for (int i = 0; i < B; i++) {
        long g = first + i;
        order_of_epoch(s, g / N);
        int e = s->order[g % N], n = s->len[e];
        int in_len = rg_spec_input_len(spec, n), m = rg_spec_out_len(spec, n);
        const int *xy = s->tokens + s->start[e];
        int *tok = b->tokens + (long)i * b->T;
        memcpy(tok + 1, xy, (size_t)in_len * sizeof *tok);
        memcpy(tok + in_len + 2, xy + in_len, (size_t)m * sizeof *tok);
        rg_batch_finish_row(b, i, spec, s->scored[e]);
    }
}
