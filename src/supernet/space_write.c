/*
 * space_write.c - a space_def back to its config text, in the `blocks`
 * form, so that an exported subnet is a config of its own (space.h).
 */
#include <stdio.h>
#include <string.h>

#include "space.h"

/* A double libconfig reads back as a float, bit for bit. */
static void put_double(FILE *f, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, f);
    if (strpbrk(buf, ".eEn") == NULL)
        fputs(".0", f);
}

int space_def_write(const struct space_def *def, const char *indent, FILE *f)
{
    fprintf(f, "%ssupernet = {\n", indent);
    fprintf(f, "%s  input = { channels = %d; height = %d; width = %d; };\n", indent, def->in_c,
            def->in_h, def->in_w);
    fprintf(f, "%s  classes = %d;\n", indent, def->classes);
    fprintf(f, "%s  stem = { channels = %d; kernel = %d; stride = %d; };\n", indent,
            def->stem_channels, def->stem_kernel, def->stem_stride);
    fprintf(f, "%s  blocks = (\n", indent);
    for (int b = 0; b < def->nblocks; b++) {
        const struct block_def *bd = &def->blocks[b];
        fprintf(f, "%s    { name = \"%s\"; alias = \"%s\"; channels = %d; stride = %d; ops = [",
                indent, bd->name, bd->alias, bd->cout, bd->stride);
        for (int o = 0; o < bd->nops; o++)
            fprintf(f, "%s\"%s\"", o ? ", " : "", bd->ops[o].name);
        fputs("];", f);
        if (bd->mid > 0)
            fprintf(f, " mid = %d;", bd->mid);
        fprintf(f, " residual = %s; }%s\n", bd->no_residual ? "false" : "true",
                b + 1 < def->nblocks ? "," : "");
    }
    fprintf(f, "%s  );\n", indent);
    if (def->last_channels > 0)
        fprintf(f, "%s  last = { channels = %d; };\n", indent, def->last_channels);
    fprintf(f, "%s  bn = { eps = ", indent);
    put_double(f, def->bn_eps);
    fputs("; momentum = ", f);
    put_double(f, def->bn_momentum);
    fprintf(f, "; };\n%s};\n", indent);
    return ferror(f) ? -1 : 0;
}
