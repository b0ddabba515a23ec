/*
 * conf.h - reading libconfig files strictly: every key known, every value
 * of the right type and in range, and every error naming the file and line
 * ("search.conf:12: supernet.stem.channels: expected an integer in
 * [1, 4096], got 0"). A thin layer over libconfig; the modules that own a
 * section describe its keys with these calls.
 */
#ifndef MUTATORD_CONF_H
#define MUTATORD_CONF_H

#include <libconfig.h>
#include <stdint.h>

#include "status.h"

/* Reads and parses path into cfg (initialised here; the caller destroys it
 * with config_destroy, also on failure). Syntax errors name file and line. */
enum mtd_status conf_read_file(config_t *cfg, const char *path, struct mtd_error *err);

/* The same from a string (tests); `name` stands for the file in messages
 * and must outlive cfg. */
enum mtd_status conf_read_string(config_t *cfg, const char *text, const char *name,
                                 struct mtd_error *err);

/* Fails with the first key of group `s` that is not in the NULL-terminated
 * list `allowed`. */
enum mtd_status conf_check_keys(const config_setting_t *s, const char *const *allowed,
                                struct mtd_error *err);

/* Records a config error about setting s: "file:line: path: message". */
enum mtd_status conf_error(struct mtd_error *err, const config_setting_t *s,
                           const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The child `key` of group s, or NULL when absent. */
const config_setting_t *conf_child(const config_setting_t *s, const char *key);

/* Typed getters. When the key is absent: a required one fails, an optional
 * one leaves *out at its default (the value the caller put there). Values
 * outside [min, max] fail. */
enum mtd_status conf_get_int(const config_setting_t *s, const char *key, int required,
                             long long min, long long max, long long *out,
                             struct mtd_error *err);
enum mtd_status conf_get_double(const config_setting_t *s, const char *key, int required,
                                double min, double max, double *out, struct mtd_error *err);
enum mtd_status conf_get_bool(const config_setting_t *s, const char *key, int required,
                              int *out, struct mtd_error *err);
enum mtd_status conf_get_string(const config_setting_t *s, const char *key, int required,
                                const char **out, struct mtd_error *err);

/* A string key that must be one of names[0, count): its index in *out
 * (left alone when the key is absent). */
enum mtd_status conf_get_enum(const config_setting_t *s, const char *key,
                              const char *const *names, int count, int *out,
                              struct mtd_error *err);

/* Group `key` of s: required, or NULL in *out when optional and absent. */
enum mtd_status conf_get_group(const config_setting_t *s, const char *key, int required,
                               const config_setting_t **out, struct mtd_error *err);

/* Array or list `key` of s with between min_len and max_len elements. */
enum mtd_status conf_get_list(const config_setting_t *s, const char *key, int required,
                              int min_len, int max_len, const config_setting_t **out,
                              struct mtd_error *err);

/* The dotted path of a setting ("supernet.stages.[1].channels"), for messages. */
void conf_path(const config_setting_t *s, char *buf, size_t size);

#endif
