/*
 * Request/reply between two clients: a responder answering from its
 * subscription callback, a responder pulling requests on the main thread
 * while another thread waits for the reply, an explicit reply_to subject, a
 * request nobody answers (bounded timeout), and a reply to an envelope that
 * has nowhere to reply to.
 */
#include "test_util.h"

#define SERVICE "/c/service"

struct responder {
    const nb_client *client;
    const nb_send_options *options;
    pthread_mutex_t lock;
    int answered;
    int failures;
    char failure[256];
};

/* Answers "ping" with "pong: ping", from the subscription's thread. */
static void answer(void *user_data, const nb_envelope *request, const nb_error *error) {
    struct responder *responder = user_data;
    nb_error *err = NULL;
    nb_status status = NB_ERR_INVALID_ARGUMENT;
    char text[128] = "";
    nb_payload_view view;
    if (request != NULL && error == NULL &&
        nb_envelope_payload(request, 0, &view, &err) == NB_OK) {
        snprintf(text, sizeof text, "pong: %s", (const char *)view.data);
        nb_send_payload reply = {.dataname = "answer", .type = "text",
                                 .data = (const uint8_t *)text, .len = strlen(text)};
        status = nb_client_reply(responder->client, request, &reply, 1, responder->options, NULL,
                                 &err);
    }
    pthread_mutex_lock(&responder->lock);
    if (status == NB_OK) {
        responder->answered++;
    } else {
        responder->failures++;
        snprintf(responder->failure, sizeof responder->failure, "%s",
                 error != NULL ? nb_error_message(error) : nb_error_message(err));
    }
    pthread_mutex_unlock(&responder->lock);
    nb_error_free(err);
}

struct pending_request {
    const nb_client *client;
    nb_status status;
    char answer[128];
};

/* Sends one request and keeps the answer's text. */
static void *request_once(void *arg) {
    struct pending_request *pending = arg;
    nb_error *err = NULL;
    nb_envelope *reply = NULL;
    nb_send_payload ping = {.dataname = "question", .type = "text",
                            .data = (const uint8_t *)"pulled", .len = 6};
    pending->status = nb_client_request(pending->client, SERVICE "/pull", &ping, 1, NULL, 10000,
                                        NULL, &reply, &err);
    nb_payload_view view;
    if (pending->status == NB_OK) pending->status = nb_envelope_payload(reply, 0, &view, &err);
    if (pending->status == NB_OK) {
        snprintf(pending->answer, sizeof pending->answer, "%s", (const char *)view.data);
    } else {
        snprintf(pending->answer, sizeof pending->answer, "%s", nb_error_message(err));
    }
    nb_envelope_free(reply);
    nb_error_free(err);
    return NULL;
}

int main(void) {
    int failed = 1;
    nb_error *err = NULL;
    nb_client *service = NULL;
    nb_client *caller = NULL;
    nb_send_options *reply_options = NULL;
    nb_send_options *request_options = NULL;
    nb_subscription *callback_sub = NULL;
    nb_subscription *pull_sub = NULL;
    nb_subscription *silent_sub = NULL;
    nb_envelope *reply = NULL;
    nb_envelope *request = NULL;
    nb_envelope *orphan = NULL;
    pthread_t requester;
    int requester_started = 0;
    struct responder responder = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct pending_request pending = {.status = NB_ERR_INTERNAL};

    const char *nats_url = test_env("NB_NATS_URL");
    CHECK_OK(nb_client_connect(nats_url, NULL, &service, &err));
    CHECK_OK(nb_client_connect(nats_url, NULL, &caller, &err));

    CHECK_OK(nb_send_options_new(&reply_options, &err));
    CHECK_OK(nb_send_options_set_sender_name(reply_options, "responder", &err));
    responder.client = service;
    responder.options = reply_options;
    CHECK_OK(nb_client_subscribe_callback(service, SERVICE, NULL, answer, &responder,
                                          &callback_sub, &err));

    /* Requests answered from the callback. */
    CHECK_OK(nb_send_options_new(&request_options, &err));
    CHECK_OK(nb_send_options_set_correlation_id(request_options, "corr-rr", &err));
    nb_send_payload ping = {.dataname = "question", .type = "text",
                            .data = (const uint8_t *)"ping", .len = 4};
    for (int i = 0; i < 3; i++) {
        char msg_id[32];
        snprintf(msg_id, sizeof msg_id, "req-%d", i);
        CHECK_OK(nb_send_options_set_msg_id(request_options, msg_id, &err));
        CHECK_OK(nb_client_request(caller, SERVICE, &ping, 1, request_options, 5000, NULL, &reply,
                                   &err));
        nb_payload_view view;
        CHECK_OK(nb_envelope_payload(reply, 0, &view, &err));
        CHECK(text_equals((const char *)view.data, "pong: ping"));
        CHECK(text_equals(nb_envelope_get(reply, "reply_to_msg_id"), msg_id));
        CHECK(text_equals(nb_envelope_get(reply, "correlation_id"), "corr-rr"));
        CHECK(text_equals(nb_envelope_get(reply, "msg_purpose"), "response"));
        CHECK(text_equals(nb_envelope_get(reply, "sender_name"), "responder"));
        nb_envelope_free(reply);
        reply = NULL;
    }

    /* An explicit reply_to subject is where the answer goes. */
    CHECK_OK(nb_send_options_set_reply_to(request_options, "/c/replies/mine", &err));
    CHECK_OK(nb_send_options_set_msg_id(request_options, "req-explicit", &err));
    CHECK_OK(nb_client_request(caller, SERVICE, &ping, 1, request_options, 5000, NULL, &reply,
                               &err));
    CHECK(text_equals(nb_envelope_subject(reply), "/c/replies/mine"));
    CHECK(text_equals(nb_envelope_get(reply, "reply_to_msg_id"), "req-explicit"));
    nb_envelope_free(reply);
    reply = NULL;

    /* A responder that pulls: another thread waits for the answer. */
    CHECK_OK(nb_client_subscribe(service, SERVICE "/pull", NULL, &pull_sub, &err));
    pending.client = caller;
    CHECK(pthread_create(&requester, NULL, request_once, &pending) == 0);
    requester_started = 1;
    CHECK_OK(nb_subscription_next(pull_sub, 10000, &request, &err));
    CHECK(nb_envelope_reply_subject(request) != NULL);
    nb_send_payload pulled = {.dataname = "answer", .type = "text",
                              .data = (const uint8_t *)"pulled back", .len = 11};
    CHECK_OK(nb_client_reply(service, request, &pulled, 1, NULL, NULL, &err));
    pthread_join(requester, NULL);
    requester_started = 0;
    CHECK(pending.status == NB_OK);
    CHECK(text_equals(pending.answer, "pulled back"));

    /* Somebody listens but never answers: a timeout, in bounded time. */
    CHECK_OK(nb_client_subscribe(service, SERVICE "/silent", NULL, &silent_sub, &err));
    struct timespec before, after;
    clock_gettime(CLOCK_MONOTONIC, &before);
    CHECK_FAILS(nb_client_request(caller, SERVICE "/silent", &ping, 1, NULL, 300, NULL, &reply,
                                  &err),
                NB_ERR_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &after);
    double elapsed = (double)(after.tv_sec - before.tv_sec) +
                     (double)(after.tv_nsec - before.tv_nsec) / 1e9;
    CHECK(elapsed >= 0.25 && elapsed < 5.0);
    CHECK(reply == NULL);

    /* An envelope without reply_to or NATS inbox has nowhere to reply to. */
    const char *body = "{\"msg_id\":\"lonely\",\"payloads\":[]}";
    CHECK_OK(nb_client_receive(service, (const uint8_t *)body, strlen(body), NULL, &orphan,
                               &err));
    CHECK(nb_envelope_reply_subject(orphan) == NULL);
    CHECK_FAILS(nb_client_reply(service, orphan, &pulled, 1, NULL, NULL, &err),
                NB_ERR_INVALID_ARGUMENT);

    pthread_mutex_lock(&responder.lock);
    int answered = responder.answered, failures = responder.failures;
    pthread_mutex_unlock(&responder.lock);
    if (failures != 0) fprintf(stderr, "responder failed: %s\n", responder.failure);
    CHECK(answered == 4 && failures == 0);

    failed = 0;
    printf("test_request_reply: %d requests answered by callback, 1 by pull, timeout in %.2fs\n",
           answered, elapsed);

cleanup:
    if (requester_started) pthread_join(requester, NULL);
    nb_envelope_free(reply);
    nb_envelope_free(request);
    nb_envelope_free(orphan);
    /* Stop the callback before the options it uses go away. */
    nb_subscription_free(callback_sub);
    nb_subscription_free(pull_sub);
    nb_subscription_free(silent_sub);
    nb_send_options_free(reply_options);
    nb_send_options_free(request_options);
    nb_client_free(caller);
    nb_client_free(service);
    nb_error_free(err);
    return failed;
}
