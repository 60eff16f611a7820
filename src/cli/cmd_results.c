/* cmd_results.c: `relgrad results list RESULTS` (the runs a results file
 * records: fit, selection, provenance; each as TASK/POS/SEED, the name
 * `relgrad train --from` takes) and `relgrad results merge OUT IN1 IN2 ...`
 * (results files made on several machines into one; io.h's
 * rg_results_merge does the work). */
#include "args.h"
#include "cli.h"
#include "help.h"
#include "relgrad/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(const char *why) {
    fprintf(stderr, "relgrad results: %s\n", why);
    rg_help_usage(stderr, "results");
    return RG_EXIT_BAD_INPUT;
}

/* One line per run. */
static int list(const char *path) {
    rg_run_name *runs;
    int n;
    rg_error err;
    if (rg_results_list(path, &runs, &n, &err)) {
        fprintf(stderr, "relgrad results: %s\n", err.msg);
        return RG_EXIT_BAD_INPUT;
    }
    printf("%-28s %7s %-22s %9s  %-20s %-9s %s\n", "run (TASK/POS/SEED)", "steps",
           "fit at train_len", "selected", "git commit", "precision", "CPU");
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        rg_run_data d;
        rc = rg_results_read_run(path, runs[i].task, runs[i].pos, runs[i].seed, &d, &err);
        if (rc) break;
        char name[400], fit[64], selected[32];
        snprintf(name, sizeof name, "%s/%s/%d", runs[i].task, runs[i].pos, runs[i].seed);
        if (d.info.fit < 0)
            snprintf(fit, sizeof fit, "not recorded");
        else
            snprintf(fit, sizeof fit, "%s (%.3f at %d)", d.info.fit ? "yes" : "no",
                     d.info.fit_exact_match, d.cfg.train_len);
        if (d.info.selected_step > 0)
            snprintf(selected, sizeof selected, "%ld", d.info.selected_step);
        else
            snprintf(selected, sizeof selected, "-");
        printf("%-28s %7d %-22s %9s  %-20s %-9s %s\n", name, d.n_steps, fit, selected,
               d.info.git_commit[0] ? d.info.git_commit : "-",
               d.info.precision[0] ? d.info.precision : "-",
               d.info.cpu_model[0] ? d.info.cpu_model : "-");
        rg_run_data_free(&d);
    }
    free(runs);
    if (rc) fprintf(stderr, "relgrad results: %s\n", err.msg);
    return rc ? RG_EXIT_BAD_INPUT : rg_cli_stdout_status("results", RG_EXIT_OK);
}

static int merge(int n, char **files) {
    rg_error err;
    int runs;
    if (rg_results_merge(files[0], (const char *const *)files + 1, n - 1, &runs, &err)) {
        fprintf(stderr, "relgrad results: merge: %s\n", err.msg);
        return RG_EXIT_BAD_INPUT;
    }
    fprintf(stderr, "relgrad results: wrote %s (%d runs from %d files)\n", files[0], runs, n - 1);
    return RG_EXIT_OK;
}

int rg_cmd_results(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1]) {
            char why[300];
            snprintf(why, sizeof why, "argument %d: unknown option '%.200s'; results takes --help",
                     i + 2, argv[i]);
            return usage(why);
        }
    if (argc < 1) return usage("missing what to do: list or merge");
    if (!strcmp(argv[0], "list")) {
        if (argc != 2) return usage("list takes one results file: relgrad results list RESULTS");
        return list(argv[1]);
    }
    if (!strcmp(argv[0], "merge")) {
        if (argc < 3)
            return usage("merge takes the output and at least one input: relgrad results merge "
                         "OUT IN1 [IN2 ...]");
        return merge(argc - 1, argv + 1);
    }
    char why[300];
    snprintf(why, sizeof why, "argument 2: unknown action '%.200s'; use list or merge", argv[0]);
    return usage(why);
}
