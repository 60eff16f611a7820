/* maps.h: attention maps of a checkpoint, as `relgrad attention` and the
 * experiment report make them: one evaluation example at a length and at
 * twice it, written to HDF5 (inspect.h) and drawn by tools/attention_maps.py. */
#ifndef RELGRAD_CLI_MAPS_H
#define RELGRAD_CLI_MAPS_H

#include "relgrad/inspect.h"

#include <stdio.h>

/* Load ckpt (its config, with len and 2 len as evaluation lengths; len 0 =
 * its train_len), compute example k's maps at both and write them to h5.
 * Prints one line per length (mean attended distance and entropy per layer
 * and head) to out when it is not NULL. 0, or 2 with err. */
int rg_attention_of_checkpoint(const char *ckpt, int len, int example, const char *h5, FILE *out,
                               rg_error *err);

/* tools/attention_maps.py H5 PNG [TITLE] through /usr/bin/python3. 0, or -1
 * with why. */
int rg_draw_attention(const char *h5, const char *png, const char *title, char *why, size_t n);

#endif
