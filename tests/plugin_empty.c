/*
 * plugin_empty.c - a plugin whose init succeeds but registers nothing: a
 * config that loads it must be refused (check_bad_inputs.sh).
 */
int mutatord_plugin_init(void);

int mutatord_plugin_init(void)
{
    return 0;
}
