/*
 * natsbridge from C: send a text, a dictionary and a table as one message,
 * and receive it back.
 *
 * Build and run (after `ffi-c/install.sh PREFIX`):
 *
 *   export PKG_CONFIG_PATH=PREFIX/lib/pkgconfig
 *   cc examples/c/send_receive.c $(pkg-config --cflags --libs natsbridge) -o send_receive
 *   LD_LIBRARY_PATH=PREFIX/lib NATS_URL=nats://localhost:4222 ./send_receive
 *
 * Needs a running nats-server (`nats-server -js`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <natsbridge.h>

int main(void) {
    int exit_code = EXIT_FAILURE;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_subscription *inbox = NULL;
    nb_table_builder *builder = NULL;
    nb_table *table = NULL;
    nb_envelope *envelope = NULL;
    char *sent = NULL;
    nb_status status;

    const char *url = getenv("NATS_URL");
    if (url == NULL) url = "nats://localhost:4222";
    printf("natsbridge %s, connecting to %s\n", nb_version(), url);

    status = nb_client_connect(url, NULL, &client, &err);
    if (status != NB_OK) goto cleanup;
    status = nb_client_subscribe(client, "/chat/room1", NULL, &inbox, &err);
    if (status != NB_OK) goto cleanup;

    /* A small table, built column by column. */
    const int64_t ids[] = {1, 2};
    const char *names[] = {"Alice", "Bob"};
    status = nb_table_builder_new(&builder, &err);
    if (status == NB_OK) status = nb_table_builder_add_int64(builder, "id", ids, NULL, 2, &err);
    if (status == NB_OK) status = nb_table_builder_add_utf8(builder, "name", names, 2, &err);
    if (status == NB_OK) status = nb_table_builder_finish(builder, &table, &err);
    if (status != NB_OK) goto cleanup;

    const char *message = "Hello World";
    const char *config = "{\"interval\": 60}";
    nb_send_payload payloads[] = {
        {.dataname = "message", .type = "text", .data = (const uint8_t *)message,
         .len = strlen(message)},
        {.dataname = "config", .type = "dictionary", .data = (const uint8_t *)config,
         .len = strlen(config)},
        {.dataname = "users", .type = "table", .table = table},
    };
    status = nb_client_send(client, "/chat/room1", payloads, 3, NULL, &sent, &err);
    if (status != NB_OK) goto cleanup;
    printf("sent %zu bytes of envelope JSON\n", strlen(sent));

    status = nb_subscription_next(inbox, 5000, &envelope, &err);
    if (status != NB_OK) goto cleanup;
    printf("received msg_id %s from %s with %zu payloads\n", nb_envelope_get(envelope, "msg_id"),
           nb_envelope_get(envelope, "sender_name"), nb_envelope_payload_count(envelope));
    for (size_t i = 0; i < nb_envelope_payload_count(envelope); i++) {
        nb_payload_view view;
        status = nb_envelope_payload(envelope, i, &view, &err);
        if (status != NB_OK) goto cleanup;
        if (strcmp(view.type, "text") == 0 || strcmp(view.type, "dictionary") == 0) {
            printf("  %s (%s): %s\n", view.dataname, view.type, (const char *)view.data);
        } else {
            printf("  %s (%s): %zu bytes, %s\n", view.dataname, view.type, view.len,
                   view.transport);
        }
    }
    exit_code = EXIT_SUCCESS;

cleanup:
    if (err != NULL) {
        fprintf(stderr, "natsbridge error %d (%s): %s\n", nb_error_code(err),
                nb_status_name(nb_error_code(err)), nb_error_message(err));
    }
    nb_string_free(sent);
    nb_envelope_free(envelope);
    nb_table_free(table);
    nb_table_builder_free(builder);
    nb_subscription_free(inbox);
    nb_client_free(client);
    nb_error_free(err);
    return exit_code;
}
