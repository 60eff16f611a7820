/* tape_dot.c: a recorded tape as a Graphviz DOT graph, and the backward
 * observer that measures what flows along each of its edges (inspect.h).
 *
 * Which nodes are a positional scheme's is not guessed from names: each tape
 * node carries the origin it was recorded under (tape.h: the layer and the
 * scheme whose hook was running), and a parameter is the scheme's when the
 * model holds it in the scheme's slots (m->shared, layer->sp).
 *
 * Edge gradients come from a backward observer: before a node's backward
 * runs it copies the gradients of the node's inputs, after it the norm of
 * (after - before) is what this node sent along that edge.
 */
#include "relgrad/inspect.h"
#include "relgrad/schemes.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the view and its observer ------------------------------------------------------- */

void rg_tape_view_init(rg_tape_view *v, const rg_ctx *ctx) {
    memset(v, 0, sizeof *v);
    for (rg_node *n = ctx->tape; n; n = n->prev) v->n++;
    v->nodes = rg_xcalloc((size_t)v->n + 1, sizeof *v->nodes, "the tape's nodes");
    int k = v->n;
    for (rg_node *n = ctx->tape; n; n = n->prev) v->nodes[--k] = n;
    v->grad_norm = rg_xmalloc(((size_t)v->n + 1) * RG_MAX_INPUTS * sizeof(double), "edge norms");
    for (long i = 0; i < (long)v->n * RG_MAX_INPUTS; i++) v->grad_norm[i] = -1;
    v->before = rg_xcalloc(RG_MAX_INPUTS, sizeof *v->before, "gradient snapshots");
}

void rg_tape_view_free(rg_tape_view *v) {
    for (int i = 0; v->before && i < RG_MAX_INPUTS; i++) free(v->before[i]);
    free(v->before);
    free(v->nodes);
    free(v->grad_norm);
    memset(v, 0, sizeof *v);
}

static int index_of(const rg_tape_view *v, const rg_node *node) {
    for (int k = v->n - 1; k >= 0; k--) /* backward walks from the end */
        if (v->nodes[k] == node) return k;
    return -1;
}

static void observe(void *arg, rg_ctx *ctx, rg_node *node, bool after) {
    rg_tape_view *v = arg;
    (void)ctx;
    int k = index_of(v, node);
    if (k < 0) return;
    for (int i = 0; i < node->n_in; i++) {
        rg_tensor *x = node->in[i];
        if (!rg_wants_grad(node, i)) continue;
        bool seen = false; /* the same tensor at two slots: measured at the first */
        for (int j = 0; j < i; j++) seen |= node->in[j] == x;
        if (seen) continue;
        if (!after) {
            free(v->before[i]);
            v->before[i] = rg_xcalloc((size_t)x->size, sizeof(real), "a gradient snapshot");
            if (x->grad) memcpy(v->before[i], x->grad, (size_t)x->size * sizeof(real));
            continue;
        }
        double sq = 0;
        for (long j = 0; x->grad && j < x->size; j++) {
            double d = (double)x->grad[j] - (double)v->before[i][j];
            sq += d * d;
        }
        v->grad_norm[(long)k * RG_MAX_INPUTS + i] = sqrt(sq);
        free(v->before[i]);
        v->before[i] = NULL;
    }
}

rg_backward_observer rg_tape_view_observer(rg_tape_view *v) {
    return (rg_backward_observer){observe, v};
}

/* ---- colours ---------------------------------------------------------------------------- */

/* Fill colours: plain ops, parameters, and one hue per scheme (ops lighter
 * than the scheme's parameters) so hybrids tell their schemes apart. */
#define OP_FILL    "#dbe9f6"
#define PARAM_FILL "#e4e4e4"
static const char *const SCHEME_OP_FILL[] = {"#fdd9a8", "#c9ecc4", "#f3c7e4", "#fff2a8"};
static const char *const SCHEME_PARAM_FILL[] = {"#f6a94e", "#7fcf74", "#e08ac2", "#e6cf3a"};
enum { N_HUES = 4 };

/* The hue of scheme id among the schemes this model uses (0, 1, ...). */
static int hue_of(const rg_model *m, int id) {
    int hue = 0;
    for (int s = 0; s < id; s++)
        for (int i = 0; i < m->cfg.schemes.n; i++)
            if (m->cfg.schemes.id[i] == s) {
                hue++;
                break;
            }
    return hue % N_HUES;
}

/* The scheme owning parameter tensor t, or -1. */
static int scheme_of_param(const rg_model *m, const rg_tensor *t) {
    for (int id = 0; id < rg_scheme_count() && id < RG_MAX_SCHEMES; id++)
        for (int k = 0; k < RG_SCHEME_PARAMS; k++)
            if (m->shared[id][k] == t) return id;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int k = 0; k < RG_SCHEME_PARAMS; k++)
            if (m->layers[l].sp[k] == t) return m->layers[l].scheme;
    return -1;
}

static int param_index(const rg_model *m, const rg_tensor *t) {
    for (int i = 0; i < m->n_params; i++)
        if (&m->params[i].t == t) return i;
    return -1;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* Producer of tensor t among nodes[0..k-1], or -1. */
static int producer(const rg_tape_view *v, int k, const rg_tensor *t) {
    for (int j = k - 1; j >= 0; j--)
        if (v->nodes[j]->out == t) return j;
    return -1;
}

/* A DOT string: the text with quotes and backslashes escaped, line breaks as \n. */
static void put_escaped(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '\n') { /* a line break in the label */
            fputs("\\n", f);
            continue;
        }
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
}

/* Which cluster (layer) a node goes in: its origin's layer, -1 outside. */
static int layer_of(const rg_node *n) {
    return n->origin.layer;
}

int rg_tape_write_dot(FILE *f, const rg_tape_view *v, const rg_model *m, bool with_grads,
                      const char *title) {
    int n = v->n;
    /* leaf inputs (parameters and constants): one node each, in the cluster
     * of their consumers when those all sit in one layer */
    int cap = n * RG_MAX_INPUTS + 1, n_leaf = 0;
    const rg_tensor **leaf = rg_xcalloc((size_t)cap, sizeof *leaf, "graph leaves");
    int *leaf_layer = rg_xcalloc((size_t)cap, sizeof *leaf_layer, "graph leaves");
    int *src = rg_xcalloc((size_t)cap, sizeof *src, "graph edges"); /* >= 0 op, < 0 leaf -1-i */
    for (int k = 0; k < n; k++) {
        const rg_node *node = v->nodes[k];
        for (int i = 0; i < node->n_in; i++) {
            const rg_tensor *t = node->in[i];
            int p = t ? producer(v, k, t) : -1, e = k * RG_MAX_INPUTS + i;
            if (!t) {
                src[e] = INT32_MIN;
                continue;
            }
            if (p >= 0) {
                src[e] = p;
                continue;
            }
            int l = 0;
            while (l < n_leaf && leaf[l] != t) l++;
            if (l == n_leaf)
                leaf[n_leaf] = t, leaf_layer[n_leaf] = layer_of(node), n_leaf++;
            else if (leaf_layer[l] != layer_of(node))
                leaf_layer[l] = -2; /* several layers */
            src[e] = -1 - l;
        }
    }

    fprintf(f, "digraph tape {\n");
    fprintf(f, "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=12, labelloc=t, "
               "nodesep=0.25, ranksep=0.35, label=\"");
    put_escaped(f, title);
    fprintf(f, "\"];\n  node [fontname=\"Helvetica\", fontsize=9, margin=\"0.06,0.03\"];\n"
               "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\"];\n");
    /* clusters: -1 (embedding and head) outside, then one per block */
    for (int layer = -1; layer < m->cfg.n_layers; layer++) {
        if (layer >= 0) {
            char pos[64];
            int id = m->layers[layer].scheme;
            snprintf(pos, sizeof pos, "%s", rg_scheme_name(id));
            fprintf(f,
                    "  subgraph cluster_block%d {\n    label=\"block %d (%s)\"; style=rounded; "
                    "color=\"#9a9a9a\"; fontsize=11;\n",
                    layer, layer, pos);
        }
        for (int k = 0; k < n; k++) {
            const rg_node *node = v->nodes[k];
            if (layer_of(node) != layer) continue;
            char shape[64];
            rg_shape_str(node->out, shape, sizeof shape);
            int id = node->origin.scheme;
            const char *fill = id >= 0 ? SCHEME_OP_FILL[hue_of(m, id)] : OP_FILL;
            fprintf(f, "    op%d [label=\"", k);
            put_escaped(f, node->op);
            fprintf(f, "\\n%s", shape);
            if (id >= 0) fprintf(f, "\\n(%s)", rg_scheme_name(id));
            const char *term = rg_attention_term_name(node, 0);
            for (int t = 0; term; term = rg_attention_term_name(node, ++t)) {
                fprintf(f, "%s", t ? ", " : "\\n+ score terms: ");
                put_escaped(f, term);
            }
            /* the layer's scheme works inside the kernel: its colour as the outline */
            bool inside = rg_attention_term_name(node, 0) && layer_of(node) >= 0;
            const char *outline =
                inside ? SCHEME_PARAM_FILL[hue_of(m, m->layers[layer_of(node)].scheme)] : NULL;
            if (k == n - 1 && node->out->size == 1)
                fprintf(f, "\\nloss %.6g", (double)node->out->data[0]);
            fprintf(f, "\", shape=box, style=\"rounded,filled\", fillcolor=\"%s\"%s", fill,
                    k == n - 1 ? ", penwidth=2" : "");
            if (outline) fprintf(f, ", color=\"%s\", penwidth=3", outline);
            fprintf(f, "];\n");
        }
        for (int l = 0; l < n_leaf; l++) {
            if (leaf_layer[l] != layer && !(layer == -1 && leaf_layer[l] == -2)) continue;
            const rg_tensor *t = leaf[l];
            char shape[64];
            rg_shape_str(t, shape, sizeof shape);
            int pi = param_index(m, t);
            if (pi >= 0) {
                int id = scheme_of_param(m, t);
                fprintf(f, "    param%d [label=\"", pi);
                put_escaped(f, m->params[pi].name);
                fprintf(f, "\\n%s\", shape=note, style=filled, fillcolor=\"%s\"];\n", shape,
                        id >= 0 ? SCHEME_PARAM_FILL[hue_of(m, id)] : PARAM_FILL);
            } else {
                fprintf(f, "    const%d [label=\"constant\\n%s\", shape=box, style=dashed];\n", l,
                        shape);
            }
        }
        if (layer >= 0) fprintf(f, "  }\n");
    }
    /* edges in data-flow order: producer -> consumer, in the consumers' order */
    for (int k = 0; k < n; k++) {
        const rg_node *node = v->nodes[k];
        for (int i = 0; i < node->n_in; i++) {
            int e = k * RG_MAX_INPUTS + i, s = src[e];
            if (s == INT32_MIN) continue;
            if (s >= 0)
                fprintf(f, "  op%d -> op%d", s, k);
            else {
                const rg_tensor *t = leaf[-1 - s];
                int pi = param_index(m, t);
                if (pi >= 0)
                    fprintf(f, "  param%d -> op%d", pi, k);
                else
                    fprintf(f, "  const%d -> op%d", -1 - s, k);
            }
            const char *role = rg_attention_input_role(node, i);
            char label[96] = "";
            size_t at = 0;
            if (role) at += (size_t)snprintf(label, sizeof label, "%s", role);
            if (with_grads) {
                double g = v->grad_norm[e];
                int first = i; /* the same tensor at an earlier slot: measured there */
                for (int j = i - 1; j >= 0; j--)
                    if (node->in[j] == node->in[i]) first = j;
                const char *with = rg_attention_input_role(node, first);
                if (first < i)
                    snprintf(label + at, sizeof label - at, "%s(|g| counted with %s)",
                             at ? "\\n" : "", with ? with : "the first edge");
                else if (g >= 0)
                    snprintf(label + at, sizeof label - at, "%s|g| %.4g", at ? "\\n" : "", g);
            }
            if (label[0]) fprintf(f, " [label=\"%s\"]", label);
            fprintf(f, ";\n");
        }
    }
    fprintf(f, "}\n");
    free(leaf), free(leaf_layer), free(src);
    return n;
}
