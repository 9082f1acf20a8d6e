/*
 * Every payload type makes a round trip through a real nats-server: text,
 * dictionary, table (from a table handle and from IPC bytes), image, audio,
 * video, binary (from memory and from a file), an empty text, with payload
 * metadata; every send option shows up in the received envelope; the
 * envelope decodes the same from the published JSON; JetStream publishing
 * works once a stream captures the subject.
 */
#include "test_util.h"

#include <unistd.h>

#define SUBJECT "/c/payloads"
#define PAYLOADS 11

int main(void) {
    int failed = 1;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_subscription *sub = NULL;
    nb_send_options *send = NULL;
    nb_table_builder *builder = NULL;
    nb_table *table = NULL;
    nb_table *received_table = NULL;
    nb_envelope *env = NULL;
    nb_envelope *decoded = NULL;
    char *sent_json = NULL;
    char *js_json = NULL;
    char path[] = "/tmp/natsbridge-c-payload-XXXXXX";
    int fd = -1;

    const char *nats_url = test_env("NB_NATS_URL");
    CHECK_OK(nb_client_connect(nats_url, NULL, &client, &err));
    CHECK(client != NULL);
    CHECK_OK(nb_client_subscribe(client, SUBJECT, NULL, &sub, &err));

    /* A table with every column type the builder offers, nulls included. */
    const int64_t ids[] = {1, 2, 3};
    const double scores[] = {0.5, -1.25, 0.0};
    const uint8_t score_valid[] = {1, 1, 0};
    const bool flags[] = {true, false, true};
    const char *names[] = {"Alice", NULL, "Cy"};
    CHECK_OK(nb_table_builder_new(&builder, &err));
    CHECK_OK(nb_table_builder_add_int64(builder, "id", ids, NULL, 3, &err));
    CHECK_OK(nb_table_builder_add_float64(builder, "score", scores, score_valid, 3, &err));
    CHECK_OK(nb_table_builder_add_bool(builder, "flag", flags, NULL, 3, &err));
    CHECK_OK(nb_table_builder_add_utf8(builder, "name", names, 3, &err));
    CHECK_OK(nb_table_builder_finish(builder, &table, &err));
    CHECK(nb_table_num_rows(table) == 3);
    CHECK(nb_table_num_columns(table) == 4);
    const uint8_t *ipc = NULL;
    size_t ipc_len = 0;
    CHECK_OK(nb_table_ipc(table, &ipc, &ipc_len, &err));
    CHECK(ipc != NULL && ipc_len > 0);

    /* Binary data with zero bytes in it, and a file with other bytes. */
    uint8_t binary[256];
    for (int i = 0; i < 256; i++) binary[i] = (uint8_t)i;
    const uint8_t png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00};
    const uint8_t wav[] = {'R', 'I', 'F', 'F', 0x00, 0x01};
    const uint8_t mp4[] = {0x00, 0x00, 0x00, 0x18, 'f', 't', 'y', 'p'};
    const char file_bytes[] = "file contents\0with a NUL";
    fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, file_bytes, sizeof file_bytes) == (ssize_t)sizeof file_bytes);
    close(fd);
    fd = -1;

    const char *text = "Hello World";
    const char *dict = "{\"interval\": 60, \"tags\": [\"a\", \"b\"]}";
    nb_send_payload payloads[PAYLOADS] = {
        {.dataname = "message", .type = "text", .data = (const uint8_t *)text,
         .len = strlen(text), .metadata_json = "{\"lang\": \"en\"}"},
        {.dataname = "config", .type = "dictionary", .data = (const uint8_t *)dict,
         .len = strlen(dict)},
        {.dataname = "table-handle", .type = "table", .table = table},
        {.dataname = "table-ipc", .type = "table", .data = ipc, .len = ipc_len},
        {.dataname = "avatar", .type = "image", .data = png, .len = sizeof png},
        {.dataname = "voice", .type = "audio", .data = wav, .len = sizeof wav},
        {.dataname = "clip", .type = "video", .data = mp4, .len = sizeof mp4},
        {.dataname = "blob", .type = "binary", .data = binary, .len = sizeof binary},
        {.dataname = "from-file", .type = "binary", .file_path = path},
        {.dataname = "empty", .type = "text"},
        {.dataname = "number", .type = "dictionary", .data = (const uint8_t *)"42", .len = 2},
    };

    /* Every send option. */
    CHECK_OK(nb_send_options_new(&send, &err));
    CHECK_OK(nb_send_options_set_size_threshold(send, 2000000, &err));
    CHECK_OK(nb_send_options_set_correlation_id(send, "corr-1", &err));
    CHECK_OK(nb_send_options_set_msg_id(send, "msg-c-1", &err));
    CHECK_OK(nb_send_options_set_msg_purpose(send, "command", &err));
    CHECK_OK(nb_send_options_set_sender_name(send, "c-test", &err));
    CHECK_OK(nb_send_options_set_sender_id(send, "sender-7", &err));
    CHECK_OK(nb_send_options_set_receiver_name(send, "dashboard", &err));
    CHECK_OK(nb_send_options_set_receiver_id(send, "receiver-9", &err));
    CHECK_OK(nb_send_options_set_reply_to(send, "/c/replies", &err));
    CHECK_OK(nb_send_options_set_reply_to_msg_id(send, "msg-c-0", &err));
    CHECK_OK(nb_send_options_set_metadata_json(send, "{\"site\": \"plant-2\"}", &err));
    CHECK_OK(nb_send_options_set_fileserver_url(send, test_env("NB_FILESERVER_URL"), &err));
    CHECK_OK(nb_send_options_set_fileserver_token(send, "unused", &err));
    CHECK_OK(nb_send_options_set_jetstream(send, false, &err));
    CHECK_OK(nb_send_options_set_direct_sha256(send, true, &err));

    CHECK_OK(nb_client_send(client, SUBJECT, payloads, PAYLOADS, send, &sent_json, &err));
    CHECK(sent_json != NULL);
    CHECK(strstr(sent_json, "\"correlation_id\":\"corr-1\"") != NULL);
    CHECK(strstr(sent_json, "\"send_to\":\"/c/payloads\"") != NULL);

    CHECK_OK(nb_subscription_next(sub, 5000, &env, &err));
    CHECK(env != NULL);
    CHECK(nb_envelope_version(env) == 1);
    CHECK(text_equals(nb_envelope_get(env, "correlation_id"), "corr-1"));
    CHECK(text_equals(nb_envelope_get(env, "msg_id"), "msg-c-1"));
    CHECK(text_equals(nb_envelope_get(env, "msg_purpose"), "command"));
    CHECK(text_equals(nb_envelope_get(env, "sender_name"), "c-test"));
    CHECK(text_equals(nb_envelope_get(env, "sender_id"), "sender-7"));
    CHECK(text_equals(nb_envelope_get(env, "receiver_name"), "dashboard"));
    CHECK(text_equals(nb_envelope_get(env, "receiver_id"), "receiver-9"));
    CHECK(text_equals(nb_envelope_get(env, "reply_to"), "/c/replies"));
    CHECK(text_equals(nb_envelope_get(env, "reply_to_msg_id"), "msg-c-0"));
    CHECK(text_equals(nb_envelope_get(env, "send_to"), SUBJECT));
    CHECK(text_equals(nb_envelope_get(env, "broker_url"), nats_url));
    CHECK(strlen(nb_envelope_get(env, "timestamp")) == strlen("2026-11-25T10:00:00.123Z"));
    CHECK(nb_envelope_get(env, "no_such_field") == NULL);
    {
        /* All header strings in one call: the same pointers as nb_envelope_get, in its order. */
        static const char *const names[] = {"correlation_id", "msg_id", "timestamp", "send_to",
                                            "msg_purpose", "sender_name", "sender_id",
                                            "receiver_name", "receiver_id", "reply_to",
                                            "reply_to_msg_id", "broker_url"};
        nb_string_view fields[16];
        CHECK(nb_envelope_header_strings(env, fields, 16) == 12);
        for (int i = 0; i < 12; i++) {
            CHECK(fields[i].ptr == nb_envelope_get(env, names[i]));
            CHECK(fields[i].len == strlen(nb_envelope_get(env, names[i])));
        }
        nb_string_view two[2] = {{NULL, 99}, {NULL, 99}};
        CHECK(nb_envelope_header_strings(env, two, 1) == 12);
        CHECK(two[0].ptr == nb_envelope_get(env, "correlation_id") && two[1].len == 99);
        CHECK(nb_envelope_header_strings(env, NULL, 12) == 12);
    }
    CHECK(text_equals(nb_envelope_metadata_json(env), "{\"site\":\"plant-2\"}"));
    CHECK(text_equals(nb_envelope_subject(env), SUBJECT));
    CHECK(text_equals(nb_envelope_reply_subject(env), "/c/replies"));
    CHECK(strstr(nb_envelope_json(env), "\"value\":\"Hello World\"") != NULL);
    CHECK(nb_envelope_payload_count(env) == PAYLOADS);

    nb_payload_view view;
    CHECK_OK(nb_envelope_payload(env, 0, &view, &err));
    CHECK(text_equals(view.dataname, "message"));
    CHECK(text_equals(view.type, "text"));
    CHECK(text_equals(view.transport, "direct"));
    CHECK(view.size == strlen(text));
    CHECK(view.sha256 != NULL && strlen(view.sha256) == 64);
    CHECK(strlen(view.id) == 36);
    CHECK(text_equals(view.metadata_json, "{\"lang\":\"en\"}"));
    CHECK(bytes_equal_text(view.data, view.len, text));
    CHECK(text_equals((const char *)view.data, text)); /* NUL-terminated */
    CHECK(view.file_path == NULL);

    CHECK_OK(nb_envelope_payload(env, 1, &view, &err));
    CHECK(text_equals(view.type, "dictionary"));
    CHECK(text_equals((const char *)view.data, "{\"interval\":60,\"tags\":[\"a\",\"b\"]}"));
    CHECK(text_equals(view.metadata_json, "{}"));

    for (size_t index = 2; index <= 3; index++) {
        CHECK_OK(nb_envelope_payload(env, index, &view, &err));
        CHECK(text_equals(view.type, "table"));
        CHECK(view.len == ipc_len && memcmp(view.data, ipc, ipc_len) == 0);
        CHECK_OK(nb_envelope_payload_table(env, index, &received_table, &err));
        CHECK(nb_table_num_rows(received_table) == 3);
        CHECK(nb_table_num_columns(received_table) == 4);
        nb_table_free(received_table);
        received_table = NULL;
    }

    const struct {
        size_t index;
        const char *type;
        const uint8_t *data;
        size_t len;
    } binaries[] = {
        {4, "image", png, sizeof png},
        {5, "audio", wav, sizeof wav},
        {6, "video", mp4, sizeof mp4},
        {7, "binary", binary, sizeof binary},
        {8, "binary", (const uint8_t *)file_bytes, sizeof file_bytes},
    };
    for (size_t i = 0; i < sizeof binaries / sizeof binaries[0]; i++) {
        CHECK_OK(nb_envelope_payload(env, binaries[i].index, &view, &err));
        CHECK(text_equals(view.type, binaries[i].type));
        CHECK(view.len == binaries[i].len);
        CHECK(memcmp(view.data, binaries[i].data, view.len) == 0);
    }

    CHECK_OK(nb_envelope_payload(env, 9, &view, &err));
    CHECK(text_equals(view.dataname, "empty") && view.len == 0 && view.data != NULL);
    CHECK(view.data[0] == '\0');
    CHECK_OK(nb_envelope_payload(env, 10, &view, &err));
    CHECK(bytes_equal_text(view.data, view.len, "42"));

    size_t found = 99;
    CHECK_OK(nb_envelope_find_payload(env, "from-file", &found, &err));
    CHECK(found == 8);
    CHECK_FAILS(nb_envelope_payload_table(env, 0, &received_table, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK(received_table == NULL);

    /* The published JSON decodes to the same payloads. */
    CHECK_OK(nb_client_receive(client, (const uint8_t *)sent_json, strlen(sent_json), NULL,
                               &decoded, &err));
    CHECK(nb_envelope_payload_count(decoded) == PAYLOADS);
    CHECK(nb_envelope_subject(decoded) == NULL);
    CHECK(text_equals(nb_envelope_get(decoded, "msg_id"), "msg-c-1"));
    CHECK_OK(nb_envelope_payload(decoded, 7, &view, &err));
    CHECK(view.len == sizeof binary && memcmp(view.data, binary, sizeof binary) == 0);

    /* JetStream: refused without a stream, acknowledged with one. */
    const char *js_subjects[] = {"c.js.events"};
    nb_send_payload ping = {.dataname = "ping", .type = "text",
                            .data = (const uint8_t *)"ping", .len = 4};
    CHECK_OK(nb_send_options_set_jetstream(send, true, &err));
    CHECK_OK(nb_send_options_set_msg_id(send, "msg-c-js", &err));
    CHECK_FAILS(nb_client_send(client, "c.js.nostream", &ping, 1, send, NULL, &err),
                NB_ERR_JETSTREAM);
    CHECK_OK(nb_client_ensure_stream(client, "C_TESTS", js_subjects, 1, &err));
    CHECK_OK(nb_client_send(client, "c.js.events", &ping, 1, send, &js_json, &err));
    CHECK(strstr(js_json, "\"msg_id\":\"msg-c-js\"") != NULL);

    CHECK_OK(nb_client_flush(client, &err));
    failed = 0;
    printf("test_payloads: %d payload types round-tripped\n", PAYLOADS);

cleanup:
    if (fd >= 0) close(fd);
    unlink(path);
    nb_string_free(sent_json);
    nb_string_free(js_json);
    nb_envelope_free(env);
    nb_envelope_free(decoded);
    nb_table_free(received_table);
    nb_table_free(table);
    nb_table_builder_free(builder);
    nb_send_options_free(send);
    nb_subscription_free(sub);
    nb_client_free(client);
    nb_error_free(err);
    return failed;
}
