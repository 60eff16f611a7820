/* show.c: saying what a command will do before it does it: the resolved
 * configuration, every value with where it came from, and the plan of a
 * run or an experiment (used by every run command, `relgrad config` and
 * --dry-run). */
#include "args.h"

#include "relgrad/nn.h"
#include "relgrad/experiment.h"

#include <stdlib.h>
#include <string.h>

/* Where key k's value came from, for people: "quick.ini:12", "argument 3",
 * "checkpoint" (a checkpoint's attribute), "results file" (a run's
 * attribute in a results file: train --from), or "default". */
static const char *source(const rg_config *c, int k) {
    const char *where = c->where[k];
    if (!where[0]) return "default";
    if (strstr(where, " /runs/") && strstr(where, " attribute ")) return "results file";
    if (strstr(where, " attribute ")) return "checkpoint";
    return where;
}

static bool scheme_used(const rg_scheme_list *p, int id) {
    for (int i = 0; i < p->n; i++)
        if (p->id[i] == id) return true;
    return false;
}

/* Whether the printout for `what` includes key k. */
static bool shown(const rg_config *c, const rg_config *d, int k, unsigned what) {
    const rg_key_info *key = rg_config_key(k);
    char a[RG_TEXT_MAX], b[RG_TEXT_MAX];
    rg_config_get(c, key->name, a, sizeof a);
    rg_config_get(d, key->name, b, sizeof b);
    bool is_default = !strcmp(a, b);
    if (what & RG_SHOW_ALL) return true;
    if (key->flags & RG_KEY_EXPERIMENT) {
        /* outside an experiment: only when the user set them (to be refused) */
        if (!(what & RG_SHOW_GRID) &&
            (is_default || !(c->where[k][0] && !strcmp(source(c, k), c->where[k]))))
            return false;
    } else if ((what & RG_SHOW_GRID) && (!strcmp(key->name, "task") || !strcmp(key->name, "pos") ||
                                         !strcmp(key->name, "seed"))) {
        return false; /* replaced by the grid */
    }
    int scheme = rg_config_key_scheme(k);
    bool by_user = c->where[k][0] && !strcmp(source(c, k), c->where[k]);
    if (scheme < 0 || !is_default || by_user) return true;
    if (!(what & RG_SHOW_GRID) && scheme_used(&c->model.schemes, scheme)) return true;
    if (what & RG_SHOW_GRID)
        for (int p = 0; p < c->n_positions; p++)
            if (scheme_used(&c->positions[p], scheme)) return true;
    return false;
}

void rg_cli_show_config(FILE *f, const char *cmd, const rg_config *c, unsigned what) {
    static const char *const GROUPS[] = {"model", "task", "train", "experiment"};
    rg_config *d = rg_xmalloc(sizeof *d, "a config");
    rg_config_defaults(d);
    fprintf(f, "relgrad %s: configuration (key, value, where it was set):\n", cmd);
    int n = rg_config_key_count();
    for (int g = 0; g < 4; g++) {
        bool header = false;
        for (int k = 0; k < n; k++) {
            const rg_key_info *key = rg_config_key(k);
            if (strcmp(key->group, GROUPS[g]) || !shown(c, d, k, what)) continue;
            if (!header) fprintf(f, "  [%s]\n", GROUPS[g]), header = true;
            char value[RG_TEXT_MAX];
            rg_config_get(c, key->name, value, sizeof value);
            if (!value[0]) snprintf(value, sizeof value, "\"\"");
            fprintf(f, "    %-17s %-20s %s\n", key->name, value, source(c, k));
        }
    }
    free(d);
}

/* "copy, pos none, seed 1" */
static const char *run_name(const rg_config *c, char *buf, size_t n) {
    char pos[512];
    snprintf(buf, n, "%s, pos %s, seed %d", rg_task_name(c->task),
             rg_config_run_pos(c, ',', pos, sizeof pos), c->seed);
    return buf;
}

/* "4000 steps of 32 sequences of 1..16 symbols on 2 threads,\n evaluated at ..." */
static void steps_text(FILE *f, const rg_config *c) {
    int jobs = c->jobs > 1 ? c->jobs : 1, threads = c->threads / jobs > 0 ? c->threads / jobs : 1;
    fprintf(f,
            "      %d steps of %d sequences of 1..%d symbols on %d thread%s%s,\n"
            "      evaluated at lengths %s (%d examples each);\n",
            c->steps, c->batch_size, c->train_len, threads, threads == 1 ? "" : "s",
            jobs > 1 ? " (jobs: runs at once share threads)" : "", c->eval_lens, c->eval_n);
}

int rg_cli_plan_train(FILE *f, const rg_config *c, rg_error *err) {
    int at;
    if (rg_train_resume_point(c, &at, err)) return 2;
    rg_model m;
    if (rg_model_init(&m, &c->model, (uint64_t)c->seed, err)) return 2;
    long params = m.n_values;
    rg_model_free(&m);
    char name[400];
    fprintf(f, "plan: train %s (a model of %ld parameters) in %s/:\n      ",
            run_name(c, name, sizeof name), params, c->out_dir);
    if (at < 0)
        fprintf(f, "a fresh start (no checkpoint there);\n");
    else if (at < c->steps)
        fprintf(f, "resume from checkpoint.h5 at step %d of %d;\n", at, c->steps);
    else
        fprintf(f, "the run is complete (checkpoint.h5 at step %d): evaluate only;\n", at);
    steps_text(f, c);
    fprintf(f, "      writes checkpoint.h5, train_log.csv%s and results.h5\n",
            c->select == RG_SELECT_BEST ? ", best.h5 (select = best)" : "");
    return 0;
}

int rg_cli_plan_experiment(FILE *f, const rg_config *base, rg_error *err) {
    /* the grid as the experiment trains it (a task's own alphabet too), and
     * the runs out_dir/results.h5 records (an error when one was recorded
     * with another config, as the experiment would say) */
    rg_grid g;
    int rc = rg_grid_make(&g, base, "the config", err);
    if (!rc) rc = rg_grid_recorded(&g, false, err);
    int fresh = 0, partial = 0, done = 0, recorded = 0;
    for (int i = 0; i < g.n_runs && !rc; i++) {
        if (g.runs[i].recorded) {
            recorded++;
            continue;
        }
        int at;
        if ((rc = rg_train_resume_point(&g.runs[i].cfg, &at, err))) break;
        if (at < 0)
            fresh++;
        else if (at < g.runs[i].cfg.steps)
            partial++;
        else
            done++;
    }
    int n_runs = g.n_runs;
    rg_grid_free(&g);
    if (rc) return rc;
    fprintf(f, "plan: %d run%s (%d task%s x %d position%s x %d seed%s) in %s/runs/:\n", n_runs,
            n_runs == 1 ? "" : "s", base->n_tasks, base->n_tasks == 1 ? "" : "s", base->n_positions,
            base->n_positions == 1 ? "" : "s", base->n_seeds, base->n_seeds == 1 ? "" : "s",
            base->out_dir);
    fprintf(f,
            "      %d to start, %d to resume, %d complete (%d recorded in results.h5: used as "
            "recorded; %d to evaluate only); each run\n",
            fresh, partial, done + recorded, recorded, done);
    steps_text(f, base);
    fprintf(f, "      then writes %s/results.h5, table.md and plot.png\n", base->out_dir);
    return 0;
}
