/*
 * Link payloads through both claim-check stores: the HTTP file server
 * (fileserver_url given) and the default JetStream Object Store (none
 * given); a message mixing direct and link payloads; a table above the
 * threshold; a file payload streamed to the store; a receiver writing link
 * payloads to a directory; the client-wide file server default.
 */
#include "test_util.h"

#include <unistd.h>

#define SUBJECT "/c/links"
#define BIG (300 * 1000)
#define ROWS 20000

static void fill(uint8_t *data, size_t len, unsigned seed) {
    for (size_t i = 0; i < len; i++) data[i] = (uint8_t)((i * 131u + seed) >> 3);
}

/* Reads a whole file into a malloc'd buffer; NULL on failure. */
static uint8_t *read_file(const char *path, size_t *len) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    uint8_t *data = NULL;
    if (fseek(file, 0, SEEK_END) == 0) {
        long size = ftell(file);
        if (size >= 0 && fseek(file, 0, SEEK_SET) == 0) {
            data = malloc((size_t)size + 1);
            if (data != NULL && fread(data, 1, (size_t)size, file) != (size_t)size) {
                free(data);
                data = NULL;
            }
            *len = (size_t)size;
        }
    }
    fclose(file);
    return data;
}

int main(void) {
    int failed = 1;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_client *defaulted = NULL;
    nb_connect_options *connect = NULL;
    nb_subscription *sub = NULL;
    nb_send_options *http = NULL;
    nb_send_options *object_store = NULL;
    nb_receive_options *to_dir = NULL;
    nb_table_builder *builder = NULL;
    nb_table *table = NULL;
    nb_table *received_table = NULL;
    nb_envelope *env = NULL;
    char *json = NULL;
    uint8_t *big = malloc(BIG);
    int64_t *ids = malloc(ROWS * sizeof *ids);
    uint8_t *saved = NULL;
    char file_path[] = "/tmp/natsbridge-c-link-XXXXXX";
    char dir[] = "/tmp/natsbridge-c-save-XXXXXX";
    int have_dir = 0;
    int fd = -1;
    char saved_path[512] = "";
    CHECK(big != NULL && ids != NULL);
    fill(big, BIG, 1);

    const char *nats_url = test_env("NB_NATS_URL");
    const char *fileserver_url = test_env("NB_FILESERVER_URL");
    CHECK_OK(nb_client_connect(nats_url, NULL, &client, &err));
    CHECK_OK(nb_client_subscribe(client, SUBJECT, NULL, &sub, &err));

    nb_send_payload mixed[] = {
        {.dataname = "big", .type = "binary", .data = big, .len = BIG},
        {.dataname = "note", .type = "text", .data = (const uint8_t *)"small", .len = 5},
    };

    /* 1. Through the HTTP file server. */
    CHECK_OK(nb_send_options_new(&http, &err));
    CHECK_OK(nb_send_options_set_fileserver_url(http, fileserver_url, &err));
    CHECK_OK(nb_send_options_set_size_threshold(http, 10000, &err));
    CHECK_OK(nb_client_send(client, SUBJECT, mixed, 2, http, &json, &err));
    CHECK(strstr(json, fileserver_url) != NULL);
    nb_string_free(json);
    json = NULL;
    CHECK_OK(nb_subscription_next(sub, 10000, &env, &err));
    nb_payload_view view;
    CHECK_OK(nb_envelope_payload(env, 0, &view, &err));
    CHECK(text_equals(view.transport, "link") && view.size == BIG);
    CHECK(view.sha256 != NULL);
    CHECK(view.len == BIG && memcmp(view.data, big, BIG) == 0);
    CHECK_OK(nb_envelope_payload(env, 1, &view, &err));
    CHECK(text_equals(view.transport, "direct") && text_equals((const char *)view.data, "small"));
    nb_envelope_free(env);
    env = NULL;

    /* 2. Through the default store, the JetStream Object Store. */
    CHECK_OK(nb_send_options_new(&object_store, &err));
    CHECK_OK(nb_send_options_set_size_threshold(object_store, 10000, &err));
    fill(big, BIG, 2);
    CHECK_OK(nb_client_send(client, SUBJECT, mixed, 2, object_store, &json, &err));
    CHECK(strstr(json, "nats-object://natsbridge/") != NULL);
    nb_string_free(json);
    json = NULL;
    CHECK_OK(nb_subscription_next(sub, 10000, &env, &err));
    CHECK_OK(nb_envelope_payload(env, 0, &view, &err));
    CHECK(text_equals(view.transport, "link"));
    CHECK(view.len == BIG && memcmp(view.data, big, BIG) == 0);
    nb_envelope_free(env);
    env = NULL;

    /* 3. A table above the threshold, by link. */
    for (int64_t i = 0; i < ROWS; i++) ids[i] = i * 3;
    CHECK_OK(nb_table_builder_new(&builder, &err));
    CHECK_OK(nb_table_builder_add_int64(builder, "id", ids, NULL, ROWS, &err));
    CHECK_OK(nb_table_builder_finish(builder, &table, &err));
    nb_send_payload table_payload = {.dataname = "rows", .type = "table", .table = table};
    CHECK_OK(nb_client_send(client, SUBJECT, &table_payload, 1, object_store, NULL, &err));
    CHECK_OK(nb_subscription_next(sub, 10000, &env, &err));
    CHECK_OK(nb_envelope_payload(env, 0, &view, &err));
    CHECK(text_equals(view.transport, "link") && text_equals(view.type, "table"));
    CHECK_OK(nb_envelope_payload_table(env, 0, &received_table, &err));
    CHECK(nb_table_num_rows(received_table) == ROWS);
    nb_envelope_free(env);
    env = NULL;

    /* 4. A file streamed to the file server; the receiver saves it to a
     * directory instead of memory. */
    fd = mkstemp(file_path);
    CHECK(fd >= 0);
    fill(big, BIG, 3);
    CHECK(write(fd, big, BIG) == BIG);
    close(fd);
    fd = -1;
    CHECK(mkdtemp(dir) != NULL);
    have_dir = 1;
    CHECK_OK(nb_receive_options_new(&to_dir, &err));
    CHECK_OK(nb_receive_options_set_save_dir(to_dir, dir, &err));
    nb_send_payload from_file = {.dataname = "recording", .type = "audio",
                                 .file_path = file_path,
                                 .metadata_json = "{\"filename\": \"take1.wav\"}"};
    CHECK_OK(nb_client_send(client, SUBJECT, &from_file, 1, http, &json, &err));
    nb_subscription_free(sub);
    sub = NULL;
    CHECK_OK(nb_client_receive(client, (const uint8_t *)json, strlen(json), to_dir, &env, &err));
    CHECK_OK(nb_envelope_payload(env, 0, &view, &err));
    CHECK(text_equals(view.transport, "link") && text_equals(view.type, "audio"));
    CHECK(view.data == NULL && view.len == 0 && view.file_path != NULL);
    CHECK(strncmp(view.file_path, dir, strlen(dir)) == 0);
    CHECK(text_equals(view.metadata_json, "{\"filename\":\"take1.wav\"}"));
    snprintf(saved_path, sizeof saved_path, "%s", view.file_path);
    size_t saved_len = 0;
    saved = read_file(saved_path, &saved_len);
    CHECK(saved != NULL && saved_len == BIG && memcmp(saved, big, BIG) == 0);
    nb_envelope_free(env);
    env = NULL;

    /* 5. The file server given once for the client applies to its sends. */
    CHECK_OK(nb_connect_options_new(&connect, &err));
    CHECK_OK(nb_connect_options_set_fileserver_url(connect, fileserver_url, &err));
    CHECK_OK(nb_client_connect(nats_url, connect, &defaulted, &err));
    nb_string_free(json);
    json = NULL;
    CHECK_OK(nb_client_send(defaulted, SUBJECT, mixed, 2, object_store, &json, &err));
    CHECK(strstr(json, fileserver_url) != NULL);
    CHECK_OK(nb_client_receive(defaulted, (const uint8_t *)json, strlen(json), NULL, &env, &err));
    CHECK_OK(nb_envelope_payload(env, 0, &view, &err));
    CHECK(view.len == BIG && memcmp(view.data, big, BIG) == 0);

    failed = 0;
    printf("test_links: file server, object store, table, streamed file and save_dir all linked\n");

cleanup:
    if (fd >= 0) close(fd);
    unlink(file_path);
    if (saved_path[0] != '\0') unlink(saved_path);
    if (have_dir) rmdir(dir);
    free(saved);
    free(big);
    free(ids);
    nb_string_free(json);
    nb_envelope_free(env);
    nb_table_free(table);
    nb_table_free(received_table);
    nb_table_builder_free(builder);
    nb_receive_options_free(to_dir);
    nb_send_options_free(http);
    nb_send_options_free(object_store);
    nb_connect_options_free(connect);
    nb_subscription_free(sub);
    nb_client_free(defaulted);
    nb_client_free(client);
    nb_error_free(err);
    return failed;
}
