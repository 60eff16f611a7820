/* dist.c: the job's ranks over MPI (include/relgrad/dist.h), the one file
 * of relgrad that calls MPI.
 *
 * MPI is initialised only when a launcher started the process: mpirun (Open
 * MPI sets OMPI_COMM_WORLD_SIZE), or srun and other PMI launchers (PMIX_RANK,
 * PMI_RANK). Alone, relgrad is rank 0 of 1 without MPI: a singleton
 * MPI_Init would work too, but costs about half a second per command and
 * leaves Open MPI's allocations for the leak checker to report.
 */
#include "relgrad/dist.h"

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef RELGRAD_F64
#define MPI_REAL_T MPI_DOUBLE
#else
#define MPI_REAL_T MPI_FLOAT
#endif

static bool launched_by_mpi(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return true;
    return false;
}

int rg_dist_init(rg_dist *d, char *errbuf, size_t n) {
    memset(d, 0, sizeof *d);
    d->size = d->local_size = 1;
    if (gethostname(d->host, sizeof d->host) != 0) snprintf(d->host, sizeof d->host, "?");
    d->host[sizeof d->host - 1] = '\0';
    if (!launched_by_mpi()) return 0;
    int provided = MPI_THREAD_SINGLE;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
        snprintf(errbuf, n, "MPI_Init failed (started by a launcher: OMPI_/PMI variables set)");
        return 1;
    }
    d->mpi = true;
    d->threads_ok = provided >= MPI_THREAD_SERIALIZED;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &d->local_rank);
    MPI_Comm_size(local, &d->local_size);
    MPI_Comm_free(&local);
    return 0;
}

int rg_dist_finish(rg_dist *d, int rc) {
    if (d->mpi) {
        fflush(stdout);
        fflush(stderr);
        MPI_Finalize();
        d->mpi = false;
    }
    return rc;
}

int rg_dist_abort(const rg_dist *d, int rc) {
    if (!d->mpi || d->size == 1) return rc;
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, rc);
    return rc;
}

int rg_dist_threads(const rg_dist *d, int threads) {
    int each = d ? threads / d->local_size : threads;
    return each > 0 ? each : 1;
}

void rg_dist_rows(const rg_dist *d, int B, int *first, int *count) {
    int rank = d ? d->rank : 0, size = d ? d->size : 1;
    long lo = (long)rank * B / size, hi = (long)(rank + 1) * B / size;
    *first = (int)lo;
    *count = (int)(hi - lo);
}

double rg_dist_reduce_step(const rg_dist *d, rg_model *m, double local_loss, double local_mask,
                           double global_mask, int *stop) {
    if (!d || d->size == 1) return local_loss;
    double scale = local_mask / global_mask;
    for (long i = 0; i < m->n_values; i++) m->grads[i] = (real)(m->grads[i] * scale);
    double loss = local_loss * scale, sum = 0;
    MPI_Allreduce(MPI_IN_PLACE, m->grads, (int)m->n_values, MPI_REAL_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&loss, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    int mine = *stop;
    MPI_Allreduce(&mine, stop, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return sum;
}

int rg_dist_agree(const rg_dist *d, int rc) {
    if (!d || d->size == 1) return rc;
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return rc;
}

void rg_dist_share_run(const rg_dist *d, rg_model *m, rg_adamw *adam, rg_rng *rng, int *start,
                       float *loss) {
    if (!d || d->size == 1) return;
    long step = adam->step;
    MPI_Bcast(start, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(&step, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    adam->step = step;
    MPI_Bcast(m->values, (int)m->n_values, MPI_REAL_T, 0, MPI_COMM_WORLD);
    MPI_Bcast(adam->m, (int)adam->n, MPI_REAL_T, 0, MPI_COMM_WORLD);
    MPI_Bcast(adam->v, (int)adam->n, MPI_REAL_T, 0, MPI_COMM_WORLD);
    MPI_Bcast(rng->s, 4, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    if (*start > 0) MPI_Bcast(loss, *start, MPI_FLOAT, 0, MPI_COMM_WORLD);
}

/* FNV-1a over the parameters' bytes. */
static uint64_t params_hash(const rg_model *m) {
    const unsigned char *p = (const unsigned char *)m->values;
    size_t n = (size_t)m->n_values * sizeof(real);
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

bool rg_dist_same_params(const rg_dist *d, const rg_model *m) {
    if (!d || d->size == 1) return true;
    uint64_t h = params_hash(m), lo, hi;
    MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}

void rg_dist_barrier(const rg_dist *d) {
    if (d && d->mpi) MPI_Barrier(MPI_COMM_WORLD);
}

void rg_dist_send(const rg_dist *d, int to, int tag, const double *buf, int n) {
    (void)d;
    MPI_Send(buf, n, MPI_DOUBLE, to, tag, MPI_COMM_WORLD);
}

bool rg_dist_probe(const rg_dist *d, int tag, int *from, int *n) {
    (void)d;
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &flag, &st);
    if (!flag) return false;
    *from = st.MPI_SOURCE;
    MPI_Get_count(&st, MPI_DOUBLE, n);
    return true;
}

void rg_dist_recv(const rg_dist *d, int from, int tag, double *buf, int n) {
    (void)d;
    MPI_Recv(buf, n, MPI_DOUBLE, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}
