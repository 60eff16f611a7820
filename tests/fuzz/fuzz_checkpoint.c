/* fuzz_checkpoint.c: libFuzzer target for the checkpoint reader
 * (src/io/checkpoint.c, src/io/hdf5.c).
 *
 * The input is a checkpoint file: rg_checkpoint_read_config, then (when the
 * config it holds is valid and the model small) rg_model_init and
 * rg_checkpoint_load with optimizer and rng, as `relgrad train` does when
 * it resumes. Nothing may crash, leak or hit undefined behaviour; every
 * failure must return 2 with a message naming the file.
 *
 * Only relgrad is instrumented: HDF5 is the system library, so a memory
 * error inside HDF5 shows only if it crashes. Models over ~4M values are
 * skipped (what a huge config does is not this target's question).
 *
 * Built and run by tools/fuzz.sh checkpoint SECONDS; seeds in
 * corpus_checkpoint/ (small checkpoints written by relgrad train, and
 * truncated copies).
 */
#define _GNU_SOURCE
#include "relgrad/io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

/* HDF5 cannot open a memfd through /proc/self/fd/N, so the input goes to a
 * real file: $TMPDIR/fuzz_checkpoint.<pid>.h5, removed at exit. */
static int mem_fd = -1;
static char mem_path[512];

static void remove_file(void) {
    unlink(mem_path);
}

static void expect_error(int rc, const rg_error *err, const char *what) {
    if (rc != 2) {
        fprintf(stderr, "fuzz_checkpoint: %s returned %d, expected 0 or 2\n", what, rc);
        abort();
    }
    if (!memchr(err->msg, '\0', sizeof err->msg) || !strstr(err->msg, mem_path)) {
        fprintf(stderr, "fuzz_checkpoint: %s: message does not name the file: %.1023s\n", what,
                err->msg);
        abort();
    }
}

/* A rough count of the model's values, in double (no overflow). */
static double model_values(const rg_config *cfg) {
    const rg_model_config *c = &cfg->model;
    double d = c->d_model, F = c->d_ff, V = c->n_symbols + 4.0;
    double per_layer = 12 * d * d + 2 * d * F + 10 * d + F + (3 + c->n_heads) * c->opts.fire_width;
    return c->n_layers * per_layer + 2 * V * d + (double)c->opts.max_positions * d +
           (double)c->opts.t5_buckets * c->n_heads + 2.0 * c->opts.deberta_span * d;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(mem_path, sizeof mem_path, "%s/fuzz_checkpoint.%ld.h5", tmp && *tmp ? tmp : "/tmp",
             (long)getpid());
    mem_fd = open(mem_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (mem_fd < 0) {
        perror(mem_path);
        abort();
    }
    atexit(remove_file);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (ftruncate(mem_fd, 0) || (size && pwrite(mem_fd, data, size, 0) != (ssize_t)size)) abort();
    rg_config cfg;
    rg_error err;
    rg_config_defaults(&cfg);
    int rc = rg_checkpoint_read_config(mem_path, &cfg, &err);
    if (rc) {
        expect_error(rc, &err, "rg_checkpoint_read_config");
        return 0;
    }
    if (rg_config_validate(&cfg, mem_path, &err)) return 0;
    if (model_values(&cfg) > 4e6 || cfg.model.n_layers > 64) return 0;
    rg_model m;
    if (rg_model_init(&m, &cfg.model, 0, &err)) {
        rg_model_free(&m);
        return 0;
    }
    rg_adamw opt;
    rg_adamw_init(&opt, &m, cfg.weight_decay);
    rg_rng rng;
    rc = rg_checkpoint_load(mem_path, &m, &opt, &rng, &err);
    if (rc) expect_error(rc, &err, "rg_checkpoint_load");
    /* and without optimizer and rng, as `relgrad eval` loads */
    rc = rg_checkpoint_load(mem_path, &m, NULL, NULL, &err);
    if (rc) expect_error(rc, &err, "rg_checkpoint_load (params only)");
    rg_adamw_free(&opt);
    rg_model_free(&m);
    return 0;
}
