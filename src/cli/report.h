/* report.h: the HTML report of an experiment (out_dir/report.html). */
#ifndef RELGRAD_CLI_REPORT_H
#define RELGRAD_CLI_REPORT_H

#include "relgrad/config.h"

/* After an experiment has written results.h5, table.md and plot.png: the
 * attention maps of each (task, scheme) cell's first seed at the training
 * length and at 2x (out_dir/report/attention-<task>-<pos>.h5, drawn to .png),
 * then tools/report.py writes out_dir/report.html, one static page with the
 * table, the plot, the maps, and each run's config, wall time and loss curve.
 * A cell whose maps cannot be made (say, a learned table shorter than 2x
 * the training length) is named on stderr and left out. 0, or 2 with err. */
int rg_experiment_report(const rg_config *base, rg_error *err);

#endif
