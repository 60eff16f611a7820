/* attention_file.c: attention maps (inspect.h) as an HDF5 file, written
 * atomically like every other file relgrad writes (layout: docs/format.md;
 * the root's config attributes include arch, which says whether the maps
 * are causal or both ways). */
#include "io_internal.h"
#include "relgrad/inspect.h"

#include <stdio.h>

static int write_map(hid_t f, const rg_config *cfg, const rg_attention_map *a, const char *path,
                     rg_error *err) {
    char name[32];
    snprintf(name, sizeof name, "len_%d", a->len);
    hid_t g = rg_io_group(f, name, path, err);
    if (g < 0) return 2;
    hsize_t T = (hsize_t)a->T;
    int rc = rg_io_attr_int(g, "length", a->len, path, err);
    if (!rc) rc = rg_io_attr_int(g, "example", a->example, path, err);
    if (!rc) rc = rg_io_attr_int(g, "prompt_len", a->prompt_len, path, err);
    if (!rc) rc = rg_io_attr_int(g, "train_len", cfg->train_len, path, err);
    if (!rc) rc = rg_io_attr_int(g, "n_real", a->n_real, path, err);
    if (!rc)
        rc = rg_io_write(g, "tokens", H5T_STD_I32LE, H5T_NATIVE_INT, 1, &T, a->tokens, path, err);
    if (!rc)
        rc = rg_io_write(g, "positions", H5T_STD_I32LE, H5T_NATIVE_INT, 1, &T, a->positions, path,
                         err);
    if (!rc)
        rc = rg_io_write_reals(g, "probs", 4, (int[]){a->L, a->H, a->T, a->T}, a->probs, true, path,
                               err);
    hsize_t lh[2] = {(hsize_t)a->L, (hsize_t)a->H};
    if (!rc)
        rc = rg_io_write(g, "mean_distance", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, lh,
                         a->mean_distance, path, err);
    if (!rc)
        rc = rg_io_write(g, "entropy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, lh, a->entropy, path,
                         err);
    if (!rc)
        rc = rg_io_write(g, "left_share", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, lh, a->left_share,
                         path, err);
    if (!rc)
        rc = rg_io_write(g, "right_share", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, lh, a->right_share,
                         path, err);
    H5Gclose(g);
    return rc;
}

int rg_attention_maps_write(const char *path, const rg_config *cfg, const char *source,
                            const rg_attention_map *maps, int n_maps, rg_error *err) {
    rg_io_quiet();
    rg_io_atomic a;
    if (rg_io_atomic_begin(&a, path, err)) return 2;
    hid_t f = rg_io_create(&a, err);
    int rc = f < 0 ? 2 : 0;
    if (!rc) rc = rg_io_attr_string(f, "format", "relgrad-attention", path, err);
    if (!rc) rc = rg_io_attr_int(f, "format_version", RG_FORMAT_VERSION, path, err);
    if (!rc) rc = rg_io_attr_string(f, "source", source, path, err);
    if (!rc) rc = rg_io_write_config(f, cfg, path, err);
    for (int i = 0; i < n_maps && !rc; i++) rc = write_map(f, cfg, &maps[i], path, err);
    return rg_io_finish(f, rc, &a, err);
}
