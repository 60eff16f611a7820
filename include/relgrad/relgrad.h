/* relgrad.h: the whole public API in one include.
 *   tensor.h      real type, tensors, arena, context, rng, checked allocation
 *   tape.h        reverse-mode autograd
 *   ops.h         differentiable operations (the attention kernel and its score terms)
 *   params.h      named parameters in flat buffers
 *   data.h        the synthetic tasks, batches, randomized positions, data seeds
 *   dist.h        the processes of one job (MPI ranks), data-parallel steps
 *   schemes.h     the positional schemes' registry and options
 *   config.h      run configuration: keys, parsing, validation
 *   nn.h          the model, segment memory, key/value-cache decoding
 *   optim.h       AdamW, the schedule, clipping
 *   io.h          HDF5 checkpoints, dumps and results
 *   train.h       training runs and evaluation
 *   gradcheck.h   the finite-difference gradient checker
 *   inspect.h     looking inside a model: attention maps, the tape as a graph
 *   experiment.h  the grid of runs and what an experiment writes
 *   runtime.h     the program's startup settings (OpenMP waiting, BLIS kernels)
 */
#ifndef RELGRAD_H
#define RELGRAD_H

#include "relgrad/config.h"
#include "relgrad/data.h"
#include "relgrad/dist.h"
#include "relgrad/experiment.h"
#include "relgrad/gradcheck.h"
#include "relgrad/inspect.h"
#include "relgrad/io.h"
#include "relgrad/nn.h"
#include "relgrad/ops.h"
#include "relgrad/optim.h"
#include "relgrad/params.h"
#include "relgrad/runtime.h"
#include "relgrad/schemes.h"
#include "relgrad/tape.h"
#include "relgrad/tensor.h"
#include "relgrad/train.h"

#endif
