/* dist.h: the processes of one job (MPI ranks): who we are, and the few
 * collective steps that data-parallel training and distributed experiment
 * grids need. The only file that calls MPI is src/train/dist.c.
 *
 * A process started by mpirun (or by Slurm's srun, or another PMI launcher)
 * is one rank of `size`; a process started alone is rank 0 of 1 and never
 * initialises MPI (no launcher, no cost). Every function here is a no-op
 * that returns at once when size is 1, so the same code path serves both.
 *
 * No function here may be called from a signal handler.
 */
#ifndef RELGRAD_DIST_H
#define RELGRAD_DIST_H

#include "relgrad/nn.h"
#include "relgrad/optim.h"

#include <stdbool.h>

typedef struct rg_dist {
    int rank, size;  /* this process's rank in 0 .. size-1                    */
    int local_rank;  /* rank among the processes on this machine              */
    int local_size;  /* processes of the job on this machine                  */
    bool mpi;        /* MPI was initialised (a launcher started us)           */
    bool threads_ok; /* MPI allows calls from a helper thread (SERIALIZED)    */
    char host[64];   /* this machine's name, for messages                     */
} rg_dist;

/* Start: MPI_Init_thread when a launcher started this process, otherwise
 * rank 0 of 1. Returns 0, or 1 with err filled when MPI fails to start. */
int rg_dist_init(rg_dist *d, char *errbuf, size_t n);

/* End: MPI_Finalize (when it was initialised). Returns rc, for `return
 * rg_dist_finish(&d, rc);`. */
int rg_dist_finish(rg_dist *d, int rc);

/* Stop every rank of the job at once with status rc (MPI_Abort), for a
 * failure the other ranks cannot know about; returns rc when alone. */
int rg_dist_abort(const rg_dist *d, int rc);

/* Threads per process when `threads` is the budget of one machine shared by
 * `local_size` processes: max(1, threads / local_size). */
int rg_dist_threads(const rg_dist *d, int threads);

/* The rows of a global batch of B rows that this rank takes: first and
 * count, contiguous and balanced (rank r: r*B/size .. (r+1)*B/size - 1). */
void rg_dist_rows(const rg_dist *d, int B, int *first, int *count);

/* After each rank's forward and backward over its own rows: make every
 * rank's gradients the gradient of the GLOBAL batch's loss, and return that
 * loss. The loss is a masked mean, so a rank's loss (a mean over its
 * local_mask masked tokens) and its gradients are first scaled by
 * local_mask / global_mask; then gradients and losses are summed over the
 * ranks with MPI_Allreduce. MPI_Allreduce runs the same algorithm for the
 * same number of ranks and message size, so the order of the sums is fixed
 * and results repeat exactly; every rank receives the same sums.
 * *stop: in, this rank's stop request (a signal number, or 0); out, the
 * largest over the ranks, so every rank stops at the same step. */
double rg_dist_reduce_step(const rg_dist *d, rg_model *m, double local_loss, double local_mask,
                           double global_mask, int *stop);

/* Rank 0's status to every rank (MPI_Bcast): after something only rank 0
 * did (loading, writing a checkpoint), so all ranks go on or stop together. */
int rg_dist_agree(const rg_dist *d, int rc);

/* The state of a run, from rank 0 to every rank: parameters, optimizer
 * moments and step, the data rng, the first step and the losses so far. */
void rg_dist_share_run(const rg_dist *d, rg_model *m, rg_adamw *adam, rg_rng *rng, int *start,
                       float *loss);

/* Whether every rank holds bit-identical parameters (a 64-bit hash of them
 * compared over the ranks). True when alone. */
bool rg_dist_same_params(const rg_dist *d, const rg_model *m);

/* ---- messages between ranks (the experiment grid's scheduler) ------------------ */

/* Block until every rank gets here. */
void rg_dist_barrier(const rg_dist *d);

/* Send n doubles to rank `to` with `tag`. */
void rg_dist_send(const rg_dist *d, int to, int tag, const double *buf, int n);

/* Is a message with `tag` waiting (from any rank)? Its sender and length
 * (in doubles) when it is. Never blocks. */
bool rg_dist_probe(const rg_dist *d, int tag, int *from, int *n);

/* Receive the message of `tag` from `from` (n doubles, blocking). */
void rg_dist_recv(const rg_dist *d, int from, int tag, double *buf, int n);

#endif
