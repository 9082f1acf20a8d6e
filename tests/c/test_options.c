/*
 * The option schema over the C ABI, against the real server: the generic
 * setters (nb_<scope>_options_set_json) by snake_case and camelCase name,
 * their errors, the schema itself (nb_option_schema_json), a NULL URL
 * resolved through $NATS_URL by the core, user without password refused at
 * connect, and download_timeout in milliseconds through the new typed
 * setter: 300 ms against a link that never answers fails well under 3 s.
 */
#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* A loopback socket that listens and never accepts: the kernel completes
 * the TCP handshake, nobody ever answers. Returns the fd; *port set. */
static int silent_listener(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(addr.sin_port);
    return fd;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* sha256("hi") */
#define HI_SHA "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"

int main(void) {
    int failed = 1;
    int listener = -1;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_client *other = NULL;
    nb_connect_options *connect = NULL;
    nb_send_options *send = NULL;
    nb_receive_options *receive = NULL;
    nb_envelope *env = NULL;
    char *json = NULL;
    char text[256];
    char body[1024];
    const char *nats_url = test_env("NB_NATS_URL");

    /* The schema, as docs/options.json. */
    const char *schema = nb_option_schema_json();
    CHECK(schema != NULL && strstr(schema, "\"download_timeout\"") != NULL);
    CHECK(strstr(schema, "\"directSha256\"") != NULL);

    /* A NULL URL: the options' nats_url (set by camelCase name), else $NATS_URL. */
    CHECK_OK(nb_connect_options_new(&connect, &err));
    snprintf(text, sizeof text, "\"%s\"", nats_url);
    CHECK_OK(nb_connect_options_set_json(connect, "natsUrl", text, &err));
    CHECK_OK(nb_connect_options_set_json(connect, "connect_timeout", "2000", &err));
    CHECK_OK(nb_client_connect(NULL, connect, &client, &err));
    CHECK(setenv("NATS_URL", nats_url, 1) == 0);
    CHECK_OK(nb_client_connect(NULL, NULL, &other, &err));
    nb_client_free(other);
    other = NULL;
    CHECK(setenv("NATS_URL", "nats://127.0.0.1:1", 1) == 0);
    nb_connect_options_free(connect);
    connect = NULL;
    CHECK_OK(nb_connect_options_new(&connect, &err));
    CHECK_OK(nb_connect_options_set_connect_timeout_ms(connect, 2000, &err));
    nb_status status = nb_client_connect(NULL, connect, &other, &err);
    CHECK(status == NB_ERR_CONNECTION || status == NB_ERR_TIMEOUT);
    CHECK(other == NULL);
    nb_error_free(err);
    err = NULL;
    CHECK(unsetenv("NATS_URL") == 0);

    /* user without password: refused at connect, by the core. */
    CHECK_OK(nb_connect_options_set_user(connect, "alice", &err));
    CHECK_FAILS(nb_client_connect(nats_url, connect, &other, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_OK(nb_connect_options_set_json(connect, "password", "\"secret\"", &err));
    nb_connect_options_free(connect);
    connect = NULL;

    /* The generic send setter reaches the envelope. */
    CHECK_OK(nb_send_options_new(&send, &err));
    CHECK_OK(nb_send_options_set_json(send, "directSha256", "true", &err));
    CHECK_OK(nb_send_options_set_json(send, "msg_purpose", "\"command\"", &err));
    CHECK_OK(nb_send_options_set_json(send, "metadata", "{\"k\":[1,2]}", &err));
    nb_send_payload hi = {.dataname = "hi", .type = "binary", .data = (const uint8_t *)"hi",
                          .len = 2};
    CHECK_OK(nb_client_send(client, "/c/options", &hi, 1, send, &json, &err));
    CHECK(strstr(json, "\"sha256\":\"" HI_SHA "\"") != NULL);
    CHECK(strstr(json, "\"msg_purpose\":\"command\"") != NULL);
    CHECK(strstr(json, "\"metadata\":{\"k\":[1,2]}") != NULL);
    nb_string_free(json);
    json = NULL;

    /* Unknown names, wrong kinds and bad JSON are refused, naming the option;
     * the options are unchanged. */
    CHECK_FAILS(nb_send_options_set_json(send, "size_treshold", "1", &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_send_options_set_json(send, "download_timeout", "1", &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_OK(nb_receive_options_new(&receive, &err));
    nb_status wrong = nb_receive_options_set_json(receive, "base_delay", "\"100\"", &err);
    CHECK(wrong == NB_ERR_INVALID_ARGUMENT && strstr(nb_error_message(err), "base_delay"));
    nb_error_free(err);
    err = NULL;
    CHECK_FAILS(nb_receive_options_set_json(receive, "max_retries", "-1", &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_receive_options_set_json(receive, "max_retries", "{", &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_receive_options_set_json(receive, NULL, "1", &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_receive_options_set_json(NULL, "max_retries", "1", &err),
                NB_ERR_INVALID_ARGUMENT);

    /* download_timeout in milliseconds (the new typed setter): one 300 ms
     * attempt against a link that never answers fails fast. */
    int port = 0;
    listener = silent_listener(&port);
    CHECK(listener >= 0);
    snprintf(body, sizeof body,
             "{\"version\":1,\"msg_id\":\"m\",\"payloads\":[{\"dataname\":\"a\",\"type\":"
             "\"binary\",\"transport\":\"link\",\"size\":2,\"sha256\":\"" HI_SHA "\","
             "\"data\":\"http://127.0.0.1:%d/never/answers\"}]}",
             port);
    CHECK_OK(nb_receive_options_set_download_timeout_ms(receive, 300, &err));
    CHECK_OK(nb_receive_options_set_json(receive, "maxRetries", "0", &err));
    double start = now_s();
    status = nb_client_receive(client, (const uint8_t *)body, strlen(body), receive, &env, &err);
    double elapsed = now_s() - start;
    CHECK(status == NB_ERR_DOWNLOAD || status == NB_ERR_TIMEOUT);
    CHECK(env == NULL);
    CHECK(elapsed < 3.0);
    nb_error_free(err);
    err = NULL;

    /* max_link_payloads (a new typed setter): 0 refuses any link payload
     * before anything is fetched. */
    CHECK_OK(nb_receive_options_set_max_link_payloads(receive, 0, &err));
    status = nb_client_receive(client, (const uint8_t *)body, strlen(body), receive, &env, &err);
    CHECK(status == NB_ERR_DOWNLOAD && strstr(nb_error_message(err), "max_link_payloads"));
    nb_error_free(err);
    err = NULL;

    printf("option schema: generic setters, NULL URL, download_timeout %.2f s\n", elapsed);
    failed = 0;
cleanup:
    if (listener >= 0) close(listener);
    nb_error_free(err);
    nb_string_free(json);
    nb_envelope_free(env);
    nb_send_options_free(send);
    nb_receive_options_free(receive);
    nb_connect_options_free(connect);
    nb_client_free(other);
    nb_client_free(client);
    return failed;
}
