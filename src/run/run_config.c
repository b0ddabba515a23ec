/*
 * run_config.c - reading a whole config file (run_config.h).
 */
#include <string.h>

#include "conf.h"
#include "run_config.h"

/* The sections of a config this version reads. */
static const char *const top_keys[] = {"plugins", "supernet", "mutators", "data", "train",
                                       "finetune", "search", "run_dir", "threads", NULL};

enum mtd_status run_config_read(struct run_config *rc, const char *path, const char *run_dir,
                                int threads, struct mtd_error *err)
{
    const config_setting_t *root, *data = NULL, *train = NULL, *finetune = NULL, *search = NULL;
    long long file_threads = 0;
    memset(rc, 0, sizeof *rc);
    rc->run_dir = "run";
    enum mtd_status st;
    if ((st = conf_read_file(&rc->cfg, path, err)) != MTD_OK)
        return st;
    root = config_root_setting(&rc->cfg);
    if ((st = conf_check_keys(root, top_keys, err)) != MTD_OK ||
        (st = conf_get_string(root, "run_dir", 0, &rc->run_dir, err)) != MTD_OK ||
        (st = conf_get_int(root, "threads", 0, 0, 1024, &file_threads, err)) != MTD_OK ||
        (st = conf_get_group(root, "data", 0, &data, err)) != MTD_OK ||
        (st = conf_get_group(root, "train", 0, &train, err)) != MTD_OK ||
        (st = conf_get_group(root, "finetune", 0, &finetune, err)) != MTD_OK ||
        (st = conf_get_group(root, "search", 0, &search, err)) != MTD_OK ||
        (st = data_config_parse(data, &rc->data, err)) != MTD_OK ||
        (st = train_config_parse(train, &rc->train, err)) != MTD_OK ||
        (st = train_config_parse_finetune(finetune, &rc->train, &rc->finetune, err)) != MTD_OK ||
        (st = search_config_parse(search, &rc->search, err)) != MTD_OK)
        return st;
    if (run_dir != NULL)
        rc->run_dir = run_dir;
    if (rc->run_dir[0] == '\0')
        return mtd_error_set(err, MTD_ERR_CONFIG, "%s: run_dir is empty (use -r DIR, or set "
                             "run_dir)", path);
    rc->threads = threads > 0 ? threads : (int)file_threads;
    return search_space_create(&rc->ss, root, rc->train.seed, err);
}

void run_config_free(struct run_config *rc)
{
    search_space_free(rc->ss);
    rc->ss = NULL;
    config_destroy(&rc->cfg);
}
