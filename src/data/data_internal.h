/* data_internal.h: what tasks.c and batch.c share. */
#ifndef RELGRAD_DATA_INTERNAL_H
#define RELGRAD_DATA_INTERNAL_H

#include "relgrad/data.h"

/* BOS <input> SEP y (everything but the final EOS) into seq, with the input
 * drawn from rng; returns the number of tokens written. */
int rg_task_write_input(rg_task task, int n_symbols, int n, rg_rng *rng, int *seq);

#endif
