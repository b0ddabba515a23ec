/*
 * estimate.c - MACs and params of an arch by counting, as REFERENCE.md
 * defines them: multiply-accumulates of convs and linear layers per image;
 * learnable parameters on the path (conv and linear weights, biases, BN
 * affine). Reads the node programs and the arch only.
 */
#include "graph.h"

void supernet_estimate(const struct supernet *sn, const struct arch *arch, struct resources *out)
{
    double macs = 0.0, params = 0.0;
    for (int c = 0; c < sn->ncells; c++) {
        int in, o_w, mid;
        const struct op_graph *g = &sn->cells[c].ops[arch->op[c]];
        cell_widths(sn, arch, c, arch->op[c], &in, &o_w, &mid);
        for (int i = 0; i < g->nnodes; i++) {
            const struct node *nd = &g->nodes[i];
            double a = width_eval(nd->a, in, o_w, mid);
            double b = width_eval(nd->b, in, o_w, mid);
            switch (nd->kind) {
            case NODE_CONV: {
                /* A depthwise conv has one input channel per output. */
                double weights = b * (nd->depthwise ? 1.0 : a) * nd->k * nd->k;
                const struct slot *s = &g->slots[nd->dst];
                macs += weights * s->h * s->w;
                params += weights;
                break;
            }
            case NODE_BN:
                params += 2.0 * a;
                break;
            case NODE_LINEAR:
                macs += a * b;
                params += a * b + b;
                break;
            default:
                break;
            }
        }
    }
    out->macs = macs;
    out->params = params;
}
