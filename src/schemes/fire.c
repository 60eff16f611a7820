/* fire.c: FIRE, functional interpolation for relative positions (Li et al.
 * 2023), the scheme of Zhou et al. 2024's length generalization on addition:
 *     S[i,j] = q_i . k_j / sqrt(dh) + f(z)[h]
 *     z = psi(p_i - p_j) / (psi(max(p_i, thr)) + 1e-6),  psi(x) = log(|c x| + 1),
 *     thr = |L * fire_L|,  f = fc2(relu(fc1(z))): 1 -> fire_width -> H
 * with per-layer parameters attn.fire.fc1.weight [W,1], .fc1.bias [W],
 * .fc2.weight [H,W], .fc2.bias [H], .c [1] (starts at 0.1) and .L [1]
 * (starts at 1). Dividing by psi of the query's own position is FIRE's
 * progressive interpolation: z stays in [0, 1] at any length.
 *
 * The bias is the op rg_fire_bias (ops/position.c, forward and backward of
 * the whole per-pair function), handed to the kernel as a bias term. */
#include "scheme.h"

#include <stddef.h>
#include <stdio.h>

enum { FC1_W, FC1_B, FC2_W, FC2_B, C, L }; /* its parameters in each layer */

static const rg_key_info KEYS[] = {
    {.name = "fire_width",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = offsetof(rg_scheme_opts, fire_width),
     .lo = 1,
     .hi = 256,
     .def = "32",
     .flags = RG_KEY_SCHEME,
     .help = "hidden width of FIRE's MLP; 1 .. 256"},
    {.name = "fire_L",
     .group = "model",
     .type = RG_KEY_REAL,
     .kind = RG_V_REAL,
     .offset = offsetof(rg_scheme_opts, fire_L),
     .lo = 0,
     .open = true,
     .def = "512",
     .flags = RG_KEY_SCHEME,
     .help = "FIRE's threshold scale: positions below |L * fire_L| are normalized by it; > 0"},
};

static void declare_layer(rg_param_builder *pb, const rg_model_config *mc, int l,
                          rg_tensor **slot) {
    int W = mc->opts.fire_width, H = mc->n_heads;
    char name[RG_NAME_MAX];
#define DECLARE(which, suffix, decay, init, value, ...)                                            \
    snprintf(name, sizeof name, "blocks.%d.attn.fire.%s", l, suffix);                              \
    slot[which] = rg_declare(pb, name, RG_SHAPE(__VA_ARGS__), decay, init, value)
    DECLARE(FC1_W, "fc1.weight", true, RG_INIT_NORMAL, 0, W, 1);
    DECLARE(FC1_B, "fc1.bias", false, RG_INIT_ZEROS, 0, W);
    DECLARE(FC2_W, "fc2.weight", true, RG_INIT_NORMAL, 0, H, W);
    DECLARE(FC2_B, "fc2.bias", false, RG_INIT_ZEROS, 0, H);
    DECLARE(C, "c", false, RG_INIT_CONST, 0.1, 1);
    DECLARE(L, "L", false, RG_INIT_CONST, 1.0, 1);
#undef DECLARE
}

static void scores(rg_scheme_call *call) {
    const int *qpos, *kpos;
    int Bp = rg_dense_positions(call, &qpos, &kpos);
    rg_tensor *const *p = call->params;
    rg_tensor *E =
        rg_fire_bias(call->ctx, qpos, kpos, Bp, call->T, call->Tk, call->diag, p[C], p[L], p[FC1_W],
                     p[FC1_B], p[FC2_W], p[FC2_B], (real)call->opts->fire_L); /* (Bp,H,T,Tk) */
    rg_term *t = rg_bias_term(call->ctx, E, call->B, call->diag);
    if (call->n_terms == RG_MAX_TERMS) rg_die("fire: too many score terms");
    call->terms[call->n_terms++] = t;
}

const rg_scheme rg_scheme_fire = {
    .name = "fire",
    .summary = "a learned MLP of the progressively normalized log distance, per head "
               "(Li et al. 2023)",
    .flags = RG_SCHEME_RELATIVE | RG_SCHEME_SHIFT_VARIANT, /* psi(max(p_i, thr)) */
    .keys = KEYS,
    .n_keys = 2,
    .declare_layer = declare_layer,
    .scores = scores,
};
