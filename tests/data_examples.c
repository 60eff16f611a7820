/* data_examples.c: writes batches of task examples as text, for
 * tests/python/test_task_answers.py and tests/python/test_methods_data.py,
 * which check every example against answers they compute themselves.
 *
 * usage: data_examples ARCH TASK DIGITS SEED B MIN_LEN MAX_LEN BATCHES [MUTATE [METHODS]]
 *   ARCH decoder|encoder, DIGITS lsb|msb; the task's own alphabet (or 16)
 *   as n_symbols; batches from rg_train_seed(SEED). MUTATE = 1 puts one
 *   answer token off by one in every row (the first scored one; for a
 *   decoder also where the next position reads it), as a broken generator
 *   would, so the checker can show it catches that. METHODS, a comma list
 *   of hints=H, coupled=P, abacus=K, ns=N and train (draw the offsets and
 *   the shift as training does; else as evaluation), makes each batch as
 *   rg_train_data_batch does: examples with their index hints, coupled
 *   positions, abacus ids.
 * Output: "batch B T", then per row
 *   n seq_len n_tokens | tokens | targets | mask | acc_mask [| positions] [| abacus ids]
 * (positions with coupled=P, abacus ids with abacus=K).
 */
#include "relgrad/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(const char *why) {
    fprintf(stderr,
            "data_examples: %s\nusage: data_examples decoder|encoder TASK lsb|msb SEED B MIN_LEN "
            "MAX_LEN BATCHES [MUTATE [hints=H,coupled=P,abacus=K,ns=N,train]]\n",
            why);
    return 2;
}

static int whole(const char *s, int lo, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < lo || v > 1000000) return -1;
    *out = (int)v;
    return 0;
}

/* One answer token of row i off by one (mod n_symbols). */
static void mutate_row(rg_batch *b, int i, int n_symbols) {
    int T = b->T;
    for (int t = 0; t < T; t++) {
        if (b->acc_mask[(long)i * T + t] == 0) continue;
        int *tgt = &b->targets[(long)i * T + t], old = *tgt;
        *tgt = (old + 1) % n_symbols;
        /* the decoder reads y as input too: the next position's token is it */
        if (b->arch == RG_ARCH_DECODER && t + 1 < T && b->tokens[(long)i * T + t + 1] == old)
            b->tokens[(long)i * T + t + 1] = *tgt;
        return;
    }
}

/* METHODS: "hints=H,coupled=P,abacus=K,ns=N,train" into spec; -1 on a bad item. */
static int methods(char *text, rg_data_spec *spec) {
    for (char *item = strtok(text, ","); item; item = strtok(NULL, ",")) {
        char *eq = strchr(item, '=');
        int v = 0;
        if (eq && whole(eq + 1, 0, &v)) return -1;
        if (!strcmp(item, "train"))
            spec->training = true;
        else if (eq && !strncmp(item, "hints=", 6))
            spec->n_hints = v;
        else if (eq && !strncmp(item, "coupled=", 8))
            spec->coupled_max = v;
        else if (eq && !strncmp(item, "abacus=", 7))
            spec->abacus = v;
        else if (eq && !strncmp(item, "ns=", 3) && v >= 2)
            spec->n_symbols = v;
        else
            return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 9 || argc > 11) return usage("wrong number of arguments");
    rg_data_spec spec = {0};
    if (!strcmp(argv[1], "decoder"))
        spec.arch = RG_ARCH_DECODER;
    else if (!strcmp(argv[1], "encoder"))
        spec.arch = RG_ARCH_ENCODER;
    else
        return usage("ARCH is decoder or encoder");
    int task = rg_task_find(argv[2]);
    if (task < 0) return usage("unknown TASK (see relgrad list tasks)");
    spec.task = (rg_task)task;
    spec.n_symbols = rg_task_alphabet(spec.task) ? rg_task_alphabet(spec.task) : 16;
    if (!strcmp(argv[3], "lsb"))
        spec.digits = RG_DIGITS_LSB;
    else if (!strcmp(argv[3], "msb"))
        spec.digits = RG_DIGITS_MSB;
    else
        return usage("DIGITS is lsb or msb");
    int seed, B, lo, hi, batches, mutate = 0;
    if (whole(argv[4], 0, &seed) || whole(argv[5], 1, &B) || whole(argv[6], 1, &lo) ||
        whole(argv[7], lo, &hi) || whole(argv[8], 1, &batches) ||
        (argc >= 10 && whole(argv[9], 0, &mutate)))
        return usage("SEED >= 0, B >= 1, 1 <= MIN_LEN <= MAX_LEN, BATCHES >= 1, MUTATE 0 or 1");
    if (argc == 11 && methods(argv[10], &spec))
        return usage("METHODS is a comma list of hints=H, coupled=P, abacus=K, ns=N, train");
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(seed));
    rg_batch b;
    rg_batch_init(&b);
    for (int k = 0; k < batches; k++) {
        rg_batch_draw(&b, &spec, B, lo, hi, &rng); /* with the hints */
        if (spec.coupled_max > 0) rg_batch_coupled_positions(&b, &spec, &rng);
        rg_batch_abacus(&b, &spec, &rng);
        printf("batch %d %d\n", b.B, b.T);
        for (int i = 0; i < b.B; i++) {
            if (mutate) mutate_row(&b, i, spec.n_symbols);
            long at = (long)i * b.T;
            printf("%d %d %d |", b.in_len[i], b.seq_len[i], b.n_tokens[i]);
            for (int t = 0; t < b.T; t++) printf(" %d", b.tokens[at + t]);
            printf(" |");
            for (int t = 0; t < b.T; t++) printf(" %d", b.targets[at + t]);
            printf(" |");
            for (int t = 0; t < b.T; t++) printf(" %d", (int)b.mask[at + t]);
            printf(" |");
            for (int t = 0; t < b.T; t++) printf(" %d", (int)b.acc_mask[at + t]);
            if (b.pos) {
                printf(" |");
                for (int t = 0; t < b.T; t++) printf(" %d", b.pos[at + t]);
            }
            if (b.abacus) {
                printf(" |");
                for (int t = 0; t < b.T; t++) printf(" %d", b.abacus[at + t]);
            }
            printf("\n");
        }
    }
    rg_batch_free(&b);
    return 0;
}
