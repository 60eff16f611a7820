/* train.c: one training run: the loop, checkpoints and resume, divergence
 * checks, stop signals and progress output.
 *
 * Files in out_dir:
 *   checkpoint.h5   model, optimizer, data rng and config (SPEC section 4),
 *                   replaced atomically every checkpoint_every steps
 *   train_log.csv   step,loss,lr,grad_norm: one line per step, flushed after
 *                   each line (so `tail -f` follows it) and synced to disk
 *                   before each checkpoint, so it always holds at least the
 *                   steps the checkpoint has done (resume trims the rest)
 *   best.h5         select = best: the parameters that validated best so
 *                   far (select.c), replaced atomically
 *   results.h5      the run's losses and final accuracies (SPEC section 4)
 *   .lock           held (flock) by the run's process while it works here
 *
 * Data-parallel (opt->dist with more than one rank, include/relgrad/dist.h):
 * every rank draws the same global batch from the same data rng and takes
 * its own rows of it; rank 0 alone owns out_dir (lock, checkpoint, log,
 * results, evaluation) and hands its start state to the others.
 *
 * Progress and notes ("resuming from ...") go to stderr; stdout is left to
 * the caller's results. The training wall time is checkpointed with the
 * optimizer step (rg_adamw.seconds), so a resumed or re-evaluated run
 * reports the time its training took over all its sessions.
 */
#include "train_internal.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The one piece of global state: a signal handler can only talk to the
 * program through a variable like this. 0, or the signal that asked us to
 * stop. */
static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig) {
    stop_signal = sig;
}

/* The signals that stop a run after a checkpoint: Ctrl-C, kill, a closed
 * terminal, and a closed pipe (`relgrad train ... | head`: writing to it
 * raises SIGPIPE, which would otherwise end the process before it saves). */
static const int STOP_SIGNALS[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
enum { N_STOP_SIGNALS = sizeof STOP_SIGNALS / sizeof STOP_SIGNALS[0] };

void rg_install_stop_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < N_STOP_SIGNALS; i++) sigaction(STOP_SIGNALS[i], &sa, NULL);
}

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP: the terminal closed";
    case SIGPIPE:
        return "SIGPIPE: the output was closed";
    default:
        return "a stop signal";
    }
}

int rg_stop_signal(void) {
    return stop_signal;
}

/* Called right after writing to f: a write that failed because the reader
 * is gone (EPIPE) is a stop request, like the SIGPIPE that comes with it
 * (which a blocked signal mask would hold back). */
static void check_stream(FILE *f) {
    if ((fflush(f) == EOF || ferror(f)) && errno == EPIPE && !stop_signal) stop_signal = SIGPIPE;
}

static int fail(rg_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(rg_error *err, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void rg_checkpoint_path(const rg_config *cfg, char *buf, size_t n) {
    snprintf(buf, n, "%s/checkpoint.h5", cfg->out_dir);
}

void rg_run_summary_free(rg_run_summary *s) {
    free(s->train_loss);
    s->train_loss = NULL;
    rg_eval_result_free(&s->eval);
}

/* ---- resume ------------------------------------------------------------------ */

/* Keys that decide a run's trajectory (and select = best's choice): a
 * checkpoint may only be resumed with the same values. Evaluation-only keys,
 * threads, output paths and the experiment lists may differ
 * (rg_config_differs). */
static int check_same_run(const rg_config *saved, const rg_config *cfg, const char *path,
                          rg_error *err) {
    int k = rg_config_differs(saved, cfg, RG_SAME_TRAINING);
    if (k < 0) return 0;
    const char *name = rg_config_key(k)->name;
    char a[RG_TEXT_MAX], b[RG_TEXT_MAX];
    rg_config_get(saved, name, a, sizeof a);
    rg_config_get(cfg, name, b, sizeof b);
    return fail(err, 2,
                "%s: cannot resume: the checkpoint was trained with %s = %s, the config "
                "says %s; use the same value, or another out_dir for a new run",
                path, name, a, b);
}

int rg_train_resume_point(const rg_config *cfg, int *step, rg_error *err) {
    char ckpt[RG_PATH_MAX + 32];
    rg_checkpoint_path(cfg, ckpt, sizeof ckpt);
    *step = -1;
    if (access(ckpt, F_OK)) return 0;
    rg_config *saved = rg_xmalloc(sizeof *saved, "a config");
    rg_config_defaults(saved);
    long at = 0;
    double seconds;
    int rc = rg_checkpoint_read_config(ckpt, saved, err);
    if (!rc) rc = check_same_run(saved, cfg, ckpt, err);
    if (!rc) rc = rg_checkpoint_read_step(ckpt, &at, &seconds, err);
    if (!rc && at > cfg->steps)
        rc = fail(err, 2,
                  "%s: checkpoint is at step %ld, beyond steps = %d; raise steps or use another "
                  "out_dir",
                  ckpt, at, cfg->steps);
    free(saved);
    if (!rc) *step = (int)at;
    return rc;
}

/* Read the first `steps` losses of train_log.csv into loss, then cut the
 * file after that line (dropping steps after the checkpoint). Cutting with
 * truncate() keeps every earlier line as it was and can be interrupted at
 * any moment without losing them. */
static int restore_log(const char *path, int steps, float *loss, rg_error *err) {
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(err, 2,
                    "%s: missing (%s), but a checkpoint at step %d exists; delete the "
                    "checkpoint to start over",
                    path, strerror(errno), steps);
    char line[256];
    int have = 0;
    if (!fgets(line, sizeof line, f)) have = -1; /* header */
    while (have >= 0 && have < steps && fgets(line, sizeof line, f)) {
        int step;
        float l;
        if (sscanf(line, "%d,%f", &step, &l) != 2 || step != have + 1) break;
        loss[have++] = l;
    }
    long keep = ftell(f);
    fclose(f);
    if (have < steps)
        return fail(err, 2,
                    "%s: holds %d steps but the checkpoint is at step %d; the log is damaged: "
                    "delete the out_dir to start over",
                    path, have < 0 ? 0 : have, steps);
    if (keep < 0 || truncate(path, keep))
        return fail(err, 2, "%s: cannot cut it back to step %d: %s", path, steps, strerror(errno));
    return 0;
}

/* Remove temporary files (<name>.tmp.<pid>) that a killed run left in dir:
 * those whose process no longer exists. */
static void remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        const char *tmp = strstr(e->d_name, ".tmp.");
        if (!tmp) continue;
        char *end;
        long pid = strtol(tmp + 5, &end, 10);
        if (*end || pid <= 0 || pid == getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or cannot tell */
        char path[RG_PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

/* ---- progress ---------------------------------------------------------------------- */

static void format_duration(double s, char *buf, size_t n) {
    int t = (int)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%02d:%02d", t / 60, t % 60);
}

/* One progress line on stderr (rewritten in place on a terminal, every
 * 5% of the steps otherwise). tokens/s counts the training steps' time
 * only (`busy`), not evaluations and checkpoints; elapsed and ETA are wall
 * time. */
static void progress(const rg_train_options *opt, bool tty, int step, int steps, int start,
                     double loss, double tokens, double busy, double elapsed) {
    if (opt->quiet) return;
    int every = steps / 20 > 0 ? steps / 20 : 1;
    if (!tty && step % every && step != steps) return;
    double rate = busy > 0 ? tokens / busy : 0;
    double eta = step > start ? elapsed / (step - start) * (steps - step) : 0;
    char el[32], et[32];
    format_duration(elapsed, el, sizeof el);
    format_duration(eta, et, sizeof et);
    fprintf(stderr, "%s%s%sstep %d/%d  loss %.4f  %.1fk tok/s  %s elapsed  ETA %s%s",
            tty ? "\r" : "", opt->label ? opt->label : "", opt->label ? "  " : "", step, steps,
            loss, rate / 1000, el, et, tty ? "\033[K" : "\n");
    check_stream(stderr);
}

/* A one-line note on stderr ("resuming from ..."), shown even when quiet. */
static void note(const rg_train_options *opt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(const rg_train_options *opt, const char *fmt, ...) {
    if (opt->label) fprintf(stderr, "%s: ", opt->label);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    check_stream(stderr);
}

/* ---- the run ------------------------------------------------------------------------- */

typedef struct run_state {
    rg_config cfg;
    rg_model model;
    rg_adamw adam;
    rg_rng rng; /* the training data stream */
    char ckpt[RG_PATH_MAX + 32], log_path[RG_PATH_MAX + 32], results[RG_PATH_MAX + 32];
    FILE *log;
} run_state;

/* A look at accuracy during training: the training length only, at most
 * 100 examples (the full evaluation runs at the end). */
static void progress_eval(rg_ctx *ctx, run_state *r, const rg_train_options *opt, bool tty,
                          int step) {
    rg_config *c = rg_xmalloc(sizeof *c, "a config");
    *c = r->cfg;
    snprintf(c->eval_lens, sizeof c->eval_lens, "%d", c->train_len);
    c->eval_n = c->eval_n < 100 ? c->eval_n : 100;
    rg_eval_result res;
    rg_evaluate(ctx, &r->model, c, &res);
    fprintf(stderr, "%s%s%seval at step %d: length %d exact match %.3f token accuracy %.3f%s\n",
            tty ? "\r" : "", opt->label ? opt->label : "", opt->label ? "  " : "", step,
            c->train_len, res.exact_match[0], res.token_acc[0], tty ? "\033[K" : "");
    check_stream(stderr);
    rg_eval_result_free(&res);
    free(c);
}

/* select = best: the validation score of this step and the best so far. */
static void progress_select(const rg_train_options *opt, bool tty, int step, double score,
                            const rg_adamw *adam) {
    fprintf(stderr, "%s%s%svalidation at step %d: exact match %.3f (best %.3f, step %ld)%s\n",
            tty ? "\r" : "", opt->label ? opt->label : "", opt->label ? "  " : "", step, score,
            adam->best_score, adam->best_step, tty ? "\033[K" : "");
    check_stream(stderr);
}

/* seconds: the run's training wall time so far (recorded with the step). */
static int save_checkpoint(run_state *r, double seconds, rg_error *err) {
    r->adam.seconds = seconds;
    fflush(r->log);
    fsync(fileno(r->log)); /* the log reaches the disk before the checkpoint that needs it */
    return rg_checkpoint_save(r->ckpt, &r->cfg, &r->model, &r->adam, &r->rng, err);
}

/* init_from: start from another run's parameters (a fresh optimizer, the
 * training data of this run's seed). The checkpoint's model must have the
 * same parameters: same shapes, same schemes. */
static int init_from(run_state *r, rg_error *err) {
    const char *path = r->cfg.init_from;
    rg_config *other = rg_xmalloc(sizeof *other, "a config");
    rg_config_defaults(other);
    int rc = rg_checkpoint_read_config(path, other, err);
    if (rc == 0) {
        rg_model m;
        if (rg_model_init(&m, &other->model, 0, err)) {
            rc = 2;
        } else {
            rc = rg_checkpoint_load(path, &m, NULL, NULL, err);
            if (rc == 0 && m.n_values != r->model.n_values)
                rc = fail(err, 2,
                          "init_from %s: its model has %ld parameter values, this config's "
                          "%ld; use a checkpoint of the same model (d_model, n_layers, pos, ...)",
                          path, m.n_values, r->model.n_values);
            for (int i = 0; rc == 0 && i < m.n_params; i++) {
                rg_param *mine = rg_model_param(&r->model, m.params[i].name);
                if (!mine || mine->t.size != m.params[i].t.size)
                    rc = fail(err, 2,
                              "init_from %s: parameter %s does not match this config's model; "
                              "use a checkpoint of the same model",
                              path, m.params[i].name);
            }
            if (rc == 0)
                for (int i = 0; i < m.n_params; i++)
                    memcpy(rg_model_param(&r->model, m.params[i].name)->t.data, m.params[i].t.data,
                           (size_t)m.params[i].t.size * sizeof(real));
            rg_model_free(&m);
        }
    }
    free(other);
    return rc;
}

/* Fresh start or resume (saying so). Fills r and the losses done so far;
 * returns 0 or 2. */
static int start_run(run_state *r, const rg_train_options *opt, float *loss, int *start,
                     rg_error *err) {
    const rg_config *cfg = &r->cfg;
    if (access(r->ckpt, F_OK) == 0) {
        rg_config saved;
        rg_config_defaults(&saved);
        if (rg_checkpoint_read_config(r->ckpt, &saved, err)) return 2;
        if (check_same_run(&saved, cfg, r->ckpt, err)) return 2;
        if (rg_model_init(&r->model, &cfg->model, (uint64_t)cfg->seed, err)) return 2;
        rg_adamw_init(&r->adam, &r->model, cfg->weight_decay);
        if (rg_checkpoint_load(r->ckpt, &r->model, &r->adam, &r->rng, err)) return 2;
        *start = (int)r->adam.step;
        if (*start > cfg->steps)
            return fail(err, 2,
                        "%s: checkpoint is at step %d, beyond steps = %d; raise steps or "
                        "use another out_dir",
                        r->ckpt, *start, cfg->steps);
        if (restore_log(r->log_path, *start, loss, err)) return 2;
        r->log = fopen(r->log_path, "a");
        if (*start == cfg->steps)
            note(opt, "run already complete (%s is at step %d of %d): evaluating only", r->ckpt,
                 *start, cfg->steps);
        else
            note(opt, "resuming from %s at step %d of %d", r->ckpt, *start, cfg->steps);
    } else {
        if (rg_model_init(&r->model, &cfg->model, (uint64_t)cfg->seed, err)) return 2;
        if (cfg->init_from[0] && init_from(r, err)) return 2;
        rg_adamw_init(&r->adam, &r->model, cfg->weight_decay);
        rg_rng_seed(&r->rng, rg_train_seed(cfg->seed));
        *start = 0;
        r->log = fopen(r->log_path, "w");
        if (r->log) fprintf(r->log, "step,loss,lr,grad_norm\n");
    }
    if (!r->log) return fail(err, 2, "%s: cannot write: %s", r->log_path, strerror(errno));
    return 0;
}

/* Rank 0 (or a process alone): take out_dir and start or resume the run. */
static int open_run(run_state *r, const rg_train_options *opt, rg_dir_lock *lock, float *loss,
                    int *start, rg_error *err) {
    const rg_config *cfg = &r->cfg;
    int rc = rg_out_dir_make(cfg->out_dir, err);
    if (rc == 0) rc = rg_dir_lock_take(lock, cfg->out_dir, err);
    if (rc) return rc;
    remove_stale_temps(cfg->out_dir);
    return start_run(r, opt, loss, start, err);
}

int rg_train(const rg_config *cfg_in, const rg_train_options *opt_in, rg_run_summary *out,
             rg_error *err) {
    static const rg_train_options no_options;
    rg_train_options opt_copy = opt_in ? *opt_in : no_options;
    const rg_train_options *opt = &opt_copy;
    const rg_dist *dist = opt->dist;
    bool root = !dist || dist->rank == 0;
    /* the quiet key does what the option does; ranks other than 0 stay quiet */
    if (!root || cfg_in->quiet) opt_copy.quiet = true;
    memset(out, 0, sizeof *out);
    rg_run_info_init(&out->info);
    run_state *r = rg_xcalloc(1, sizeof *r, "a run");
    r->cfg = *cfg_in;
    rg_config *cfg = &r->cfg;
    rg_checkpoint_path(cfg, r->ckpt, sizeof r->ckpt);
    snprintf(r->log_path, sizeof r->log_path, "%s/train_log.csv", cfg->out_dir);
    snprintf(r->results, sizeof r->results, "%s/results.h5", cfg->out_dir);
    int rc = 0;
    if (dist && dist->size > cfg->batch_size)
        rc = fail(err, 2,
                  "batch_size = %d cannot be split over %d ranks (each takes rows of every "
                  "batch); raise batch_size or start fewer ranks",
                  cfg->batch_size, dist->size);

    float *loss = rg_xcalloc((size_t)cfg->steps + 1, sizeof(float), "the loss history");
    int start = 0;
    rg_dir_lock lock = {-1};
    if (rc == 0 && root) rc = open_run(r, opt, &lock, loss, &start, err);
    if (dist && dist->size > 1) {
        /* every rank learns rank 0's outcome; the others build the model and
         * receive rank 0's state */
        int all = rg_dist_agree(dist, rc);
        if (all && !rc)
            snprintf(err->msg, sizeof err->msg, "rank 0 could not start the run (status %d)", all);
        rc = all;
        if (rc == 0 && !root) {
            if (rg_model_init(&r->model, &cfg->model, (uint64_t)cfg->seed, err))
                rg_die("rank %d: %s", dist->rank, err->msg); /* rank 0 built the same model */
            rg_adamw_init(&r->adam, &r->model, cfg->weight_decay);
        }
        if (rc == 0) rg_dist_share_run(dist, &r->model, &r->adam, &r->rng, &start, loss);
    }
    r->adam.threads = cfg->threads;
    rg_ctx ctx;
    rg_ctx_init(&ctx, cfg->threads);
    rg_batch batch;
    rg_batch_init(&batch);
    rg_train_data data;
    rg_train_data_init(&data, cfg, 1);
    bool tty = isatty(STDERR_FILENO) && !opt->lines;
    /* wall time: this session's since t0, plus what the checkpoint recorded */
    double t0 = now_seconds(), before = r->adam.seconds, tokens = 0, busy = 0;
    int s = start;
    for (; rc == 0 && s < cfg->steps; s++) {
        double t_step = now_seconds();
        double lr = rg_lr_at(s, cfg->steps, cfg->warmup, cfg->lr);
        rg_train_data_batch(&data, s, &batch, &r->rng);
        rg_step st = {.lr = lr,
                      .grad_clip = cfg->grad_clip,
                      .dist = dist,
                      .step = s + 1,
                      .stop = stop_signal};
        if ((rc = rg_train_step(&ctx, &r->model, &r->adam, &batch, &st, err))) break;
        int stop = st.stop;
        double step_loss = st.loss, norm = st.grad_norm;
        loss[s] = (float)step_loss;
        if (root) { /* the loss at the build's precision (17 digits for float64) */
            fprintf(r->log, "%d,%.*g,%.6g,%.6g\n", s + 1, sizeof(real) == 8 ? 17 : 9,
                    sizeof(real) == 8 ? step_loss : (double)loss[s], lr, norm);
            fflush(r->log);
        }
        tokens += (double)batch.B * batch.T;
        double t_now = now_seconds();
        busy += t_now - t_step;
        progress(opt, tty, s + 1, cfg->steps, start, loss[s], tokens, busy, t_now - t0);
        bool last = s + 1 == cfg->steps;
        bool pause = opt->stop_after > 0 && s + 1 - start >= opt->stop_after && !last;
        /* select = best validates (rank 0) and checkpoints what it found */
        bool check = rg_select_due(cfg, s + 1);
        double score = 0;
        if (check && root) rc = rg_select_check(&ctx, &r->model, cfg, &r->adam, s + 1, &score, err);
        if ((s + 1) % cfg->checkpoint_every == 0 || last || stop || pause || check) {
            if (root && rc == 0) rc = save_checkpoint(r, before + now_seconds() - t0, err);
            if (dist && dist->size > 1) {
                rc = rg_dist_agree(dist, rc);
                if (!root && rc)
                    snprintf(err->msg, sizeof err->msg,
                             "rank 0 could not write the checkpoint at step %d", s + 1);
                if (rc == 0 && !rg_dist_same_params(dist, &r->model))
                    rc = fail(err, 1,
                              "step %d: the ranks hold different parameters (a bug in "
                              "data-parallel training; please report it); the checkpoint "
                              "holds rank 0's",
                              s + 1);
            }
            if (rc) break;
        }
        if (pause) {
            s++;
            break;
        }
        if (check && !opt->quiet)
            progress_select(opt, tty, s + 1, score, &r->adam);
        else if (!last && !opt->quiet && (s + 1) % cfg->eval_every == 0)
            progress_eval(&ctx, r, opt, tty, s + 1);
        if (stop) {
            s++;
            rc = 128 + stop;
            snprintf(err->msg, sizeof err->msg,
                     "stopped by signal %d (%s) at step %d of %d; checkpoint saved to %s; "
                     "run the same command again to resume",
                     stop, signal_name(stop), s, cfg->steps, r->ckpt);
            break;
        }
    }
    if (tty && !opt->quiet && s > start) fputc('\n', stderr), check_stream(stderr);
    out->wall_seconds = s > start ? before + now_seconds() - t0 : before;
    out->first_step = start;
    out->steps_done = s;
    if (rc == 0 && s == cfg->steps && root) {
        /* The final checkpoint is on disk: from here a stop signal may simply
         * end the process (it would otherwise wait for the evaluation). */
        struct sigaction dfl = {.sa_handler = SIG_DFL}, old[N_STOP_SIGNALS];
        for (int i = 0; i < N_STOP_SIGNALS; i++) sigaction(STOP_SIGNALS[i], &dfl, &old[i]);
        if (stop_signal) raise(stop_signal);
        double t_eval = now_seconds();
        bool best = cfg->select == RG_SELECT_BEST;
        if (best) rc = rg_select_restore(&r->model, cfg, &r->adam, err);
        if (rc == 0) {
            rg_evaluate(&ctx, &r->model, cfg, &out->eval);
            rg_evaluate_fit(&ctx, &r->model, cfg, &out->eval, &out->info);
        }
        for (int i = 0; i < N_STOP_SIGNALS; i++) sigaction(STOP_SIGNALS[i], &old[i], NULL);
        /* the recorded training time (also when this call only evaluated)
         * plus the final evaluation */
        out->wall_seconds = r->adam.seconds + now_seconds() - t_eval;
        out->info.selected_step = best ? r->adam.best_step : cfg->steps;
        if (best) out->info.val_exact_match = r->adam.best_score;
        rg_run_info_provenance(&out->info);
        rg_run_result res = {.cfg = cfg,
                             .train_loss = loss,
                             .n_steps = s,
                             .eval_len = out->eval.len,
                             .exact_match = out->eval.exact_match,
                             .token_acc = out->eval.token_acc,
                             .n_eval = out->eval.n,
                             .wall_seconds = out->wall_seconds,
                             .info = out->info};
        if (rc == 0) rc = rg_results_write_run(r->results, &res, err);
    }
    out->train_loss = loss;
    if (r->log) fclose(r->log);
    rg_dir_lock_release(&lock);
    rg_batch_free(&batch);
    rg_train_data_free(&data);
    rg_ctx_free(&ctx);
    rg_adamw_free(&r->adam);
    rg_model_free(&r->model);
    free(r);
    return rc;
}
