/* cmd_gradcheck.c: `relgrad gradcheck WHAT [key=value ...] [--all] [--break OP]`:
 * the finite-difference check of the test suite (include/relgrad/gradcheck.h,
 * docs/gradcheck.md) from the command line, for one op at sizes you pick or
 * for the whole model with any scheme and sizes. Prints a table per input
 * (or parameter): its worst relative error, where, analytic and numeric;
 * exits 0 when every error is within the documented bound, 4 when one is
 * not, 2 on bad input.
 *
 * --break OP is for seeing the check fail: the backward of the first OP node
 * backward reaches sends 1.001 times its gradient to its first input (a
 * backward observer of the check's own context does it; nothing else in
 * relgrad runs it). */
#include "cli.h"
#include "relgrad/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RG_EXIT_CHECK_FAILED = 4 };

static int usage(FILE *f) {
    char schemes[256];
    fprintf(f,
            "usage: relgrad gradcheck model [CONFIG] [key=value ...] [--all] [--break OP]\n"
            "       relgrad gradcheck OP [size=N ...] [--all] [--break OP]\n"
            "       relgrad gradcheck list\n"
            "  model: the whole model of CONFIG (default experiments/gradcheck.ini, a tiny\n"
            "         model); config keys change it (pos=..., d_model=..., mem_len=...,\n"
            "         random_positions=L); B= and T= set the batch (default 2 x 5), seed= the\n"
            "         initialisation\n"
            "  OP:    one op (list shows them and their size keys)\n"
            "  --all: print every entry (value, analytic, numeric, error)\n"
            "  --break OP: perturb OP's backward by 0.1%% (to see a failure)\n"
            "  schemes: %s\n"
            "exit status: 0 within the bound (docs/gradcheck.md), 4 above it, 2 bad input\n",
            rg_scheme_names_text(schemes, sizeof schemes));
    return f == stdout ? RG_EXIT_OK : RG_EXIT_BAD_INPUT;
}

/* ---- --break: a deliberately wrong backward ------------------------------------------------ */

typedef struct {
    const char *op; /* node name to break           */
    bool fired;     /* it was reached (once)        */
    rg_tensor *x;   /* its input being perturbed    */
    real *before;   /* that input's gradient before */
} breaker;

static void break_observer(void *arg, rg_ctx *ctx, rg_node *node, bool after) {
    breaker *b = arg;
    (void)ctx;
    if (strcmp(node->op, b->op)) return;
    if (!after) {
        if (b->fired) return;
        for (int i = 0; i < node->n_in && !b->x; i++)
            if (rg_wants_grad(node, i)) b->x = node->in[i];
        if (!b->x) return;
        b->before = rg_xcalloc((size_t)b->x->size, sizeof(real), "a gradient snapshot");
        if (b->x->grad) memcpy(b->before, b->x->grad, (size_t)b->x->size * sizeof(real));
        return;
    }
    if (b->fired || !b->before || !b->x->grad) return;
    for (long j = 0; j < b->x->size; j++) /* what this node sent, times 1.001 */
        b->x->grad[j] += (real)1e-3 * (b->x->grad[j] - b->before[j]);
    b->fired = true;
    free(b->before);
    b->before = NULL;
}

/* ---- printing ------------------------------------------------------------------------------ */

/* flat index k of a tensor as "[i,j,..]" */
static const char *multi_index(const rg_tensor *t, long k, char *buf, size_t n) {
    int idx[RG_MAX_DIMS];
    for (int d = t->ndim - 1; d >= 0; d--) idx[d] = (int)(k % t->shape[d]), k /= t->shape[d];
    size_t at = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && at < n; d++)
        at += (size_t)snprintf(buf + at, n - at, d ? ",%d" : "%d", idx[d]);
    if (at < n) snprintf(buf + at, n - at, "]");
    return buf;
}

static void table_head(const char *what) {
    printf("%-32s %-12s %8s %12s %-12s %24s %24s\n", what, "shape", "entries", "max_rel_err", "at",
           "analytic", "numeric");
}

static void table_row(const char *name, const rg_tensor *t, const rg_gc_input *r, double tol) {
    char shape[64], at[64];
    rg_shape_str(t, shape, sizeof shape);
    if (r->n_checked == 0) {
        printf("%-32s %-12s %8s %12s\n", name, shape, "-", "not checked");
        return;
    }
    printf("%-32s %-12s %8ld %12.3g %-12s %24.17g %24.17g%s\n", name, shape, r->n_checked,
           r->worst_err, multi_index(t, r->worst_index, at, sizeof at), r->analytic, r->numeric,
           r->worst_err > tol ? "  <-- above the bound" : "");
}

/* --all: one line per checked entry */
static void print_entry(void *arg, int i, const rg_tensor *x, long k, double a, double nu,
                        double err) {
    (void)arg, (void)i;
    char at[64];
    printf("  %-28s %-10s value %+.12f  analytic %+.17g  numeric %+.17g  err %.3g\n",
           x->name ? x->name : "?", multi_index(x, k, at, sizeof at), (double)x->data[k], a, nu,
           err);
}

/* --all on an op: the output and the seed r of the backward */
static void print_seed(void *arg, const rg_tensor *out, const real *r) {
    (void)arg;
    char shape[64], at[64];
    printf("output %s and the seed r of backward (L = sum(out * r), so dL/dout = r):\n",
           rg_shape_str(out, shape, sizeof shape));
    for (long j = 0; j < out->size; j++)
        printf("  out%-10s %+.12f   r %+.12f\n", multi_index(out, j, at, sizeof at),
               (double)out->data[j], (double)r[j]);
}

static int verdict(bool ok, double worst, double tol, const breaker *br) {
    if (br->op && !br->fired) {
        fprintf(stderr,
                "relgrad gradcheck: --break %s: no node named '%s' was reached by backward; "
                "name an op of this tape (e.g. layernorm, linear, attention_core)\n",
                br->op, br->op);
        return RG_EXIT_BAD_INPUT;
    }
    printf("%s: worst relative error %.3g, bound %.3g (%s, docs/gradcheck.md)%s\n",
           ok ? "PASS" : "FAIL", worst, tol, RG_REAL_NAME,
           br->op ? " [--break: a deliberately wrong backward]" : "");
    return ok ? RG_EXIT_OK : RG_EXIT_CHECK_FAILED;
}

/* ---- one op ------------------------------------------------------------------------------- */

static int check_op(int op, int argc, char **argv, const int *num, bool all, breaker *br) {
    rg_op_sizes s;
    rg_op_sizes_defaults(&s);
    rg_error err;
    for (int i = 0; i < argc; i++) {
        char where[32], key[64];
        snprintf(where, sizeof where, "argument %d", num[i]);
        const char *eq = strchr(argv[i], '=');
        if (!eq || (size_t)(eq - argv[i]) >= sizeof key) {
            fprintf(stderr,
                    "relgrad gradcheck: %s: '%s' is not of the form size=N; write e.g. T=5\n",
                    where, argv[i]);
            return RG_EXIT_BAD_INPUT;
        }
        snprintf(key, sizeof key, "%.*s", (int)(eq - argv[i]), argv[i]);
        if (rg_op_sizes_set(&s, key, eq + 1, where, &err)) {
            fprintf(stderr, "relgrad gradcheck: %s\n", err.msg);
            return RG_EXIT_BAD_INPUT;
        }
    }
    printf("gradcheck %s: %s\n", rg_gc_op_name(op), rg_gc_op_summary(op));
    char sizes[512];
    printf("sizes %s; %s\n", rg_op_sizes_text(&s, sizes, sizeof sizes), RG_REAL_NAME);
    rg_gc_options o = {.quiet = true};
    if (all) o.each = print_entry, o.seeded = print_seed;
    if (br->op) o.observer = (rg_backward_observer){break_observer, br};
    rg_gc_op_report rep;
    if (rg_gc_op(op, &s, &o, RG_GC_TOL, &rep, &err)) {
        fprintf(stderr, "relgrad %s\n", err.msg);
        return RG_EXIT_BAD_INPUT;
    }
    printf("step %g\n", rep.h);
    table_head("input");
    for (int i = 0; i < rep.n_inputs; i++)
        table_row(rep.inputs[i].name, &rep.inputs[i], &rep.per_input[i], rep.tol);
    return verdict(rep.ok, rep.res.worst_err, rep.tol, br);
}

/* ---- the whole model ----------------------------------------------------------------------- */

/* The model checked unless another CONFIG is given: experiments/gradcheck.ini,
 * the test suite's tiny model. */
static const char *default_config(char *buf, size_t n) {
    snprintf(buf, n, "%s/experiments/gradcheck.ini", RELGRAD_SOURCE_DIR);
    return buf;
}

static int check_model(int argc, char **argv, const int *num, bool all, breaker *br) {
    rg_config *cfg = rg_xmalloc(sizeof *cfg, "a config");
    rg_error err;
    rg_gc_model_options opt = {.quiet = true};
    char def[RG_PATH_MAX + 64];
    const char *config =
        argc > 0 && !strchr(argv[0], '=') ? argv[0] : default_config(def, sizeof def);
    int first = argc > 0 && config == argv[0];
    rg_config_defaults(cfg);
    int rc = rg_config_load(cfg, config, &err);
    for (int i = first; i < argc && !rc; i++) {
        char where[32];
        snprintf(where, sizeof where, "argument %d", num[i]);
        const char *eq = strchr(argv[i], '=');
        int *own = NULL;
        if (eq && eq - argv[i] == 1 && (argv[i][0] == 'B' || argv[i][0] == 'T'))
            own = argv[i][0] == 'B' ? &opt.B : &opt.T;
        if (own || (eq && !strncmp(argv[i], "seed=", 5))) {
            char *end;
            long v = strtol(eq + 1, &end, 10), most = own ? 64 : 1000000000;
            if (!eq[1] || *end || v < 1 || v > most) {
                snprintf(err.msg, sizeof err.msg,
                         "%s: key '%.*s': '%s' is not a whole number in 1..%ld (a check costs "
                         "four forward passes per parameter entry); write e.g. %.*s=5",
                         where, (int)(eq - argv[i]), argv[i], eq + 1, most, (int)(eq - argv[i]),
                         argv[i]);
                rc = 2;
            } else if (own) {
                *own = (int)v;
            } else {
                opt.seed = (uint64_t)v;
            }
        } else {
            rc = rg_config_override(cfg, 1, &argv[i], num[i], &err);
        }
    }
    /* memory needs segments: the checked one is T tokens after a first one */
    if (!rc && cfg->model.mem_len > 0 && cfg->model.segment_len == 0) {
        char t[16];
        snprintf(t, sizeof t, "%d", opt.T ? opt.T : 5);
        rc = rg_config_set(cfg, "segment_len", t, "gradcheck (segments of T tokens)", &err);
    }
    /* the config's own rules, with messages that point at the argument */
    if (!rc) rc = rg_config_validate(cfg, config, &err);
    opt.random_positions = cfg->random_positions;
    if (all) opt.each = print_entry;
    if (br->op) opt.observer = (rg_backward_observer){break_observer, br};
    rg_gc_model_report rep;
    if (!rc) rc = rg_gc_model(&cfg->model, &opt, &rep, &err);
    if (rc) {
        fprintf(stderr, "relgrad gradcheck: %s\n", err.msg);
        free(cfg);
        return RG_EXIT_BAD_INPUT;
    }
    char pos[256];
    const rg_model_config *mc = &cfg->model;
    printf(
        "gradcheck model (%s): pos %s, d_model %d, n_heads %d, n_layers %d, d_ff %d, mem_len %d, "
        "B %d, T %d%s; %s, step %g, bound %g\n",
        config, rg_scheme_list_text(&mc->schemes, ',', pos, sizeof pos), mc->d_model, mc->n_heads,
        mc->n_layers, mc->d_ff, mc->mem_len, opt.B ? opt.B : 2, opt.T ? opt.T : 5,
        opt.random_positions ? " (random positions)" : "", RG_REAL_NAME, rep.h, rep.tol);
    table_head("parameter");
    for (int i = 0; i < rep.n_params; i++) {
        if (rep.left_out[i]) {
            char shape[64];
            printf("%-32s %-12s %8s %12s  |gradient| <= %.3g (~0 by design: softmax ignores a "
                   "constant row bias)\n",
                   rep.params[i].name, rg_shape_str(&rep.params[i].t, shape, sizeof shape), "-",
                   "~0 check", rep.left_out_max);
            continue;
        }
        table_row(rep.params[i].name, &rep.params[i].t, &rep.per_param[i], rep.tol);
    }
    if (!rep.left_out_ok)
        printf("FAIL: gradients that must be ~0 reach %.3g (largest gradient %.3g)\n",
               rep.left_out_max, rep.largest);
    for (int i = 0; i < rep.n_params; i++)
        if (rep.params[i].name == rep.worst_name) {
            char at[64];
            printf("worst entry: %s%s\n", rep.worst_name,
                   multi_index(&rep.params[i].t, rep.worst_index, at, sizeof at));
        }
    int status = verdict(rep.ok, rep.res.worst_err, rep.tol, br);
    rg_gc_model_report_free(&rep);
    free(cfg);
    return status;
}

int rg_cmd_gradcheck(int argc, char **argv) {
    if (argc < 1) return usage(stderr);
    if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help")) return usage(stdout);
    if (!strcmp(argv[0], "list")) {
        char schemes[256];
        printf("model       the whole model (relgrad gradcheck model pos=NAME ...)\n");
        for (int i = 0; i < rg_gc_op_count(); i++)
            printf("%-18s %s\n", rg_gc_op_name(i), rg_gc_op_summary(i));
        printf("schemes: %s\n", rg_scheme_names_text(schemes, sizeof schemes));
        return RG_EXIT_OK;
    }
    /* options anywhere after WHAT */
    breaker br = {0};
    bool all = false;
    char **rest = rg_xcalloc((size_t)argc, sizeof *rest, "arguments");
    int *num = rg_xcalloc((size_t)argc, sizeof *num, "arguments"); /* as on the command line */
    int n_rest = 0, rc = -1;
    for (int i = 1; i < argc && rc < 0; i++) {
        if (!strcmp(argv[i], "--all")) {
            all = true;
        } else if (!strcmp(argv[i], "--break")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "relgrad gradcheck: --break needs an op name, e.g. --break "
                                "layernorm\n");
                rc = RG_EXIT_BAD_INPUT;
            } else {
                br.op = argv[++i];
            }
        } else if (!strncmp(argv[i], "--", 2)) {
            fprintf(stderr, "relgrad gradcheck: unknown option '%s'\n", argv[i]);
            rc = usage(stderr);
        } else {
            num[n_rest] = i + 2; /* "relgrad" 0, "gradcheck" 1, WHAT 2 */
            rest[n_rest++] = argv[i];
        }
    }
    if (rc < 0) {
        int op = rg_gc_op_find(argv[0]);
        if (!strcmp(argv[0], "model"))
            rc = check_model(n_rest, rest, num, all, &br);
        else if (op >= 0)
            rc = check_op(op, n_rest, rest, num, all, &br);
        else {
            fprintf(stderr,
                    "relgrad gradcheck: argument 2: '%s' is neither 'model' nor an op; "
                    "`relgrad gradcheck list` shows them\n",
                    argv[0]);
            rc = RG_EXIT_BAD_INPUT;
        }
    }
    free(br.before);
    free(rest), free(num);
    return rc;
}
