/* report.c: an experiment's pictures (experiment.h): out_dir/plot.png,
 * drawn by tools/plot_results.py, and out_dir/report.html. For the report
 * the C side makes the attention maps (the inspect layer, the same code as
 * `relgrad attention`); the page itself is written by tools/report.py. Both
 * tools are started with an argument vector (no shell reads the paths). */
#include "relgrad/experiment.h"
#include "relgrad/inspect.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int rg_experiment_plot(const rg_config *base, rg_error *err) {
    char script[RG_PATH_MAX + 64], results[RG_PATH_MAX + 32], plot[RG_PATH_MAX + 32];
    char why[RG_PATH_MAX + 200];
    snprintf(results, sizeof results, "%s/results.h5", base->out_dir);
    snprintf(plot, sizeof plot, "%s/plot.png", base->out_dir);
    char *args[] = {"/usr/bin/python3",
                    (char *)rg_tool_path("plot_results.py", script, sizeof script), results, plot,
                    NULL};
    if (rg_spawn_wait(args, why, sizeof why)) {
        snprintf(err->msg, sizeof err->msg,
                 "plotting failed (%s); results.h5 and table.md are complete; install "
                 "python3-matplotlib python3-h5py (tools/setup.sh)",
                 why);
        return 1;
    }
    return 0;
}

int rg_experiment_report(const rg_config *base, rg_error *err) {
    char dir[RG_PATH_MAX + 16], results[RG_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/report", base->out_dir);
    snprintf(results, sizeof results, "%s/results.h5", base->out_dir);
    if (mkdir(dir, 0777) && errno != EEXIST) {
        snprintf(err->msg, sizeof err->msg, "report: cannot create %s: %s", dir, strerror(errno));
        return 2;
    }
    /* each cell's first seed: its run's config (from results.h5) names its
     * run directory, where its checkpoint is */
    for (int t = 0; t < base->n_tasks; t++)
        for (int p = 0; p < base->n_positions; p++) {
            char pos[512], file_pos[512], h5[2 * RG_PATH_MAX + 512], ckpt[RG_PATH_MAX + 32];
            rg_config_entry_name(base, p, ',', pos, sizeof pos);
            rg_config_entry_name(base, p, '+', file_pos, sizeof file_pos);
            const char *task = rg_task_name(base->tasks[t]);
            rg_run_data run;
            if (rg_results_read_run(results, task, pos, base->seeds[0], &run, err)) return 2;
            rg_checkpoint_path(&run.cfg, ckpt, sizeof ckpt);
            rg_run_data_free(&run);
            snprintf(h5, sizeof h5, "%s/attention-%s-%s.h5", dir, task, file_pos);
            /* a cell without maps (e.g. a learned table too short for 2x
             * the training length) is reported and left out of the page */
            rg_error why;
            if (rg_attention_of_checkpoint(ckpt, 0, 0, h5, NULL, &why))
                fprintf(stderr, "relgrad experiment: report: no attention maps for %s %s: %s\n",
                        task, pos, why.msg);
        }
    char script[RG_PATH_MAX + 64], why[RG_PATH_MAX + 300];
    rg_tool_path("report.py", script, sizeof script);
    char *args[] = {"/usr/bin/python3", script, (char *)base->out_dir, NULL};
    if (rg_spawn_wait(args, why, sizeof why)) {
        snprintf(err->msg, sizeof err->msg,
                 "report: %s; results.h5, table.md and plot.png are complete; install "
                 "python3-matplotlib python3-h5py (tools/setup.sh)",
                 why);
        return 2;
    }
    return 0;
}
