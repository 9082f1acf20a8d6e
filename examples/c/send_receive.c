/*
 * natsbridge from C: send a text, a dictionary, a table, a small binary and a
 * 1.5 MB document as one message, and receive it back. The document is over
 * the default size threshold (1,000,000 bytes), so it travels by claim-check:
 * to the file server at FILESERVER_URL when set, else the JetStream Object
 * Store. Checks what arrives and exits non-zero on any difference; the last
 * line is "example ok: ...".
 *
 * Build and run (after `ffi-c/install.sh PREFIX`):
 *
 *   export PKG_CONFIG_PATH=PREFIX/lib/pkgconfig
 *   cc examples/c/send_receive.c $(pkg-config --cflags --libs natsbridge) -o send_receive
 *   LD_LIBRARY_PATH=PREFIX/lib NATS_URL=nats://localhost:4222 \
 *       FILESERVER_URL=http://127.0.0.1:8080 ./send_receive
 *
 * Needs a running nats-server (`nats-server -js`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <natsbridge.h>

#define DOCUMENT_LEN 1500000

/* Prints what differs and returns 0 when `ok` is false. */
static int check(int ok, const char *what) {
    if (!ok) fprintf(stderr, "example failed: %s is not what was sent\n", what);
    return ok;
}

int main(void) {
    int exit_code = EXIT_FAILURE;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_subscription *inbox = NULL;
    nb_table_builder *builder = NULL;
    nb_table *table = NULL;
    nb_table *received_table = NULL;
    nb_envelope *envelope = NULL;
    nb_send_options *options = NULL;
    uint8_t *document = NULL;
    char *sent = NULL;
    nb_status status;

    const char *url = getenv("NATS_URL");
    if (url == NULL) url = "nats://localhost:4222";
    const char *fileserver_url = getenv("FILESERVER_URL");
    if (fileserver_url != NULL && fileserver_url[0] == '\0') fileserver_url = NULL;
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
    const char *config = "{\"interval\":60}";
    const uint8_t thumbnail[] = {0x89, 'P', 'N', 'G'};
    document = malloc(DOCUMENT_LEN);
    if (document == NULL) goto cleanup;
    for (size_t i = 0; i < DOCUMENT_LEN; i++) document[i] = (uint8_t)(i % 251);
    nb_send_payload payloads[] = {
        {.dataname = "message", .type = "text", .data = (const uint8_t *)message,
         .len = strlen(message)},
        {.dataname = "config", .type = "dictionary", .data = (const uint8_t *)config,
         .len = strlen(config)},
        {.dataname = "users", .type = "table", .table = table},
        {.dataname = "thumbnail", .type = "image", .data = thumbnail, .len = sizeof thumbnail},
        {.dataname = "document", .type = "binary", .data = document, .len = DOCUMENT_LEN},
    };
    status = nb_send_options_new(&options, &err);
    if (status == NB_OK && fileserver_url != NULL)
        status = nb_send_options_set_fileserver_url(options, fileserver_url, &err);
    if (status != NB_OK) goto cleanup;
    status = nb_client_send(client, "/chat/room1", payloads, 5, options, &sent, &err);
    if (status != NB_OK) goto cleanup;
    printf("sent %zu bytes of envelope JSON\n", strlen(sent));

    status = nb_subscription_next(inbox, 5000, &envelope, &err);
    if (status != NB_OK) goto cleanup;
    printf("received msg_id %s from %s with %zu payloads\n", nb_envelope_get(envelope, "msg_id"),
           nb_envelope_get(envelope, "sender_name"), nb_envelope_payload_count(envelope));
    if (!check(nb_envelope_payload_count(envelope) == 5, "the number of payloads")) goto cleanup;
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
        int ok = 1;
        switch (i) {
        case 0:
            ok = check(strcmp(view.dataname, "message") == 0 && strcmp((const char *)view.data, message) == 0, "message");
            break;
        case 1:
            ok = check(strcmp(view.dataname, "config") == 0 && strcmp((const char *)view.data, config) == 0, "config");
            break;
        case 2:
            status = nb_envelope_payload_table(envelope, i, &received_table, &err);
            if (status != NB_OK) goto cleanup;
            ok = check(strcmp(view.dataname, "users") == 0 && nb_table_num_rows(received_table) == 2 &&
                           nb_table_num_columns(received_table) == 2,
                       "users");
            break;
        case 3:
            ok = check(strcmp(view.dataname, "thumbnail") == 0 && view.len == sizeof thumbnail &&
                           memcmp(view.data, thumbnail, sizeof thumbnail) == 0,
                       "thumbnail");
            break;
        case 4:
            ok = check(strcmp(view.dataname, "document") == 0 && strcmp(view.transport, "link") == 0 &&
                           view.len == DOCUMENT_LEN && memcmp(view.data, document, DOCUMENT_LEN) == 0,
                       "document (by link)");
            break;
        }
        if (!ok) goto cleanup;
    }
    printf("example ok: text dictionary table binary link(%s)\n",
           fileserver_url != NULL ? "file server" : "object store");
    exit_code = EXIT_SUCCESS;

cleanup:
    if (err != NULL) {
        fprintf(stderr, "natsbridge error %d (%s): %s\n", nb_error_code(err),
                nb_status_name(nb_error_code(err)), nb_error_message(err));
    }
    nb_string_free(sent);
    nb_send_options_free(options);
    free(document);
    nb_envelope_free(envelope);
    nb_table_free(received_table);
    nb_table_free(table);
    nb_table_builder_free(builder);
    nb_subscription_free(inbox);
    nb_client_free(client);
    nb_error_free(err);
    return exit_code;
}
