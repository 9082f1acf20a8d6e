/*
 * Bad input gives the documented status code and an error object, never a
 * crash: NULL pointers, invalid type strings and payload data, bad
 * envelopes of every kind, a closed port, a closed client, timeouts and
 * missing responders. Out-parameters stay untouched on failure. Also the
 * version macros and nb_version agree.
 */
#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* A loopback TCP port nobody listens on (bound, then released). */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
}

/* Body of an envelope with one payload object. */
static void envelope_with(char *out, size_t size, const char *payload) {
    snprintf(out, size, "{\"version\":1,\"msg_id\":\"m\",\"payloads\":[%s]}", payload);
}

#define ZERO_SHA "0000000000000000000000000000000000000000000000000000000000000000"
/* sha256("hi") */
#define HI_SHA "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"

int main(void) {
    int failed = 1;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_client *unreachable = (nb_client *)0x1; /* must stay untouched */
    nb_connect_options *connect = NULL;
    nb_send_options *send = NULL;
    nb_receive_options *receive = NULL;
    nb_subscription *sub = NULL;
    nb_envelope *env = NULL;
    nb_table_builder *builder = NULL;
    nb_table *table = NULL;
    char *json = NULL;
    char body[1024];
    char url[128];

    /* Version macros and the library agree. */
    char expected_version[64];
    snprintf(expected_version, sizeof expected_version, "%d.%d.%d", NATSBRIDGE_VERSION_MAJOR,
             NATSBRIDGE_VERSION_MINOR, NATSBRIDGE_VERSION_PATCH);
    CHECK(text_equals(nb_version(), expected_version));
    CHECK(text_equals(nb_status_name(NB_OK), "OK"));
    CHECK(text_equals(nb_status_name(NB_ERR_INTEGRITY), "INTEGRITY"));
    CHECK(text_equals(nb_status_name(NB_ERR_INTERNAL), "INTERNAL"));
    CHECK(text_equals(nb_status_name(4242), "UNKNOWN"));
    CHECK(nb_error_code(NULL) == NB_OK);
    CHECK(text_equals(nb_error_message(NULL), ""));
    CHECK(nb_error_dataname(NULL) == NULL);

    /* Every free function accepts NULL. */
    nb_error_free(NULL);
    nb_string_free(NULL);
    nb_client_free(NULL);
    nb_envelope_free(NULL);
    nb_subscription_free(NULL);
    nb_table_free(NULL);
    nb_table_builder_free(NULL);
    nb_connect_options_free(NULL);
    nb_send_options_free(NULL);
    nb_receive_options_free(NULL);

    /* NULL pointers: an error object naming the argument; a NULL out_error
     * is allowed too. (A NULL `servers` is no error: the core resolves
     * $NATS_URL or the default, see test_options.c.) */
    CHECK(nb_client_connect("nats://127.0.0.1:1", NULL, NULL, NULL) == NB_ERR_INVALID_ARGUMENT);
    CHECK(nb_client_connect("nats://127.0.0.1:1", NULL, NULL, &err) == NB_ERR_INVALID_ARGUMENT);
    CHECK(strstr(nb_error_message(err), "out_client") != NULL);
    nb_error_free(err);
    err = NULL;
    CHECK_FAILS(nb_client_send(NULL, "s", NULL, 0, NULL, NULL, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_client_receive(NULL, NULL, 0, NULL, &env, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_send_options_new(NULL, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_send_options_set_msg_purpose(NULL, "x", &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_envelope_payload(NULL, 0, NULL, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_subscription_next(NULL, 10, &env, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_table_from_ipc(NULL, 4, &table, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK(nb_envelope_get(NULL, "msg_id") == NULL);
    CHECK(nb_envelope_header_strings(NULL, NULL, 0) == 0);
    CHECK(nb_envelope_payload_count(NULL) == 0);
    CHECK(nb_table_num_rows(NULL) == 0);
    CHECK(client == NULL && env == NULL && table == NULL);

    /* A closed port: a connection error, and the out-parameter untouched. */
    int port = closed_port();
    CHECK(port > 0);
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    CHECK_OK(nb_connect_options_new(&connect, &err));
    CHECK_OK(nb_connect_options_set_connect_timeout_ms(connect, 2000, &err));
    CHECK_OK(nb_connect_options_set_name(connect, "c-errors", &err));
    CHECK_FAILS(nb_client_connect(url, connect, &unreachable, &err), NB_ERR_CONNECTION);
    CHECK(unreachable == (nb_client *)0x1);
    CHECK_FAILS(nb_connect_options_set_subscription_capacity(connect, 0, &err),
                NB_ERR_INVALID_ARGUMENT);

    CHECK_OK(nb_client_connect(test_env("NB_NATS_URL"), connect, &client, &err));
    CHECK(nb_client_max_payload(client) > 0);

    /* Invalid payloads: nothing is sent. */
    const uint8_t bad_utf8[] = {0xff, 0xfe};
    const uint8_t two[] = {1, 2};
    nb_send_payload bad[] = {
        {.dataname = "x", .type = "spreadsheet", .data = two, .len = 2},
        {.dataname = "", .type = "binary", .data = two, .len = 2},
        {.dataname = "x", .type = "text", .data = bad_utf8, .len = 2},
        {.dataname = "x", .type = "dictionary", .data = (const uint8_t *)"{oops", .len = 5},
        {.dataname = "x", .type = "table", .data = two, .len = 2},
        {.dataname = "x", .type = "binary", .data = NULL, .len = 5},
        {.dataname = "x", .type = "binary", .data = two, .len = 2, .file_path = "/tmp/x"},
        {.dataname = "x", .type = "binary", .file_path = "/nonexistent/natsbridge/file"},
        {.dataname = "x", .type = "binary", .data = two, .len = 2, .metadata_json = "[1]"},
        {.dataname = NULL, .type = "binary"},
        {.dataname = "x", .type = NULL},
        {.dataname = "x", .type = "Text", .data = two, .len = 2},
    };
    const nb_status expected[] = {
        NB_ERR_UNKNOWN_TYPE,     NB_ERR_INVALID_ARGUMENT, NB_ERR_INVALID_UTF8,
        NB_ERR_SERIALIZATION,    NB_ERR_INVALID_TABLE,    NB_ERR_INVALID_ARGUMENT,
        NB_ERR_INVALID_ARGUMENT, NB_ERR_IO,               NB_ERR_INVALID_ARGUMENT,
        NB_ERR_INVALID_ARGUMENT, NB_ERR_INVALID_ARGUMENT, NB_ERR_UNKNOWN_TYPE,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nb_status status = nb_client_send(client, "/c/errors", &bad[i], 1, NULL, &json, &err);
        if (status != expected[i] || nb_error_code(err) != expected[i]) {
            fprintf(stderr, "bad payload %zu: got %d (%s), expected %d\n", i, status,
                    nb_error_message(err), expected[i]);
        }
        CHECK(status == expected[i]);
        CHECK(json == NULL);
        nb_error_free(err);
        err = NULL;
    }
    /* The error names the payload it concerns. */
    CHECK(nb_client_send(client, "/c/errors", &bad[0], 1, NULL, NULL, &err) ==
          NB_ERR_UNKNOWN_TYPE);
    CHECK(text_equals(nb_error_dataname(err), "x"));
    CHECK(strstr(nb_error_message(err), "spreadsheet") != NULL);
    nb_error_free(err);
    err = NULL;
    /* Bad subjects and counts. */
    CHECK_FAILS(nb_client_send(client, "", NULL, 0, NULL, NULL, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_client_send(client, "a b", NULL, 0, NULL, NULL, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_client_send(client, "/c/errors", NULL, 3, NULL, NULL, &err),
                NB_ERR_INVALID_ARGUMENT);

    /* Option setters refuse bad values and keep the options as they were. */
    CHECK_OK(nb_send_options_new(&send, &err));
    CHECK_FAILS(nb_send_options_set_metadata_json(send, "[1, 2]", &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_send_options_set_metadata_json(send, "{", &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_send_options_set_sender_name(send, NULL, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_send_options_set_sender_name(send, "\xff", &err), NB_ERR_INVALID_ARGUMENT);
    nb_send_payload ok = {.dataname = "ok", .type = "text", .data = (const uint8_t *)"ok",
                          .len = 2};
    CHECK_OK(nb_client_send(client, "/c/errors", &ok, 1, send, &json, &err));
    CHECK(strstr(json, "\"metadata\":{}") != NULL);
    CHECK(strstr(json, "\"sender_name\":\"NATSBridge\"") != NULL);
    nb_string_free(json);
    json = NULL;

    /* Bad envelopes. */
    CHECK_OK(nb_receive_options_new(&receive, &err));
    CHECK_OK(nb_receive_options_set_max_retries(receive, 1, &err));
    CHECK_OK(nb_receive_options_set_base_delay_ms(receive, 10, &err));
    CHECK_OK(nb_receive_options_set_max_delay_ms(receive, 20, &err));
    CHECK_OK(nb_receive_options_set_download_timeout_ms(receive, 2000, &err));
    struct {
        const char *payload; /* NULL: `body` is used as it is */
        const char *whole;
        nb_status expected;
    } envelopes[] = {
        {NULL, "not json at all", NB_ERR_MALFORMED_ENVELOPE},
        {NULL, "", NB_ERR_MALFORMED_ENVELOPE},
        {NULL, "{\"version\":1}", NB_ERR_MALFORMED_ENVELOPE},
        {NULL, "{\"payloads\":{}}", NB_ERR_MALFORMED_ENVELOPE},
        {NULL, "{\"version\":2,\"payloads\":[]}", NB_ERR_UNSUPPORTED_VERSION},
        {"{\"dataname\":\"a\",\"type\":\"binary\",\"transport\":\"direct\",\"size\":2}", NULL,
         NB_ERR_MALFORMED_ENVELOPE},
        {"{\"dataname\":\"a\",\"type\":\"binary\",\"transport\":\"direct\",\"size\":3,"
         "\"data\":\"!!!!\"}",
         NULL, NB_ERR_INVALID_BASE64},
        {"{\"dataname\":\"a\",\"type\":\"binary\",\"transport\":\"direct\",\"size\":3,"
         "\"data\":\"aGk=\"}",
         NULL, NB_ERR_INTEGRITY},
        {"{\"dataname\":\"a\",\"type\":\"binary\",\"transport\":\"direct\",\"size\":2,"
         "\"sha256\":\"" ZERO_SHA "\",\"data\":\"aGk=\"}",
         NULL, NB_ERR_INTEGRITY},
        {"{\"dataname\":\"a\",\"type\":\"text\",\"transport\":\"direct\",\"size\":2,"
         "\"data\":\"//4=\"}",
         NULL, NB_ERR_INVALID_UTF8},
        {"{\"dataname\":\"a\",\"type\":\"dictionary\",\"transport\":\"direct\",\"size\":1,"
         "\"data\":\"ew==\"}",
         NULL, NB_ERR_INVALID_JSON},
        {"{\"dataname\":\"a\",\"type\":\"table\",\"transport\":\"direct\",\"size\":2,"
         "\"data\":\"aGk=\"}",
         NULL, NB_ERR_INVALID_TABLE},
        {"{\"dataname\":\"a\",\"type\":\"binary\",\"transport\":\"link\",\"size\":2,"
         "\"sha256\":\"" HI_SHA "\",\"data\":\"file:///etc/passwd\"}",
         NULL, NB_ERR_URL_NOT_ALLOWED},
        {"{\"dataname\":\"a\",\"type\":\"binary\",\"transport\":\"link\",\"size\":2,"
         "\"sha256\":\"" HI_SHA "\",\"data\":\"http://169.254.169.254/latest/meta-data\"}",
         NULL, NB_ERR_URL_NOT_ALLOWED},
    };
    for (size_t i = 0; i < sizeof envelopes / sizeof envelopes[0]; i++) {
        if (envelopes[i].payload != NULL) {
            envelope_with(body, sizeof body, envelopes[i].payload);
        } else {
            snprintf(body, sizeof body, "%s", envelopes[i].whole);
        }
        const uint8_t *data = body[0] == '\0' ? NULL : (const uint8_t *)body;
        nb_status status = nb_client_receive(client, data, strlen(body), receive, &env, &err);
        if (status != envelopes[i].expected) {
            fprintf(stderr, "envelope %zu: got %d (%s), expected %d\n", i, status,
                    nb_error_message(err), envelopes[i].expected);
        }
        CHECK(status == envelopes[i].expected);
        CHECK(nb_error_code(err) == envelopes[i].expected);
        CHECK(env == NULL);
        nb_error_free(err);
        err = NULL;
    }

    /* A link to a closed port: a download error after bounded retries. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/missing/a", port);
    char link[512];
    snprintf(link, sizeof link,
             "{\"dataname\":\"a\",\"type\":\"binary\",\"transport\":\"link\",\"size\":2,"
             "\"sha256\":\"" HI_SHA "\",\"data\":\"%s\"}",
             url);
    envelope_with(body, sizeof body, link);
    CHECK_FAILS(nb_client_receive(client, (const uint8_t *)body, strlen(body), receive, &env,
                                  &err),
                NB_ERR_DOWNLOAD);
    /* An origin outside the allow-list is refused before any download. */
    CHECK_OK(nb_receive_options_add_allowed_origin(receive, "http://files.example.invalid", &err));
    CHECK_FAILS(nb_client_receive(client, (const uint8_t *)body, strlen(body), receive, &env,
                                  &err),
                NB_ERR_URL_NOT_ALLOWED);

    /* An unknown payload type is not an error: bytes with the type kept. */
    envelope_with(body, sizeof body,
                  "{\"dataname\":\"h\",\"type\":\"hologram\",\"transport\":\"direct\","
                  "\"size\":2,\"data\":\"aGk=\"}");
    CHECK_OK(nb_client_receive(client, (const uint8_t *)body, strlen(body), NULL, &env, &err));
    nb_payload_view view;
    memset(&view, 0xAB, sizeof view);
    nb_payload_view untouched = view;
    CHECK_FAILS(nb_envelope_payload(env, 1, &view, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK(memcmp(&view, &untouched, sizeof view) == 0);
    CHECK_OK(nb_envelope_payload(env, 0, &view, &err));
    CHECK(text_equals(view.type, "hologram"));
    CHECK(bytes_equal_text(view.data, view.len, "hi"));
    CHECK(view.sha256 == NULL);
    size_t index = 7;
    CHECK_FAILS(nb_envelope_find_payload(env, "absent", &index, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK(index == 7);
    nb_envelope_free(env);
    env = NULL;

    /* Table input. */
    CHECK_FAILS(nb_table_from_ipc((const uint8_t *)"ARROW1\0\0", 8, &table, &err),
                NB_ERR_INVALID_TABLE);
    const int64_t three[] = {1, 2, 3};
    const char *bad_names[] = {"ok", "\xc3\x28"};
    CHECK_OK(nb_table_builder_new(&builder, &err));
    CHECK_OK(nb_table_builder_add_int64(builder, "n", three, NULL, 3, &err));
    CHECK_FAILS(nb_table_builder_add_int64(builder, "m", three, NULL, 2, &err),
                NB_ERR_SERIALIZATION);
    CHECK_FAILS(nb_table_builder_add_int64(builder, "n", three, NULL, 3, &err),
                NB_ERR_SERIALIZATION);
    CHECK_FAILS(nb_table_builder_add_utf8(builder, "s", bad_names, 2, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_table_builder_add_int64(builder, "", three, NULL, 3, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_table_builder_add_int64(builder, "z", NULL, NULL, 3, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_OK(nb_table_builder_finish(builder, &table, &err));
    CHECK(nb_table_num_columns(table) == 1 && nb_table_num_rows(table) == 3);
    nb_send_payload wrong_type = {.dataname = "t", .type = "dictionary", .table = table};
    CHECK_FAILS(nb_client_send(client, "/c/errors", &wrong_type, 1, NULL, NULL, &err),
                NB_ERR_INVALID_ARGUMENT);

    /* Timeouts, missing responders, pull on a callback-less subscription. */
    CHECK_OK(nb_client_subscribe(client, "/c/errors/quiet", NULL, &sub, &err));
    CHECK_FAILS(nb_subscription_next(sub, 100, &env, &err), NB_ERR_TIMEOUT);
    CHECK(env == NULL);
    CHECK_FAILS(nb_client_subscribe_callback(client, "/c/x", NULL, NULL, NULL, &sub, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_client_request(client, "/c/errors/nobody", &ok, 1, NULL, 2000, NULL, &env,
                                  &err),
                NB_ERR_NO_RESPONDERS);

    /* A closed client refuses work; its subscriptions end. */
    CHECK_OK(nb_client_close(client, &err));
    CHECK_OK(nb_client_close(client, &err));
    CHECK_FAILS(nb_client_send(client, "/c/errors", &ok, 1, NULL, NULL, &err), NB_ERR_CLOSED);
    CHECK_FAILS(nb_subscription_next(sub, 1000, &env, &err), NB_ERR_CLOSED);
    CHECK_FAILS(nb_client_flush(client, &err), NB_ERR_CLOSED);

    failed = 0;
    printf("test_errors: every bad input gave its code\n");

cleanup:
    nb_string_free(json);
    nb_envelope_free(env);
    nb_table_free(table);
    nb_table_builder_free(builder);
    nb_subscription_free(sub);
    nb_receive_options_free(receive);
    nb_send_options_free(send);
    nb_connect_options_free(connect);
    nb_client_free(client);
    nb_error_free(err);
    return failed;
}
