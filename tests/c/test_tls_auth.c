/*
 * TLS and authentication against a server that requires both (issue 19
 * item 3): tests/c/run.sh starts a second nb-testenv with `--tls --user
 * alice --password PW` (a CA made at start) and passes NB_TLS_NATS_URL,
 * NB_TLS_CA, NB_TLS_UNTRUSTED_CA and NB_TLS_PASSWORD. A client trusting the
 * CA with the password round trips; a wrong password is NB_ERR_AUTH and an
 * untrusted CA NB_ERR_CONNECTION, each within the connect timeout, and
 * neither error message holds the password.
 */
#include "test_util.h"

#define CONNECT_TIMEOUT_MS 3000

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

/* Connect options for the TLS server: CA file, user and password. */
static nb_status tls_options(const char *ca, const char *password, nb_connect_options **out,
                             nb_error **err) {
    nb_status status = nb_connect_options_new(out, err);
    if (status == NB_OK) status = nb_connect_options_set_tls_ca_file(*out, ca, err);
    if (status == NB_OK) status = nb_connect_options_set_user_password(*out, "alice", password, err);
    if (status == NB_OK) status = nb_connect_options_set_connect_timeout_ms(*out, CONNECT_TIMEOUT_MS, err);
    return status;
}

/* Connecting with `options` fails with `expected` in time, without `secret`
 * in the message. Returns 1 when it does. */
static int fails_fast(const char *url, const nb_connect_options *options, nb_status expected,
                      const char *secret) {
    nb_error *err = NULL;
    nb_client *client = NULL;
    double started = now_ms();
    nb_status status = nb_client_connect(url, options, &client, &err);
    double elapsed = now_ms() - started;
    int ok = status == expected && err != NULL && nb_error_code(err) == expected &&
             elapsed < CONNECT_TIMEOUT_MS && strstr(nb_error_message(err), secret) == NULL;
    if (!ok)
        fprintf(stderr, "expected %s within %d ms, got %s after %.0f ms: %s\n",
                nb_status_name(expected), CONNECT_TIMEOUT_MS, nb_status_name(status), elapsed,
                err ? nb_error_message(err) : "(no error)");
    nb_client_free(client);
    nb_error_free(err);
    return ok;
}

int main(void) {
    int failed = 1;
    nb_error *err = NULL;
    nb_connect_options *good = NULL, *wrong_password = NULL, *untrusted = NULL;
    nb_client *client = NULL;
    nb_subscription *inbox = NULL;
    nb_envelope *envelope = NULL;
    char *sent = NULL;
    const char *url = test_env("NB_TLS_NATS_URL");
    const char *ca = test_env("NB_TLS_CA");
    const char *untrusted_ca = test_env("NB_TLS_UNTRUSTED_CA");
    const char *password = test_env("NB_TLS_PASSWORD");

    CHECK_OK(tls_options(ca, password, &good, &err));
    CHECK_OK(nb_connect_options_set_require_tls(good, true, &err));
    CHECK_OK(nb_client_connect(url, good, &client, &err));
    CHECK_OK(nb_client_subscribe(client, "secure.c", NULL, &inbox, &err));
    const char *text = "hello over TLS with a password";
    nb_send_payload payload = {.dataname = "greeting", .type = "text",
                               .data = (const uint8_t *)text, .len = strlen(text)};
    CHECK_OK(nb_client_send(client, "secure.c", &payload, 1, NULL, &sent, &err));
    CHECK(strstr(sent, password) == NULL);
    CHECK_OK(nb_subscription_next(inbox, 10000, &envelope, &err));
    nb_payload_view view;
    CHECK_OK(nb_envelope_payload(envelope, 0, &view, &err));
    CHECK(bytes_equal_text(view.data, view.len, text));

    CHECK_OK(tls_options(ca, "c-wrong-password-41d7", &wrong_password, &err));
    CHECK(fails_fast(url, wrong_password, NB_ERR_AUTH, "c-wrong-password-41d7"));
    CHECK_OK(tls_options(untrusted_ca, password, &untrusted, &err));
    CHECK(fails_fast(url, untrusted, NB_ERR_CONNECTION, password));

    failed = 0;
    printf("tls/auth ok: round trip over TLS with user/password; wrong password AUTH and "
           "untrusted CA CONNECTION within %d ms, no secret in messages\n",
           CONNECT_TIMEOUT_MS);
cleanup:
    nb_envelope_free(envelope);
    nb_string_free(sent);
    nb_subscription_free(inbox);
    nb_client_free(client);
    nb_connect_options_free(good);
    nb_connect_options_free(wrong_password);
    nb_connect_options_free(untrusted);
    nb_error_free(err);
    return failed;
}
