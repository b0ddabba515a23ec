/*
 * conf.c - strict libconfig reading with file:line errors.
 */
#include "conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum mtd_status parse_error(config_t *cfg, const char *name, struct mtd_error *err)
{
    const char *file = config_error_file(cfg);
    return mtd_error_set(err, MTD_ERR_CONFIG, "%s:%d: %s", file ? file : name,
                         config_error_line(cfg), config_error_text(cfg));
}

enum mtd_status conf_read_file(config_t *cfg, const char *path, struct mtd_error *err)
{
    config_init(cfg);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return mtd_error_set(err, errno == ENOENT ? MTD_ERR_NOINPUT : MTD_ERR_CONFIG,
                             "%s: cannot open: %s", path, strerror(errno));
    fclose(f);
    if (config_read_file(cfg, path) != CONFIG_TRUE) {
        if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
            return mtd_error_set(err, MTD_ERR_CONFIG, "%s: cannot read", path);
        return parse_error(cfg, path, err);
    }
    return MTD_OK;
}

enum mtd_status conf_read_string(config_t *cfg, const char *text, const char *name,
                                 struct mtd_error *err)
{
    config_init(cfg);
    if (config_read_string(cfg, text) != CONFIG_TRUE)
        return parse_error(cfg, name, err);
    /* Settings read from a string have no source file: the root's hook
     * keeps the name messages use instead (it must outlive cfg). */
    config_setting_set_hook(config_root_setting(cfg), (void *)name);
    return MTD_OK;
}

void conf_path(const config_setting_t *s, char *buf, size_t size)
{
    /* Walk up to the root, then print top-down. */
    const config_setting_t *chain[64];
    int depth = 0;
    for (const config_setting_t *p = s; p && !config_setting_is_root(p) && depth < 64;
         p = config_setting_parent(p))
        chain[depth++] = p;
    size_t used = 0;
    buf[0] = '\0';
    for (int i = depth - 1; i >= 0 && used < size; i--) {
        const char *name = config_setting_name(chain[i]);
        int n;
        if (name)
            n = snprintf(buf + used, size - used, "%s%s", used ? "." : "", name);
        else
            n = snprintf(buf + used, size - used, "[%d]", config_setting_index(chain[i]));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

enum mtd_status conf_error(struct mtd_error *err, const config_setting_t *s,
                           const char *fmt, ...)
{
    char path[256], msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s == NULL)   /* a caller's bug: still a message, never a crash */
        return mtd_error_set(err, MTD_ERR_CONFIG, "(config): %s", msg);
    conf_path(s, path, sizeof path);
    const char *file = config_setting_source_file(s);
    if (file == NULL) {
        const config_setting_t *root = s;
        while (!config_setting_is_root(root))
            root = config_setting_parent(root);
        file = config_setting_get_hook(root);
    }
    return mtd_error_set(err, MTD_ERR_CONFIG, "%s:%u: %s%s%s", file ? file : "(config)",
                         config_setting_source_line(s), path, path[0] ? ": " : "", msg);
}

enum mtd_status conf_check_keys(const config_setting_t *s, const char *const *allowed,
                                struct mtd_error *err)
{
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        const config_setting_t *child = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(child);
        int known = 0;
        for (const char *const *a = allowed; *a && name; a++)
            if (strcmp(*a, name) == 0)
                known = 1;
        if (!known) {
            char list[256] = "";
            size_t used = 0;
            for (const char *const *a = allowed; *a && used < sizeof list; a++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *a);
                if (w < 0)
                    break;
                used += (size_t)w;
            }
            return conf_error(err, child, "unknown key (expected one of: %s)", list);
        }
    }
    return MTD_OK;
}

const config_setting_t *conf_child(const config_setting_t *s, const char *key)
{
    return config_setting_get_member(s, key);
}

/* The child `key`: *out NULL when absent and optional, an error when absent
 * and required. */
static enum mtd_status find(const config_setting_t *s, const char *key, int required,
                            const config_setting_t **out, struct mtd_error *err)
{
    *out = config_setting_get_member(s, key);
    if (*out == NULL && required)
        return conf_error(err, s, "missing required key '%s'", key);
    return MTD_OK;
}

static const char *type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP: return "a group";
    case CONFIG_TYPE_INT: case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    default: return "something else";
    }
}

enum mtd_status conf_get_int(const config_setting_t *s, const char *key, int required,
                             long long min, long long max, long long *out,
                             struct mtd_error *err)
{
    const config_setting_t *c;
    enum mtd_status st = find(s, key, required, &c, err);
    if (st != MTD_OK || c == NULL)
        return st;
    int type = config_setting_type(c);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
        return conf_error(err, c, "expected an integer in [%lld, %lld], got %s", min, max,
                          type_name(type));
    long long v = config_setting_get_int64(c);
    if (v < min || v > max)
        return conf_error(err, c, "expected an integer in [%lld, %lld], got %lld", min, max, v);
    *out = v;
    return MTD_OK;
}

enum mtd_status conf_get_double(const config_setting_t *s, const char *key, int required,
                                double min, double max, double *out, struct mtd_error *err)
{
    const config_setting_t *c;
    enum mtd_status st = find(s, key, required, &c, err);
    if (st != MTD_OK || c == NULL)
        return st;
    int type = config_setting_type(c);
    double v;
    if (type == CONFIG_TYPE_FLOAT)
        v = config_setting_get_float(c);
    else if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
        v = (double)config_setting_get_int64(c);
    else
        return conf_error(err, c, "expected a number in [%g, %g], got %s", min, max,
                          type_name(type));
    if (!(v >= min && v <= max))
        return conf_error(err, c, "expected a number in [%g, %g], got %g", min, max, v);
    *out = v;
    return MTD_OK;
}

enum mtd_status conf_get_bool(const config_setting_t *s, const char *key, int required,
                              int *out, struct mtd_error *err)
{
    const config_setting_t *c;
    enum mtd_status st = find(s, key, required, &c, err);
    if (st != MTD_OK || c == NULL)
        return st;
    if (config_setting_type(c) != CONFIG_TYPE_BOOL)
        return conf_error(err, c, "expected true or false, got %s",
                          type_name(config_setting_type(c)));
    *out = config_setting_get_bool(c);
    return MTD_OK;
}

enum mtd_status conf_get_string(const config_setting_t *s, const char *key, int required,
                                const char **out, struct mtd_error *err)
{
    const config_setting_t *c;
    enum mtd_status st = find(s, key, required, &c, err);
    if (st != MTD_OK || c == NULL)
        return st;
    if (config_setting_type(c) != CONFIG_TYPE_STRING)
        return conf_error(err, c, "expected a string, got %s", type_name(config_setting_type(c)));
    *out = config_setting_get_string(c);
    return MTD_OK;
}

enum mtd_status conf_get_group(const config_setting_t *s, const char *key, int required,
                               const config_setting_t **out, struct mtd_error *err)
{
    enum mtd_status st = find(s, key, required, out, err);
    if (st != MTD_OK || *out == NULL)
        return st;
    if (config_setting_type(*out) != CONFIG_TYPE_GROUP)
        return conf_error(err, *out, "expected a group { ... }, got %s",
                          type_name(config_setting_type(*out)));
    return MTD_OK;
}

enum mtd_status conf_get_list(const config_setting_t *s, const char *key, int required,
                              int min_len, int max_len, const config_setting_t **out,
                              struct mtd_error *err)
{
    enum mtd_status st = find(s, key, required, out, err);
    if (st != MTD_OK || *out == NULL)
        return st;
    int type = config_setting_type(*out);
    if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
        return conf_error(err, *out, "expected a list [ ... ] or ( ... ), got %s", type_name(type));
    int n = config_setting_length(*out);
    if (n < min_len || n > max_len)
        return conf_error(err, *out, "expected %d to %d elements, got %d", min_len, max_len, n);
    return MTD_OK;
}

enum mtd_status conf_get_enum(const config_setting_t *s, const char *key,
                              const char *const *names, int count, int *out,
                              struct mtd_error *err)
{
    const char *v = NULL;
    enum mtd_status st = conf_get_string(s, key, 0, &v, err);
    if (st != MTD_OK || v == NULL)
        return st;
    for (int i = 0; i < count; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return MTD_OK;
        }
    char list[128] = "";
    for (int i = 0; i < count; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? ", " : "",
                 names[i]);
    return conf_error(err, conf_child(s, key), "unknown value \"%s\" (expected one of %s)", v,
                      list);
}
