/*
 * tests/integration/extauth_plugin.c - a Mosquitto plugin for the trust
 * boundary tests only: it admits any client that uses MQTT v5 extended
 * authentication with the method "bypass-test", as a careless second
 * authentication plugin would. Mosquitto then skips BASIC_AUTH for that
 * client, so the DANE plugin never decides on it; the tests check that
 * the DANE plugin notices such a client and disconnects it.
 */
#include <string.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

static mosquitto_plugin_id_t *plugin_id;

int mosquitto_plugin_version(int count, const int *versions);
int mosquitto_plugin_init(mosquitto_plugin_id_t *id, void **userdata,
                          struct mosquitto_opt *opts, int opt_count);
int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int opt_count);

static int ext_auth_start_cb(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_extended_auth *ed = event_data;

    (void)event;
    (void)userdata;
    if (ed->auth_method != NULL && strcmp(ed->auth_method, "bypass-test") == 0)
        return MOSQ_ERR_SUCCESS;
    return MOSQ_ERR_PLUGIN_DEFER;
}

int mosquitto_plugin_version(int count, const int *versions)
{
    for (int i = 0; i < count; i++)
        if (versions[i] == 5)
            return 5;
    return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *id, void **userdata,
                          struct mosquitto_opt *opts, int opt_count)
{
    (void)userdata;
    (void)opts;
    (void)opt_count;
    plugin_id = id;
    return mosquitto_callback_register(id, MOSQ_EVT_EXT_AUTH_START, ext_auth_start_cb,
                                       NULL, NULL);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int opt_count)
{
    (void)userdata;
    (void)opts;
    (void)opt_count;
    return mosquitto_callback_unregister(plugin_id, MOSQ_EVT_EXT_AUTH_START,
                                         ext_auth_start_cb, NULL);
}
