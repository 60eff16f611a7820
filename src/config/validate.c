/* validate.c: the top of the config layer: checking a whole config: each
 * key's range (keys.c), then the combinations (model shape, the positional
 * schemes' own rules, memory, randomized positions, task needs, sizes that
 * fit in memory); and rg_config_from_args (defaults, file, arguments,
 * validation). Calls keys.c and parse.c.
 *
 * Decisions worth knowing:
 *   - segment_len > 0 needs mem_len > 0 and mem_len > 0 needs segment_len > 0:
 *     either alone would be silently ignored by the model, so it is an error.
 *   - Positions read: an example of length n is read at positions
 *     0 .. rg_task_seq_len(task, n) - 2 (its last token, EOS, is only a
 *     target; an encoder reads as many: BOS x SEP and one ANS per answer
 *     token); with random_positions = L, anywhere in 0 .. L-1. Schemes that
 *     cannot represent every position (learned) check against that.
 *   - A task that fixes its alphabet (rg_task_alphabet) refuses another
 *     n_symbols; the data keys that would be ignored (digits = msb without
 *     addition, random_positions_per without random positions,
 *     length_sampling = batch with a fixed training set) are refused too.
 *   - Sizes are estimated in double, so no int overflows before the check
 *     (d_model = 1e9 would).
 *   - The methods of 2024 (check_methods): index hints and coupled positions
 *     only on addition read by a decoder, not together; n_hints covers the
 *     longest length trained or evaluated (and is 0 without hints); coupled
 *     positions only with schemes flagged RG_SCHEME_ANY_ORDER (the allowed
 *     list is read from the registry), not with random positions or memory;
 *     abacus ids, the shift included, below abacus_max.
 */
#include "config_internal.h"
#include "schemes/scheme.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS      5e8 /* parameter values: 2 GB in float32, x4 with grads and moments */
#define MAX_ACTIVATIONS 4e9 /* values one training step may keep: 16 GB in float32 */
#define MAX_SET_TOKENS  5e8 /* tokens of a fixed training set: 2 GB of int */

/* ---- combinations ------------------------------------------------------------------- */

/* The task's alphabet, the experiment's task:N entries, and the data keys
 * (digits, length_sampling, random_positions_per, train_examples): each
 * refused where it would be ignored or contradict the task. */
static int check_task_data(const rg_config *c, const char *where, rg_error *err) {
#define ORIGIN(name) rg_key_origin(c, rg_config_key_find(name), where)
#define KEY(name)    rg_config_key_find(name)
    char note[RG_WHERE_MAX + 16];
    int ns = c->model.n_symbols, fixed = rg_task_alphabet(c->task);
    if (fixed && ns != fixed) {
        const char *blame = c->where[KEY("n_symbols")][0] ? "n_symbols" : "task";
        return rg_fail_key(err, ORIGIN(blame), KEY(blame),
                           "task %s has its own alphabet of %d symbols (%s), but n_symbols = "
                           "%d%s; set n_symbols = %d, or leave n_symbols out and the task sets it",
                           rg_task_name(c->task), fixed, rg_task_symbols_text(c->task), ns,
                           rg_key_origin_note(c, KEY("n_symbols"), note, sizeof note), fixed);
    }
    for (int t = 0; t < c->n_tasks; t++) {
        int own = rg_task_alphabet(c->tasks[t]);
        if (own && c->task_symbols[t] && c->task_symbols[t] != own)
            return rg_fail_key(err, ORIGIN("tasks"), KEY("tasks"),
                               "entry %d: task %s has its own alphabet of %d symbols, not %d; "
                               "write %s or %s:%d",
                               t + 1, rg_task_name(c->tasks[t]), own, c->task_symbols[t],
                               rg_task_name(c->tasks[t]), rg_task_name(c->tasks[t]), own);
    }
    if (c->digits == RG_DIGITS_MSB) {
        bool addition = c->task == RG_TASK_ADDITION;
        for (int t = 0; t < c->n_tasks; t++) addition |= c->tasks[t] == RG_TASK_ADDITION;
        if (!addition)
            return rg_fail_key(err, ORIGIN("digits"), KEY("digits"),
                               "msb orders the digits of task addition, but the task is %s; set "
                               "digits = lsb (or leave it out)",
                               rg_task_name(c->task));
    }
    if (c->random_positions_per == RG_POSITIONS_PER_BATCH && c->random_positions == 0)
        return rg_fail_key(err, ORIGIN("random_positions_per"), KEY("random_positions_per"),
                           "batch shares one draw of random positions, but random_positions = "
                           "0%s draws none; set random_positions = L > 0 or leave "
                           "random_positions_per out",
                           rg_key_origin_note(c, KEY("random_positions"), note, sizeof note));
    if (c->train_examples > 0) {
        if (c->length_sampling == RG_LENGTHS_PER_BATCH)
            return rg_fail_key(err, ORIGIN("length_sampling"), KEY("length_sampling"),
                               "batch draws a length per batch, but train_examples = %d%s trains "
                               "on a fixed set whose examples have their own lengths; set "
                               "length_sampling = example or train_examples = 0",
                               c->train_examples,
                               rg_key_origin_note(c, KEY("train_examples"), note, sizeof note));
        /* the set keeps x and y of every example */
        double per =
            rg_task_input_len(c->task, c->train_len) + rg_task_out_len(c->task, c->train_len);
        if ((double)c->train_examples * per > MAX_SET_TOKENS)
            return rg_fail_key(err, ORIGIN("train_examples"), KEY("train_examples"),
                               "%d examples of up to %.0f tokens would take more than relgrad's "
                               "limit of %.0f tokens; lower train_examples or train_len",
                               c->train_examples, per, (double)MAX_SET_TOKENS);
    }
    return 0;
#undef ORIGIN
#undef KEY
}

/* "sinusoidal, learned, rope": the schemes whose flags have all of `with`
 * and none of `without`, from the registry. */
static const char *schemes_with(unsigned with, unsigned without, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = '\0';
    for (int id = 0; id < rg_scheme_count() && used < n; id++) {
        unsigned f = rg_scheme_get(id)->flags;
        if ((f & with) == with && !(f & without))
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "",
                                     rg_scheme_name(id));
    }
    return buf;
}

/* The methods of 2024 that live in the data (SPEC section 8): index hints and
 * coupled positions on addition read by a decoder, with what they need, and
 * abacus ids within abacus_max. longest: the longest length trained or
 * evaluated. */
static int check_methods(const rg_config *c, const char *where, int longest, rg_error *err) {
#define ORIGIN(name) rg_key_origin(c, rg_config_key_find(name), where)
#define KEY(name)    rg_config_key_find(name)
    const rg_model_config *mc = &c->model;
    char note[RG_WHERE_MAX + 16], list[256], other[256], text[256];
    bool addition = c->task == RG_TASK_ADDITION, encoder = mc->arch == RG_ARCH_ENCODER;
    const char *method[2] = {"index_hints", "coupled_positions"};
    int on[2] = {c->index_hints, c->coupled_positions};
    for (int i = 0; i < 2; i++) {
        if (!on[i]) continue;
        if (!addition)
            return rg_fail_key(err, ORIGIN(method[i]), KEY(method[i]),
                               "1 works on the digits of task addition, but the task is %s; set "
                               "task = addition or %s = 0",
                               rg_task_name(c->task), method[i]);
        if (encoder)
            return rg_fail_key(err, ORIGIN(method[i]), KEY(method[i]),
                               "1 is for a decoder, which writes the answer token by token (and "
                               "reads it back), but arch = encoder%s; set arch = decoder or %s = 0",
                               rg_key_origin_note(c, KEY("arch"), note, sizeof note), method[i]);
    }
    if (c->index_hints && c->coupled_positions)
        return rg_fail_key(err, ORIGIN("coupled_positions"), KEY("coupled_positions"),
                           "1 cannot combine with index_hints = 1%s: both mark each digit's "
                           "significance, and the hints change the sequence the positions "
                           "follow; set one of them to 0",
                           rg_key_origin_note(c, KEY("index_hints"), note, sizeof note));
    if (c->index_hints && mc->n_hints < longest + 1)
        return rg_fail_key(err, ORIGIN("n_hints"), KEY("n_hints"),
                           "%d hint tokens cannot mark the %d digits of an answer at length %d "
                           "(the longest trained or evaluated); set n_hints >= %d, or (a trained "
                           "model's hints are fixed) train_len and eval_lens at most %d",
                           mc->n_hints, longest + 1, longest, longest + 1, mc->n_hints - 1);
    if (!c->index_hints && mc->n_hints > 0)
        return rg_fail_key(err, ORIGIN("n_hints"), KEY("n_hints"),
                           "%d hint tokens, but index_hints = 0%s: they would only enlarge the "
                           "vocabulary; set n_hints = 0 or index_hints = 1",
                           mc->n_hints,
                           rg_key_origin_note(c, KEY("index_hints"), note, sizeof note));
    if (!c->coupled_positions && c->coupled_plus != RG_PLUS_AT_START)
        return rg_fail_key(err, ORIGIN("coupled_plus"), KEY("coupled_plus"),
                           "carry places a SEP among coupled positions, but coupled_positions = "
                           "0%s; set coupled_positions = 1 or coupled_plus = start (or leave it "
                           "out)",
                           rg_key_origin_note(c, KEY("coupled_positions"), note, sizeof note));
    if (!c->coupled_positions && c->coupled_bos != RG_BOS_AT_ZERO)
        return rg_fail_key(err, ORIGIN("coupled_bos"), KEY("coupled_bos"),
                           "end places BOS among coupled positions, but coupled_positions = "
                           "0%s; set coupled_positions = 1 or coupled_bos = zero (or leave it "
                           "out)",
                           rg_key_origin_note(c, KEY("coupled_positions"), note, sizeof note));
    if (c->coupled_positions) {
        bool any_order = true, reads = false;
        for (int i = 0; i < mc->schemes.n; i++) {
            unsigned f = rg_scheme_get(mc->schemes.id[i])->flags;
            any_order &= (f & RG_SCHEME_ANY_ORDER) != 0;
            reads |= !(f & RG_SCHEME_NO_POSITIONS);
        }
        if (!any_order || !reads)
            return rg_fail_key(
                err, ORIGIN("coupled_positions"), KEY("coupled_positions"),
                "1 needs schemes that read each position on its own (coupled positions repeat "
                "and go down at a SEP), at least one of them reading positions, but pos = %s%s; "
                "use %s (layers of a list may also be %s), or coupled_positions = 0",
                rg_scheme_list_text(&mc->schemes, ',', text, sizeof text),
                rg_key_origin_note(c, KEY("pos"), note, sizeof note),
                schemes_with(RG_SCHEME_ANY_ORDER, RG_SCHEME_NO_POSITIONS, list, sizeof list),
                schemes_with(RG_SCHEME_ANY_ORDER | RG_SCHEME_NO_POSITIONS, 0, other, sizeof other));
        if (c->random_positions > 0)
            return rg_fail_key(err, ORIGIN("coupled_positions"), KEY("coupled_positions"),
                               "1 cannot combine with random_positions = %d%s: both set the "
                               "positions; set one of them to 0",
                               c->random_positions,
                               rg_key_origin_note(c, KEY("random_positions"), note, sizeof note));
        if (mc->mem_len > 0)
            return rg_fail_key(err, ORIGIN("coupled_positions"), KEY("coupled_positions"),
                               "1 cannot combine with segment memory (mem_len = %d%s): segments "
                               "continue each other's positions; set one of them to 0",
                               mc->mem_len,
                               rg_key_origin_note(c, KEY("mem_len"), note, sizeof note));
        int end = c->coupled_bos == RG_BOS_AT_END; /* BOS one past the final carry */
        if (c->coupled_max < c->train_len + 2 + end)
            return rg_fail_key(err, ORIGIN("coupled_max"), KEY("coupled_max"),
                               "%d leaves no start for the %d digits of an answer%s at train_len "
                               "= %d (positions s + 1 .. s + %d, s >= 1); set coupled_max >= %d",
                               c->coupled_max, c->train_len + 1, end ? " and BOS after them" : "",
                               c->train_len, c->train_len + 1 + end, c->train_len + 2 + end);
    }
    if (mc->abacus > 0) {
        rg_data_spec train = rg_config_data_spec(c, true), eval = rg_config_data_spec(c, false);
        int eval_len = rg_config_longest_eval(c);
        int in_training = rg_spec_longest_run(&train, c->train_len) + mc->abacus;
        int in_eval = eval_len > 0 ? rg_spec_longest_run(&eval, eval_len) : 0;
        int top = in_training > in_eval ? in_training : in_eval;
        if (top >= mc->abacus_max)
            return rg_fail_key(err, ORIGIN("abacus_max"), KEY("abacus_max"),
                               "%d rows, but abacus ids reach %d (%s: runs of %d digits%s); set "
                               "abacus_max >= %d%s",
                               mc->abacus_max, top,
                               in_training >= in_eval ? "training at train_len" : "evaluation",
                               in_training >= in_eval ? in_training - mc->abacus : in_eval,
                               in_training >= in_eval ? " plus the shift abacus" : "", top + 1,
                               in_training >= in_eval
                                   ? " or lower abacus"
                                   : ", or (a trained model's table is fixed) evaluate at "
                                     "shorter lengths");
    }
    return 0;
#undef ORIGIN
#undef KEY
}

/* Reporting against a key's own origin, for the schemes' validate hooks. */
typedef struct {
    const rg_config *c; /* origins, or NULL  */
    const char *where;  /* fallback origin    */
    rg_error *err;
} report;

static int scheme_fail(rg_scheme_check *chk, const char *key, const char *fmt, ...) {
    report *r = chk->ctx;
    int k = rg_config_key_find(key);
    if (k < 0) rg_die("scheme check: no key '%s'", key);
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return rg_fail_key(r->err, rg_key_origin(r->c, k, r->where), k, "%s", what);
}

static const char *scheme_origin(rg_scheme_check *chk, const char *key, char *buf, size_t n) {
    report *r = chk->ctx;
    return rg_key_origin_note(r->c, rg_config_key_find(key), buf, n);
}

/* "1, 2, 4, 8": the divisors of d, at most 24 of them. */
static const char *divisors(int d, char *buf, size_t n) {
    size_t used = 0;
    int shown = 0;
    buf[0] = '\0';
    for (int h = 1; h <= d && h <= (1 << 20) && shown < 24; h++) {
        if (d % h) continue;
        int m = snprintf(buf + used, n - used, "%s%d", shown ? ", " : "", h);
        if (m < 0 || (size_t)m >= n - used) break;
        used += (size_t)m, shown++;
    }
    return buf;
}

/* The model's keys and rules; origins from c when given. positions_read = 0
 * skips the checks that depend on the task. */
static int check_model(const rg_model_config *mc, const rg_config *c, const char *where,
                       int positions_read, const char *positions_why, rg_error *err) {
    report r = {c, where, err};
#define ORIGIN(name) rg_key_origin(c, rg_config_key_find(name), where)
#define KEY(name)    rg_config_key_find(name)
    char list[256], note[RG_WHERE_MAX + 16], text[256];
    int d = mc->d_model, H = mc->n_heads;
    if (H < 1 || d < 1 || d % H)
        return rg_fail_key(err, ORIGIN("n_heads"), KEY("n_heads"),
                           "%d does not divide d_model = %d%s; choose n_heads among %s", H, d,
                           rg_key_origin_note(c, KEY("d_model"), note, sizeof note),
                           divisors(d, list, sizeof list));
    const rg_scheme_list *schemes = &mc->schemes;
    if (schemes->n > mc->n_layers)
        return rg_fail_key(err, ORIGIN("pos"), KEY("pos"),
                           "%d entries for %d layers; give at most one scheme per layer",
                           schemes->n, mc->n_layers);
    bool all_relative = true;
    for (int i = 0; i < schemes->n; i++) all_relative &= rg_scheme_is_relative(schemes->id[i]);
    if (schemes->n > 1 && !all_relative)
        return rg_fail_key(err, ORIGIN("pos"), KEY("pos"),
                           "'%s': per-layer lists hold relative schemes only (an absolute "
                           "embedding enters once, below every layer); use it alone",
                           rg_scheme_list_text(schemes, ',', text, sizeof text));
    for (int id = 0; id < rg_scheme_count(); id++) { /* each scheme used, once */
        bool used = false;
        for (int i = 0; i < schemes->n; i++) used |= schemes->id[i] == id;
        const rg_scheme *s = rg_scheme_get(id);
        if (!used || !s->validate) continue;
        rg_scheme_check chk = {mc, positions_read, positions_why, scheme_fail, scheme_origin, &r};
        if (s->validate(&chk)) return 2;
    }
    if (mc->arch == RG_ARCH_ENCODER && mc->mem_len > 0)
        return rg_fail_key(err, ORIGIN("arch"), KEY("arch"),
                           "encoder cannot combine with segment memory, but mem_len = %d%s: an "
                           "encoder reads the whole sequence in one bidirectional pass, with no "
                           "segments to carry memory between; set mem_len = 0 and segment_len = "
                           "0, or arch = decoder",
                           mc->mem_len, rg_key_origin_note(c, KEY("mem_len"), note, sizeof note));
    if (mc->mem_len > 0 && !all_relative)
        return rg_fail_key(err, ORIGIN("mem_len"), KEY("mem_len"),
                           "mem_len = %d needs relative schemes, but pos = %s is absolute: an "
                           "absolute embedding cannot tell a memory row from a current one "
                           "(Dai et al. 2019); set mem_len = 0 or choose another pos",
                           mc->mem_len, rg_scheme_list_text(schemes, ',', text, sizeof text));
    if (mc->segment_len > 0 && mc->mem_len == 0)
        return rg_fail_key(err, ORIGIN("segment_len"), KEY("segment_len"),
                           "segment_len = %d only takes effect with memory, but mem_len = 0%s; set "
                           "mem_len > 0 or segment_len = 0 (whole sequence)",
                           mc->segment_len,
                           rg_key_origin_note(c, KEY("mem_len"), note, sizeof note));
    if (mc->mem_len > 0 && mc->segment_len == 0)
        return rg_fail_key(err, ORIGIN("mem_len"), KEY("mem_len"),
                           "mem_len = %d has no effect while segment_len = 0%s: a whole sequence "
                           "is one segment, with nothing before it to remember; set "
                           "segment_len > 0 (e.g. segment_len = 16) or mem_len = 0",
                           mc->mem_len,
                           rg_key_origin_note(c, KEY("segment_len"), note, sizeof note));
    /* parameters that fit in memory: counted by declaring them */
    double dd = d, F = mc->d_ff, L = mc->n_layers;
    double V = rg_vocab_size(mc->arch, mc->n_symbols, mc->n_hints);
    double params = 2 * V * dd + L * (4 * dd * dd + 2 * dd * F + 10 * dd + F);
    if (mc->abacus > 0) params += (double)mc->abacus_max * dd;
    if (params <= MAX_PARAMS)
        for (int id = 0; id < rg_scheme_count(); id++) {
            const rg_scheme *s = rg_scheme_get(id);
            int layers = 0;
            for (int l = 0; l < mc->n_layers; l++) layers += rg_scheme_of_layer(schemes, l) == id;
            rg_param_builder pb = {.counting = true};
            rg_tensor *slot[RG_SCHEME_PARAMS];
            if (layers && s->declare_shared) s->declare_shared(&pb, mc, slot);
            params += (double)pb.n_values, pb.n_values = 0;
            if (layers && s->declare_layer) s->declare_layer(&pb, mc, 0, slot);
            params += (double)pb.n_values * layers;
        }
    if (params > MAX_PARAMS) {
        const char *key = L * 1e4 > dd && L * 1e4 > F ? "n_layers"
                          : F > 64 * dd               ? "d_ff"
                                                      : "d_model";
        return rg_fail_key(err, ORIGIN(key), KEY(key),
                           "the model would have %.3g parameters (d_model %d, d_ff %d, n_layers "
                           "%d), more than relgrad's limit of %.0f; make d_model, d_ff or "
                           "n_layers smaller",
                           params, d, mc->d_ff, mc->n_layers, (double)MAX_PARAMS);
    }
    return 0;
#undef ORIGIN
#undef KEY
}

int rg_model_config_validate(const rg_model_config *mc, const char *where, rg_error *err) {
    rg_config c;
    rg_config_defaults(&c);
    c.model = *mc;
    if (!where || !where[0]) where = "model config";
    int n = rg_config_key_count();
    for (int k = 0; k < n; k++)
        if (!strcmp(rg_config_key(k)->group, "model") ||
            !strcmp(rg_config_key(k)->name, "n_symbols") ||
            !strcmp(rg_config_key(k)->name, "n_hints"))
            if (rg_config_check_key(&c, k, where, err)) return 2;
    return check_model(mc, NULL, where, 0, "", err);
}

/* Activation values a step over B rows of T tokens may keep: every layer's
 * row-wise tensors and its attention probabilities. */
static double step_activations(const rg_model_config *mc, double B, double T) {
    double L = mc->n_layers, dd = mc->d_model, F = mc->d_ff;
    return B * T * L * (20 * dd + 3 * F) + B * mc->n_heads * T * T * L;
}

int rg_config_validate(const rg_config *c, const char *where, rg_error *err) {
    if (!where || !where[0]) where = "config";
    int n = rg_config_key_count();
    for (int k = 0; k < n; k++)
        if (rg_config_check_key(c, k, rg_key_origin(c, k, where), err)) return 2;
#define ORIGIN(name) rg_key_origin(c, rg_config_key_find(name), where)
#define KEY(name)    rg_config_key_find(name)
    const rg_model_config *mc = &c->model;
    char note[RG_WHERE_MAX + 16], why[160];
    /* the positions this run reads */
    int longest = rg_config_longest_eval(c);
    bool eval_longer = longest > c->train_len;
    int worst = eval_longer ? longest : c->train_len;
    if (check_methods(c, where, worst, err)) return 2;
    rg_data_spec spec = rg_config_data_spec(c, true);
    int seq = rg_spec_seq_len(&spec, worst) - 1; /* tokens read: positions 0 .. seq-1 */
    int read = c->random_positions > 0 ? c->random_positions : seq;
    if (c->random_positions > 0)
        snprintf(why, sizeof why, "random_positions = %d", c->random_positions);
    else
        snprintf(why, sizeof why, "%s %d of task %s", eval_longer ? "eval length" : "train_len",
                 worst, rg_task_name(c->task));
    if (c->coupled_positions) { /* training up to coupled_max; evaluation from 1: n + 2
                                   (n + 3 with BOS at the end) */
        int top = longest + 2 + (c->coupled_bos == RG_BOS_AT_END);
        bool train_wider = c->coupled_max >= top;
        read = (train_wider ? c->coupled_max : top) + 1;
        snprintf(why, sizeof why, "coupled positions up to %d (%s)", read - 1,
                 train_wider                       ? "coupled_max"
                 : c->coupled_bos == RG_BOS_AT_END ? "the longest eval length + 3, BOS at the end"
                                                   : "the longest eval length + 2");
    }
    if (check_model(mc, c, where, read, why, err)) return 2;

    if (check_task_data(c, where, err)) return 2;
    if (c->random_positions > 0) {
        bool any = false;
        for (int i = 0; i < mc->schemes.n; i++) any |= rg_scheme_reads_positions(mc->schemes.id[i]);
        char list[256];
        if (!any)
            return rg_fail_key(err, ORIGIN("random_positions"), KEY("random_positions"),
                               "%d, but pos = %s reads no positions; set random_positions = 0 "
                               "or choose a scheme that reads them",
                               c->random_positions,
                               rg_scheme_list_text(&mc->schemes, ',', list, sizeof list));
        if (c->random_positions < seq)
            return rg_fail_key(err, ORIGIN("random_positions"), KEY("random_positions"),
                               "%d is shorter than the longest sequence read (%d tokens: %s %d "
                               "of task %s); set random_positions >= %d",
                               c->random_positions, seq, eval_longer ? "eval length" : "train_len",
                               worst, rg_task_name(c->task), seq);
        if (mc->mem_len > 0)
            return rg_fail_key(err, ORIGIN("random_positions"), KEY("random_positions"),
                               "%d cannot combine with segment memory (mem_len = %d%s): segments "
                               "continue each other's positions; set one of them to 0",
                               c->random_positions, mc->mem_len,
                               rg_key_origin_note(c, KEY("mem_len"), note, sizeof note));
    }
    /* activations that fit in memory: a training step holds batch_size rows
     * of up to train_len; evaluation RG_EVAL_BATCH rows of one eval length at
     * a time (bounded by the same count, without a tape: a safe overestimate) */
    int train_seq = rg_spec_seq_len(&spec, c->train_len) - 1;
    double activations = step_activations(mc, c->batch_size, train_seq);
    if (activations > MAX_ACTIVATIONS)
        return rg_fail_key(err, ORIGIN("batch_size"), KEY("batch_size"),
                           "a batch of %d sequences of up to %d tokens (train_len %d) would need "
                           "about %.3g activation values per step, more than relgrad's limit of "
                           "%.0f; lower batch_size, train_len or the model size",
                           c->batch_size, train_seq, c->train_len, activations,
                           (double)MAX_ACTIVATIONS);
    int eval_rows = c->eval_n < RG_EVAL_BATCH ? c->eval_n : RG_EVAL_BATCH;
    activations = step_activations(mc, eval_rows, seq);
    if (activations > MAX_ACTIVATIONS) {
        const char *key = eval_longer ? "eval_lens" : "eval_n";
        return rg_fail_key(err, ORIGIN(key), KEY(key),
                           "evaluation at length %d (%d tokens, %d examples at a time) would "
                           "need about %.3g activation values, more than relgrad's limit of "
                           "%.0f; lower %s, or eval_n (below %d it is the examples at a time)",
                           worst, seq, eval_rows, activations, (double)MAX_ACTIVATIONS,
                           eval_longer ? "the longest eval length" : "train_len", RG_EVAL_BATCH);
    }
    return 0;
#undef ORIGIN
#undef KEY
}

int rg_config_from_args(rg_config *c, const char *path, int argc, char **argv, rg_error *err) {
    rg_config_defaults(c);
    if (path && rg_config_load(c, path, err)) return 2;
    if (rg_config_override(c, argc, argv, path ? 3 : 2, err)) return 2;
    return rg_config_validate(c, path ? path : "arguments", err);
}
