/*
 * space_report.c - printing a search space for `mutatord --check`.
 */
#include "space_report.h"

#include <string.h>

#include "train.h"

void format_count(double n, char *buf, size_t size)
{
    if (!(n >= 0.0 && n < 1e18)) {
        snprintf(buf, size, "%.4g", n);
        return;
    }
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", n);
    size_t len = strlen(digits), used = 0;
    for (size_t i = 0; i < len && used + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[used++] = ',';
        buf[used++] = digits[i];
    }
    buf[used] = '\0';
}

static void print_resources(const struct search_space *ss, enum sample_kind kind,
                            const char *what, FILE *out)
{
    int choices[SEARCH_SPACE_MAX_GROUPS];
    struct arch arch;
    struct resources r;
    char macs[48], params[48];
    search_space_sample(ss, kind, NULL, choices);
    search_space_to_arch(ss, choices, &arch);
    supernet_estimate(search_space_supernet(ss), &arch, &r);
    format_count(r.macs, macs, sizeof macs);
    format_count(r.params, params, sizeof params);
    fprintf(out, "%-8s subnet: %s MACs, %s params\n", what, macs, params);
}

void space_report(const struct search_space *ss, FILE *out)
{
    const struct supernet *sn = search_space_supernet(ss);
    const struct space_def *def = supernet_space(sn);
    char count[48];
    format_count((double)supernet_weights_size(sn), count, sizeof count);
    fprintf(out, "supernet: input %dx%dx%d, %d classes, %d choice blocks, %d channel units, "
            "%d BN set%s, %s weight floats\n",
            def->in_c, def->in_h, def->in_w, def->classes, def->nblocks, supernet_nunits(sn),
            supernet_bn_sets(sn), supernet_bn_sets(sn) > 1 ? "s" : "", count);
    fprintf(out, "channel units:\n");
    for (int u = 0; u < supernet_nunits(sn); u++) {
        const struct channel_unit *unit = supernet_unit(sn, u);
        fprintf(out, "  %-24s %4d channels%s%s\n", unit->name, unit->max,
                unit->kind == UNIT_MID ? " (inner, per op)" : "",
                unit->align > 1 ? ", even widths" : "");
    }
    for (int m = 0; m < search_space_nmutators(ss); m++) {
        const struct mutator_ops *ops = search_space_mutator(ss, m);
        int first, n;
        search_space_mutator_groups(ss, m, &first, &n);
        fprintf(out, "mutator %s (%s mutables), %d search group%s:\n", ops->name,
                mutable_kind_name(ops->kind), n, n == 1 ? "" : "s");
        for (int g = first; g < first + n; g++) {
            const struct search_group *grp = search_space_group(ss, g);
            fprintf(out, "  %-24s", grp->name);
            for (int c = 0; c < grp->nchoices; c++)
                fprintf(out, " %s", grp->choices[c].label);
            if (grp->nmutables > 1)
                fprintf(out, "   (%d mutables share this choice)", grp->nmutables);
            fputc('\n', out);
        }
    }
    format_count(search_space_size(ss), count, sizeof count);
    fprintf(out, "search groups: %d\nsubnets: %s\n", search_space_ngroups(ss), count);
    print_resources(ss, SAMPLE_MIN, "smallest", out);
    print_resources(ss, SAMPLE_MAX, "largest", out);
}

static double mib(size_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

void memory_report(const struct supernet *sn, int train_batch, int eval_batch, FILE *out)
{
    struct supernet_footprint f;
    supernet_footprint(sn, &f);
    size_t train = (size_t)train_batch * f.train_per_image;
    size_t calib = (size_t)eval_batch * f.calib_per_image;
    fprintf(out, "memory: weights %.1f MiB, gradients %.1f MiB, momentum %.1f MiB, "
            "BN statistics %.2f MiB\n", mib(f.weights), mib(f.grads), mib(f.momentum),
            mib(f.buffers));
    fprintf(out, "  training batch of %d: activations %.1f MiB, their gradients %.1f MiB\n",
            train_batch, mib(train), mib((size_t)train_batch * f.grad_per_image));
    /* activations.c: one buffer serves training, calibration and evaluation */
    fprintf(out, "  calibration batch of %d: activations %.1f MiB%s\n", eval_batch, mib(calib),
            calib <= train ? ", inside the training activations" : "");
    fprintf(out, "  evaluation, any batch: activations %.1f MiB (chunks of images, per thread)\n",
            mib(f.eval));
    const struct space_def *def = supernet_space(sn);
    const int top1 = evaluate_top1_batch(def->in_h, def->in_w, eval_batch);
    fprintf(out, "  search, a group of %d candidates: %.1f MiB (their BN statistics, "
            "top-1 logits for batches of %d)\n", SUPERNET_GROUP_MAX,
            mib(supernet_group_bytes(sn, SUPERNET_GROUP_MAX, top1)), top1);
    fprintf(out, "  BN plane moments for batches of %d: %.1f MiB\n",
            train_batch > eval_batch ? train_batch : eval_batch,
            mib((size_t)(train_batch > eval_batch ? train_batch : eval_batch)
                * f.moments_per_image));
}
