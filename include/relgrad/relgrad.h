/* relgrad.h: the whole public API in one include.
 *   tensor.h  real type, tensors, arena, context, rng
 *   tape.h    reverse-mode autograd
 *   ops.h     differentiable operations
 */
#ifndef RELGRAD_H
#define RELGRAD_H

#include "relgrad/ops.h"
#include "relgrad/tape.h"
#include "relgrad/tensor.h"

#endif
