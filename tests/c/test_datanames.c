/*
 * Issue 16 item 16: a dataname holding a NUL character ("a\0b") is shown cut
 * at the NUL by nb_payload_view, and nb_envelope_find_payload finds a payload
 * by that same cut name, so the two never disagree. An empty dataname is a
 * malformed envelope.
 */
#include "test_util.h"

#define PAYLOAD(name) \
    "{\"id\":\"1\",\"dataname\":\"" name "\",\"type\":\"text\",\"transport\":\"direct\"," \
    "\"encoding\":\"base64\",\"size\":1,\"data\":\"eA==\",\"metadata\":{}}"

static const char ENVELOPE[] =
    "{\"version\":1,\"correlation_id\":\"c\",\"msg_id\":\"m\",\"timestamp\":\"t\","
    "\"send_to\":\"s\",\"msg_purpose\":\"chat\",\"sender_name\":\"n\",\"sender_id\":\"i\","
    "\"payloads\":[" PAYLOAD("a\\u0000b") "," PAYLOAD("a\\u0000c") "," PAYLOAD("plain") "]}";

static const char EMPTY_NAME[] =
    "{\"version\":1,\"correlation_id\":\"c\",\"msg_id\":\"m\",\"timestamp\":\"t\","
    "\"send_to\":\"s\",\"msg_purpose\":\"chat\",\"sender_name\":\"n\",\"sender_id\":\"i\","
    "\"payloads\":[" PAYLOAD("") "]}";

int main(void) {
    int failed = 1;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_envelope *env = NULL;
    nb_envelope *empty = NULL;

    CHECK_OK(nb_client_connect(test_env("NB_NATS_URL"), NULL, &client, &err));
    CHECK_OK(nb_client_receive(client, (const uint8_t *)ENVELOPE, strlen(ENVELOPE), NULL, &env,
                               &err));
    CHECK(nb_envelope_payload_count(env) == 3);
    for (size_t i = 0; i < 3; i++) {
        nb_payload_view view;
        CHECK_OK(nb_envelope_payload(env, i, &view, &err));
        size_t found = 99;
        CHECK_OK(nb_envelope_find_payload(env, view.dataname, &found, &err));
        nb_payload_view again;
        CHECK_OK(nb_envelope_payload(env, found, &again, &err));
        CHECK(strcmp(again.dataname, view.dataname) == 0);
    }
    nb_payload_view first;
    CHECK_OK(nb_envelope_payload(env, 0, &first, &err));
    CHECK(strcmp(first.dataname, "a") == 0);
    size_t index = 99;
    CHECK_OK(nb_envelope_find_payload(env, "a", &index, &err));
    CHECK(index == 0);
    CHECK_OK(nb_envelope_find_payload(env, "plain", &index, &err));
    CHECK(index == 2);
    CHECK_FAILS(nb_envelope_find_payload(env, "b", &index, &err), NB_ERR_INVALID_ARGUMENT);

    CHECK_FAILS(nb_client_receive(client, (const uint8_t *)EMPTY_NAME, strlen(EMPTY_NAME), NULL,
                                  &empty, &err),
                NB_ERR_MALFORMED_ENVELOPE);
    CHECK(empty == NULL);

    printf("datanames: view and lookup agree on NUL-cut names; empty names refused\n");
    failed = 0;
cleanup:
    nb_error_free(err);
    nb_envelope_free(env);
    nb_envelope_free(empty);
    nb_client_free(client);
    return failed;
}
