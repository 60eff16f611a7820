/* params.c: declaring named parameters into flat buffers (params.h). */
#include "relgrad/params.h"

#include <stdio.h>

rg_tensor *rg_declare(rg_param_builder *pb, const char *name, int ndim, const int *shape,
                      bool decay, rg_init_kind init, double init_value) {
    long size = rg_shape_size(ndim, shape);
    if (pb->counting) {
        pb->n_params++;
        pb->n_values += size;
        return NULL;
    }
    rg_param *p = &pb->params[pb->n_params++];
    if (snprintf(p->name, sizeof p->name, "%s", name) >= (int)sizeof p->name)
        rg_die("parameter name '%s' is longer than %d characters", name, RG_NAME_MAX - 1);
    p->offset = pb->n_values;
    p->decay = decay;
    p->init = init;
    p->init_value = init_value;
    p->t = rg_wrap(pb->values + pb->n_values, pb->grads + pb->n_values, ndim, shape, p->name);
    pb->n_values += size;
    return &p->t;
}
