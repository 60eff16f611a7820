/* grid.c: an experiment's grid of runs (experiment.h): making it (each
 * run's config and directory, validated) and training it: one after
 * another, `jobs` at once on this machine, or over the ranks of an MPI job.
 *
 * Every run trains in its own directory, which its trainer locks, and
 * resumes from its checkpoint there; a run's numbers depend only on its
 * config (seed, thread count), never on which process trained it or when, so
 * all three ways give the same results.
 *
 * jobs > 1: each run is trained by a child made with fork(), not a program
 * started with posix_spawn: the child inherits the validated config as it
 * is (no command line to rebuild, no second parse that could read a value
 * differently) and the parent never starts a thread, an OpenMP team or an
 * open HDF5 file before forking, so the child starts clean. A child writes
 * its run's results.h5 and exits with rg_train's status; the parent reads
 * that file back.
 *
 * A run that out_dir/results.h5 already records (rg_grid_recorded) is not
 * trained again, whether or not its run directory exists: its record counts
 * as its result, if it was made with the same config where the config
 * decides the results (rg_config_differs); one made with another config is
 * an error naming the key. So a grid can be finished in pieces, on several
 * machines, from shipped results files (`relgrad results merge`).
 *
 * MPI: rank 0 hands out runs one at a time, in grid order, to whichever rank
 * asks (a rank asks when it has finished its previous run, and sends that
 * run's results with the request), so ranks stay busy whatever the runs
 * cost. A helper thread of rank 0 answers the requests (polling, so it uses
 * next to no CPU) while rank 0's main thread trains runs too; only that
 * thread calls MPI meanwhile (MPI_THREAD_SERIALIZED). Without thread
 * support rank 0 only hands out runs.
 */
#include "relgrad/experiment.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { TAG_REQUEST = 11, TAG_NEXT = 12 };

static void sleep_ms(int ms) {
    nanosleep(&(struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L}, NULL);
}

/* "quick.ini (task copy, pos NAME)": the config of one cell, in messages. */
static const char *cell_where(const char *config_path, const rg_config *c, char *buf, size_t n) {
    char pos[256];
    snprintf(buf, n, "%s (task %s, pos %s)", config_path, rg_task_name(c->task),
             rg_config_run_pos(c, ',', pos, sizeof pos));
    return buf;
}

int rg_grid_validate(const rg_config *base, const char *where, rg_error *err) {
    rg_config *c = rg_xmalloc(sizeof *c, "a config");
    int rc = 0;
    for (int t = 0; t < base->n_tasks && !rc; t++)
        for (int p = 0; p < base->n_positions && !rc; p++) {
            rg_config_grid_run(base, t, p, 0, c);
            char at[RG_PATH_MAX + 300];
            rc = rg_config_validate(c, cell_where(where, c, at, sizeof at), err);
        }
    free(c);
    return rc;
}

int rg_grid_run_dir(const rg_config *base, const rg_config *c, char *out, rg_error *err) {
    char pos[512], dir[2 * RG_PATH_MAX];
    rg_config_run_pos(c, '+', pos, sizeof pos);
    int len = snprintf(dir, sizeof dir, "%s/runs/%s-%s-%d", base->out_dir, rg_task_name(c->task),
                       pos, c->seed);
    if (len >= RG_PATH_MAX) {
        snprintf(err->msg, sizeof err->msg,
                 "out_dir '%s' is too long for its run directories; use a shorter path",
                 base->out_dir);
        return 2;
    }
    memcpy(out, dir, (size_t)len + 1);
    return 0;
}

int rg_grid_make(rg_grid *g, const rg_config *base, const char *config_path, rg_error *err) {
    memset(g, 0, sizeof *g);
    int np = base->n_positions, ns = base->n_seeds;
    g->n_runs = base->n_tasks * np * ns;
    g->runs = rg_xcalloc((size_t)g->n_runs, sizeof *g->runs, "the experiment's runs");
    snprintf(g->results, sizeof g->results, "%s/results.h5", base->out_dir);
    for (int i = 0; i < g->n_runs; i++) {
        rg_grid_run *run = &g->runs[i];
        int t = i / (np * ns), p = i / ns % np, s = i % ns;
        rg_config *c = &run->cfg;
        rg_config_grid_run(base, t, p, s, c);
        run->cell = t * np + p, run->seed = s;
        char pos[512], where[RG_PATH_MAX + 600];
        if (s == 0 && rg_config_validate(c, cell_where(config_path, c, where, sizeof where), err))
            return 2;
        if (rg_grid_run_dir(base, c, c->out_dir, err)) return 2;
        snprintf(run->label, sizeof run->label, "[%d/%d] %s %s seed %d", i + 1, g->n_runs,
                 rg_task_name(c->task), rg_config_run_pos(c, ',', pos, sizeof pos), c->seed);
    }
    return 0;
}

void rg_grid_free(rg_grid *g) {
    for (int i = 0; i < g->n_runs; i++) rg_run_data_free(&g->runs[i].result);
    free(g->runs);
    memset(g, 0, sizeof *g);
}

/* ---- runs results.h5 already records --------------------------------------------- */

/* Which of g's runs `results` records: those become done with their record
 * as their result; one recorded with another config is an error. */
static int check_recorded(rg_grid *g, const char *results, rg_error *err) {
    for (int i = 0; i < g->n_runs; i++) {
        rg_grid_run *run = &g->runs[i];
        char pos[512];
        rg_config_run_pos(&run->cfg, ',', pos, sizeof pos);
        const char *task = rg_task_name(run->cfg.task);
        bool has;
        if (rg_results_has_run(results, task, pos, run->cfg.seed, &has, err)) return 2;
        if (!has) continue;
        rg_run_data rec;
        if (rg_results_read_run(results, task, pos, run->cfg.seed, &rec, err)) return 2;
        int k = rg_config_differs(&rec.cfg, &run->cfg, RG_SAME_RESULTS);
        if (k >= 0) {
            const char *key = rg_config_key(k)->name;
            char was[RG_TEXT_MAX], now[RG_TEXT_MAX];
            rg_config_get(&rec.cfg, key, was, sizeof was);
            rg_config_get(&run->cfg, key, now, sizeof now);
            snprintf(err->msg, sizeof err->msg,
                     "%.300s records run %s/%.200s/%d with %s = %.100s, but this experiment has "
                     "%s = %.100s; use the same value, or another out_dir (to train and "
                     "evaluate the recorded runs again with it, move results.h5 aside: their "
                     "checkpoints stay in runs/)",
                     results, task, pos, run->cfg.seed, key, was, key, now);
            rg_run_data_free(&rec);
            return 2;
        }
        rg_run_data_free(&run->result);
        run->result = rec;
        run->done = run->recorded = true;
    }
    return 0;
}

int rg_grid_recorded(rg_grid *g, bool say, rg_error *err) {
    if (access(g->results, F_OK)) return 0; /* no results file: nothing recorded */
    int rc = check_recorded(g, g->results, err);
    int n = 0;
    for (int i = 0; i < g->n_runs; i++) n += g->runs[i].recorded;
    if (rc == 0 && say && n)
        fprintf(stderr, "experiment: %s records %d of the %d runs: %s\n", g->results, n, g->n_runs,
                n == g->n_runs ? "nothing to train" : "those are not trained again");
    return rc;
}

/* ---- a finished run ------------------------------------------------------------ */

/* Move a summary's arrays into the run's result. */
static void take_summary(rg_grid_run *run, rg_run_summary *sum) {
    rg_run_data *r = &run->result;
    r->train_loss = sum->train_loss, r->n_steps = sum->steps_done;
    r->eval_len = sum->eval.len, r->n_eval = sum->eval.n;
    r->exact_match = sum->eval.exact_match, r->token_acc = sum->eval.token_acc;
    r->wall_seconds = sum->wall_seconds;
    r->info = sum->info;
    memset(sum, 0, sizeof *sum);
    run->done = true;
}

static void print_done(const rg_grid_run *run, const char *who) {
    const rg_run_data *r = &run->result;
    fprintf(stderr, "%s%s  exact match:", run->label, who);
    for (int k = 0; k < r->n_eval; k++)
        fprintf(stderr, " %d:%.2f", r->eval_len[k], r->exact_match[k]);
    fprintf(stderr, "\n");
}

/* Add a finished run to the experiment's results.h5. */
static int write_result(const rg_grid *g, const rg_grid_run *run, rg_error *err) {
    const rg_run_data *r = &run->result;
    rg_run_result res = {.cfg = &run->cfg,
                         .train_loss = r->train_loss,
                         .n_steps = r->n_steps,
                         .eval_len = r->eval_len,
                         .exact_match = r->exact_match,
                         .token_acc = r->token_acc,
                         .n_eval = r->n_eval,
                         .wall_seconds = r->wall_seconds,
                         .info = r->info};
    return rg_results_write_run(g->results, &res, err);
}

static int failed(rg_error *err, const rg_grid_run *run, int rc, const char *why) {
    if (rc > 128 && rc < 128 + 65)
        snprintf(err->msg, sizeof err->msg,
                 "stopped by signal %d; every run's checkpoint is saved in its directory under "
                 "runs/; run the same command again to resume",
                 rc - 128);
    else
        snprintf(err->msg, sizeof err->msg,
                 "%.300s failed (status %d)%s%.400s; its directory: %.250s", run->label, rc,
                 why[0] ? ": " : "", why, run->cfg.out_dir);
    return rc;
}

/* ---- one after another ------------------------------------------------------------ */

static int train_in_turn(rg_grid *g, rg_error *err) {
    for (int i = 0; i < g->n_runs; i++) {
        rg_grid_run *run = &g->runs[i];
        if (run->done) continue;
        rg_train_options opt = {.label = run->label};
        rg_run_summary sum;
        rg_error why;
        int rc = rg_train(&run->cfg, &opt, &sum, &why);
        if (rc == 0) {
            take_summary(run, &sum);
            rc = write_result(g, run, &why);
            print_done(run, "");
        }
        rg_run_summary_free(&sum);
        if (rc) return failed(err, run, rc, why.msg);
    }
    return 0;
}

/* ---- jobs at once, in child processes ------------------------------------------------ */

/* The child: train, say why it failed, exit with the status. */
static _Noreturn void child_train(rg_grid_run *run) {
    /* children's progress lines would interleave on a terminal: plain lines only */
    rg_train_options opt = {.label = run->label, .quiet = isatty(STDERR_FILENO), .lines = true};
    rg_run_summary sum;
    rg_error why;
    int rc = rg_train(&run->cfg, &opt, &sum, &why);
    if (rc && rc < 128) fprintf(stderr, "relgrad experiment: %s: %s\n", run->label, why.msg);
    rg_run_summary_free(&sum);
    fflush(stdout);
    fflush(stderr);
    exit(rc);
}

/* Read back what the child wrote in its run directory. */
static int collect_child(rg_grid *g, rg_grid_run *run, rg_error *err) {
    char path[RG_PATH_MAX + 32], pos[512];
    snprintf(path, sizeof path, "%s/results.h5", run->cfg.out_dir);
    rg_config_run_pos(&run->cfg, ',', pos, sizeof pos);
    int rc = rg_results_read_run(path, rg_task_name(run->cfg.task), pos, run->cfg.seed,
                                 &run->result, err);
    if (rc) return rc;
    run->done = true;
    return write_result(g, run, err);
}

static int train_in_children(rg_grid *g, int jobs, rg_error *err) {
    pid_t pid_of[RG_MAX_JOBS];
    int run_of[RG_MAX_JOBS], running = 0, next = 0, rc = 0, forwarded = 0;
    while (next < g->n_runs || running > 0) {
        while (next < g->n_runs && g->runs[next].done) next++;
        while (rc == 0 && !rg_stop_signal() && next < g->n_runs && running < jobs) {
            rg_grid_run *run = &g->runs[next];
            fflush(stdout);
            fflush(stderr);
            pid_t pid = fork();
            if (pid < 0) {
                rc = failed(err, run, 1, strerror(errno));
                break;
            }
            if (pid == 0) child_train(run);
            pid_of[running] = pid, run_of[running] = next++;
            running++;
            while (next < g->n_runs && g->runs[next].done) next++;
            if (!run->cfg.quiet)
                fprintf(stderr, "%s  started (process %ld)\n", run->label, (long)pid);
        }
        if (running == 0) break;
        int sig = rg_stop_signal();
        if (sig && sig != forwarded) /* a signal to this process alone: pass it on */
            for (int j = 0; j < running; j++) kill(pid_of[j], sig);
        forwarded = sig;
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno != EINTR) rg_die("experiment: waitpid: %s", strerror(errno));
            continue; /* a signal: forward it (above) and wait again */
        }
        int j = 0;
        while (j < running && pid_of[j] != pid) j++;
        if (j == running) continue; /* not one of ours */
        rg_grid_run *run = &g->runs[run_of[j]];
        pid_of[j] = pid_of[running - 1], run_of[j] = run_of[running - 1];
        running--;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        rg_error why = {""};
        if (code == 0) code = collect_child(g, run, &why);
        if (code == 0)
            print_done(run, "");
        else if (rc == 0)
            rc = failed(err, run, code, why.msg);
    }
    if (rc == 0 && rg_stop_signal()) rc = failed(err, &g->runs[0], 128 + rg_stop_signal(), "");
    return rc;
}

/* ---- over MPI ranks ------------------------------------------------------------------ */

/* A run's info on the wire: fit, its two accuracies, the selected step, its
 * validation score, then the provenance strings a character a double. */
enum {
    INFO_TEXT = sizeof(((rg_run_info *)0)->git_commit) + sizeof(((rg_run_info *)0)->precision) +
                sizeof(((rg_run_info *)0)->cpu_model),
    INFO_DOUBLES = 5 + INFO_TEXT
};

static void pack_info(const rg_run_info *info, double *out) {
    out[0] = info->fit, out[1] = info->fit_exact_match, out[2] = info->fit_token_acc;
    out[3] = (double)info->selected_step, out[4] = info->val_exact_match;
    const char *texts[] = {info->git_commit, info->precision, info->cpu_model};
    size_t sizes[] = {sizeof info->git_commit, sizeof info->precision, sizeof info->cpu_model};
    double *at = out + 5;
    for (int t = 0; t < 3; t++)
        for (size_t c = 0; c < sizes[t]; c++) *at++ = (unsigned char)texts[t][c];
}

static void unpack_info(const double *in, rg_run_info *info) {
    info->fit = (int)in[0], info->fit_exact_match = in[1], info->fit_token_acc = in[2];
    info->selected_step = (long)in[3], info->val_exact_match = in[4];
    char *texts[] = {info->git_commit, info->precision, info->cpu_model};
    size_t sizes[] = {sizeof info->git_commit, sizeof info->precision, sizeof info->cpu_model};
    const double *at = in + 5;
    for (int t = 0; t < 3; t++) {
        for (size_t c = 0; c < sizes[t]; c++) texts[t][c] = (char)*at++;
        texts[t][sizes[t] - 1] = '\0';
    }
}

/* A result on the wire: index, status, n_steps, n_eval, wall seconds, the
 * run's info, then the losses, lengths, exact matches and token accuracies,
 * as doubles (every value, float losses and int lengths included, survives
 * exactly). */
static double *pack(int index, int rc, const rg_run_data *r, int *n) {
    int steps = rc ? 0 : r->n_steps, k = rc ? 0 : r->n_eval;
    *n = 5 + INFO_DOUBLES + steps + 3 * k;
    double *buf = rg_xcalloc((size_t)*n, sizeof(double), "a run's results");
    buf[0] = index, buf[1] = rc, buf[2] = steps, buf[3] = k, buf[4] = rc ? 0 : r->wall_seconds;
    if (!rc) pack_info(&r->info, buf + 5);
    double *data = buf + 5 + INFO_DOUBLES;
    for (int i = 0; i < steps; i++) data[i] = r->train_loss[i];
    for (int i = 0; i < k; i++) {
        data[steps + i] = r->eval_len[i];
        data[steps + k + i] = r->exact_match[i];
        data[steps + 2 * k + i] = r->token_acc[i];
    }
    return buf;
}

static void unpack(const double *buf, rg_run_data *r) {
    int steps = (int)buf[2], k = (int)buf[3];
    r->n_steps = steps, r->n_eval = k, r->wall_seconds = buf[4];
    unpack_info(buf + 5, &r->info);
    const double *data = buf + 5 + INFO_DOUBLES;
    r->train_loss = rg_xmalloc((size_t)steps * sizeof(float) + 1, "a run's losses");
    r->eval_len = rg_xmalloc((size_t)k * sizeof(int) + 1, "a run's lengths");
    r->exact_match = rg_xmalloc((size_t)k * sizeof(double) + 1, "a run's accuracies");
    r->token_acc = rg_xmalloc((size_t)k * sizeof(double) + 1, "a run's accuracies");
    for (int i = 0; i < steps; i++) r->train_loss[i] = (float)data[i];
    for (int i = 0; i < k; i++) {
        r->eval_len[i] = (int)data[steps + i];
        r->exact_match[i] = data[steps + k + i];
        r->token_acc[i] = data[steps + 2 * k + i];
    }
}

/* What rank 0's two threads share (under `lock`). */
typedef struct {
    rg_grid *g;
    const rg_dist *dist;
    pthread_mutex_t lock;
    int next;       /* the next run to hand out                      */
    int rc;         /* the first failure, 0 while none               */
    rg_error err;   /* ... and why                                   */
    bool *to_write; /* [n_runs] finished, not yet in results.h5      */
} scheduler;

/* The next run to train, or -1: all handed out, a failure, or a stop. */
static int take_next(scheduler *s) {
    while (s->next < s->g->n_runs && s->g->runs[s->next].done) s->next++;
    if (s->rc || rg_stop_signal() || s->next >= s->g->n_runs) return -1;
    return s->next++;
}

static void record(scheduler *s, int index, int rc, const char *why) {
    if (rc == 0) {
        s->to_write[index] = true;
    } else if (s->rc == 0) {
        s->rc = failed(&s->err, &s->g->runs[index], rc, why);
    }
}

/* Rank 0's helper thread: answer every other rank until each is told to stop. */
static void *hand_out(void *arg) {
    scheduler *s = arg;
    int active = s->dist->size - 1;
    while (active > 0) {
        int from, n;
        if (!rg_dist_probe(s->dist, TAG_REQUEST, &from, &n)) {
            sleep_ms(2);
            continue;
        }
        double *buf = rg_xmalloc((size_t)n * sizeof(double), "a run's results");
        rg_dist_recv(s->dist, from, TAG_REQUEST, buf, n);
        pthread_mutex_lock(&s->lock);
        int index = (int)buf[0];
        if (index >= 0) {
            char why[64];
            snprintf(why, sizeof why, "on rank %d (its message is above)", from);
            if (buf[1] == 0) unpack(buf, &s->g->runs[index].result), s->g->runs[index].done = true;
            record(s, index, (int)buf[1], why);
        }
        double next = take_next(s);
        pthread_mutex_unlock(&s->lock);
        free(buf);
        rg_dist_send(s->dist, from, TAG_NEXT, &next, 1);
        if (next < 0) active--;
    }
    return NULL;
}

/* Rank 0's main thread: results of finished runs into results.h5 (HDF5 is
 * used by this thread only). */
static void write_pending(scheduler *s) {
    for (int i = 0; i < s->g->n_runs; i++) {
        pthread_mutex_lock(&s->lock);
        bool now = s->to_write[i];
        s->to_write[i] = false;
        pthread_mutex_unlock(&s->lock);
        rg_error why;
        if (now && write_result(s->g, &s->g->runs[i], &why)) {
            pthread_mutex_lock(&s->lock);
            record(s, i, 2, why.msg);
            pthread_mutex_unlock(&s->lock);
        }
    }
}

static int train_as_rank0(rg_grid *g, const rg_dist *dist, rg_error *err) {
    scheduler s = {.g = g, .dist = dist};
    pthread_mutex_init(&s.lock, NULL);
    s.to_write = rg_xcalloc((size_t)g->n_runs, sizeof(bool), "the run list");
    pthread_t helper;
    bool threaded = dist->threads_ok && pthread_create(&helper, NULL, hand_out, &s) == 0;
    if (!threaded) {
        fprintf(stderr, "experiment: rank 0 hands out runs and trains none (MPI without thread "
                        "support)\n");
        hand_out(&s);
    }
    while (threaded) {
        pthread_mutex_lock(&s.lock);
        int index = take_next(&s);
        pthread_mutex_unlock(&s.lock);
        if (index < 0) break;
        rg_grid_run *run = &g->runs[index];
        rg_train_options opt = {.label = run->label, .lines = true};
        rg_run_summary sum;
        rg_error why;
        int rc = rg_train(&run->cfg, &opt, &sum, &why);
        if (rc == 0) {
            take_summary(run, &sum);
            print_done(run, " (rank 0)");
        }
        rg_run_summary_free(&sum);
        pthread_mutex_lock(&s.lock);
        record(&s, index, rc, why.msg);
        pthread_mutex_unlock(&s.lock);
        write_pending(&s);
    }
    if (threaded) pthread_join(helper, NULL);
    write_pending(&s);
    int rc = s.rc;
    if (rc == 0 && rg_stop_signal()) rc = failed(&s.err, &g->runs[0], 128 + rg_stop_signal(), "");
    if (rc == 0)
        for (int i = 0; i < g->n_runs; i++)
            if (!g->runs[i].done) rc = failed(&s.err, &g->runs[i], 1, "no result came back");
    if (rc) *err = s.err;
    free(s.to_write);
    pthread_mutex_destroy(&s.lock);
    return rc;
}

/* Another rank: ask for a run, train it, send its results with the next
 * request, until told to stop. */
static int train_as_worker(rg_grid *g, const rg_dist *dist, rg_error *err) {
    double hello = -1;
    rg_dist_send(dist, 0, TAG_REQUEST, &hello, 1);
    int rc = 0;
    for (;;) {
        int from, n;
        while (!rg_dist_probe(dist, TAG_NEXT, &from, &n)) sleep_ms(2);
        double next;
        rg_dist_recv(dist, 0, TAG_NEXT, &next, 1);
        if (next < 0) break;
        rg_grid_run *run = &g->runs[(int)next];
        char label[450];
        snprintf(label, sizeof label, "%s (rank %d)", run->label, dist->rank);
        rg_train_options opt = {.label = label, .lines = true};
        rg_run_summary sum;
        rg_error why;
        int status = rg_train(&run->cfg, &opt, &sum, &why);
        if (status == 0)
            take_summary(run, &sum);
        else if (status < 128)
            fprintf(stderr, "relgrad experiment: %s: %s\n", label, why.msg);
        rg_run_summary_free(&sum);
        if (status == 0) print_done(run, "");
        int len;
        double *buf = pack((int)next, status, &run->result, &len);
        rg_dist_send(dist, 0, TAG_REQUEST, buf, len);
        free(buf);
        if (status && !rc) rc = failed(err, run, status, why.msg);
    }
    return rc;
}

int rg_grid_train(rg_grid *g, const rg_config *base, const rg_dist *dist, rg_error *err) {
    if (dist && dist->size > 1) {
        int threads = rg_dist_threads(dist, base->threads);
        for (int i = 0; i < g->n_runs; i++) g->runs[i].cfg.threads = threads;
        return dist->rank == 0 ? train_as_rank0(g, dist, err) : train_as_worker(g, dist, err);
    }
    if (base->jobs > 1) {
        int threads = base->threads / base->jobs > 0 ? base->threads / base->jobs : 1;
        for (int i = 0; i < g->n_runs; i++) g->runs[i].cfg.threads = threads;
        return train_in_children(g, base->jobs, err);
    }
    return train_in_turn(g, err);
}
