/* compare.c: whether two configs describe the same run, for resuming a
 * checkpoint and for recognising a run a results file already records: the
 * first key whose value differs among the keys that decide the outcome.
 *
 * Which keys decide what:
 *   - training (RG_SAME_TRAINING): every key but the evaluation-only ones
 *     (RG_KEY_EVAL), those free to change on resume (RG_KEY_RESUME_FREE:
 *     paths, threads, checkpoint and progress intervals, eval_lens, ...)
 *     and the experiment's lists. select = best adds eval_every (it decides
 *     which steps compete); val_n counts only with select = best.
 *   - results (RG_SAME_RESULTS): all of that, plus what the final
 *     evaluation reads (eval_lens, eval_n, fit_threshold, the schemes'
 *     evaluation keys, RG_KEY_EVAL). Left out: where and how fast it
 *     ran (out_dir, threads, checkpoint_every, eval_every unless select =
 *     best, quiet) and the experiment's lists.
 */
#include "config_internal.h"

#include <string.h>

/* Keys that change neither the training nor the results: where the files
 * go and how the run is carried out. */
static bool operational(const char *name) {
    static const char *const NAMES[] = {"out_dir", "threads", "checkpoint_every", "eval_every",
                                        "quiet"};
    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++)
        if (!strcmp(name, NAMES[i])) return true;
    return false;
}

static bool decides(const rg_key_info *key, bool best, rg_same_what what) {
    if (key->flags & RG_KEY_EXPERIMENT) return false;
    if (!strcmp(key->name, "eval_every")) return best; /* which steps select = best compares */
    if (!strcmp(key->name, "val_n")) return best;
    if (what == RG_SAME_RESULTS) return !operational(key->name);
    return !(key->flags & (RG_KEY_EVAL | RG_KEY_RESUME_FREE));
}

int rg_config_differs(const rg_config *a, const rg_config *b, rg_same_what what) {
    bool best = a->select == RG_SELECT_BEST || b->select == RG_SELECT_BEST;
    int n = rg_config_key_count();
    for (int k = 0; k < n; k++) {
        const rg_key_info *key = rg_config_key(k);
        if (!decides(key, best, what)) continue;
        char va[RG_TEXT_MAX], vb[RG_TEXT_MAX];
        rg_config_get(a, key->name, va, sizeof va);
        rg_config_get(b, key->name, vb, sizeof vb);
        if (strcmp(va, vb)) return k;
    }
    return -1;
}
