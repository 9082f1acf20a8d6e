/*
 * JetStream durable consumption through the C ABI, against the real
 * nats-server of tests/c/run.sh: messages not acknowledged come back, and
 * only they, to the next subscription with the same durable name (delivery
 * count 2); deliver-from all / new / a sequence; nak with a delay
 * redelivers after it; term does not; stop wakes a waiting next; bad
 * options are typed errors.
 */
#include <stdint.h>
#include <unistd.h>

#include "test_util.h"

#define WAIT_MS 10000

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

/* Publishes the numbers [from, to) as one text payload each, with JetStream. */
static int publish(const nb_client *client, const char *subject, int from, int to,
                   nb_error **err) {
    nb_send_options *options = NULL;
    nb_status status = nb_send_options_new(&options, err);
    if (status == NB_OK) status = nb_send_options_set_jetstream(options, true, err);
    for (int n = from; status == NB_OK && n < to; n++) {
        char text[16];
        snprintf(text, sizeof text, "%d", n);
        nb_send_payload payload = {.dataname = "n", .type = "text",
                                   .data = (const uint8_t *)text, .len = strlen(text)};
        status = nb_client_send(client, subject, &payload, 1, options, NULL, err);
    }
    nb_send_options_free(options);
    return status;
}

/* The number a message carries, -1 when it is not one. */
static int number(const nb_jetstream_message *message) {
    const nb_envelope *env = nb_jetstream_message_envelope(message);
    nb_payload_view view;
    if (env == NULL || nb_envelope_payload(env, 0, &view, NULL) != NB_OK || view.len == 0 ||
        view.len > 10) {
        return -1;
    }
    char text[16];
    memcpy(text, view.data, view.len);
    text[view.len] = '\0';
    return atoi(text);
}

/* Consumer options for `stream`, optionally durable, with the deliver
 * policy and ack wait given (NULL / 0: the defaults). */
static int consume_options(const char *stream, const char *durable, const char *deliver,
                           uint64_t ack_wait_ms, nb_consume_options **out, nb_error **err) {
    nb_consume_options *options = NULL;
    nb_status status = nb_consume_options_new(&options, err);
    if (status == NB_OK) status = nb_consume_options_set_stream(options, stream, err);
    if (status == NB_OK && durable) status = nb_consume_options_set_durable(options, durable, err);
    if (status == NB_OK && deliver) status = nb_consume_options_set_deliver(options, deliver, err);
    if (status == NB_OK && ack_wait_ms)
        status = nb_consume_options_set_ack_wait_ms(options, ack_wait_ms, err);
    if (status != NB_OK) {
        nb_consume_options_free(options);
        return status;
    }
    *out = options;
    return NB_OK;
}

struct stopper {
    nb_durable_subscription *subscription;
};

static void *stop_later(void *arg) {
    struct stopper *stopper = arg;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 300 * 1000000L};
    nanosleep(&pause, NULL);
    nb_durable_subscription_stop(stopper->subscription, NULL);
    return NULL;
}

int main(void) {
    int failed = 1;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_client *worker = NULL;
    nb_consume_options *options = NULL;
    nb_durable_subscription *sub = NULL;
    nb_jetstream_message *messages[8] = {NULL};
    nb_jetstream_message *message = NULL;
    nb_envelope *taken = NULL;
    const char *url = test_env("NB_NATS_URL");

    char tag[32], stream[64], subject[64], filter[64], other[64];
    snprintf(tag, sizeof tag, "%ld%ld", (long)getpid(), (long)time(NULL) % 100000);
    snprintf(stream, sizeof stream, "CDUR_%s", tag);
    snprintf(subject, sizeof subject, "cdur.%s.a", tag);
    snprintf(other, sizeof other, "cdur.%s.b", tag);
    snprintf(filter, sizeof filter, "cdur.%s.>", tag);

    CHECK_OK(nb_client_connect(url, NULL, &client, &err));
    const char *subjects[] = {filter};
    CHECK_OK(nb_client_ensure_stream_replicated(client, stream, subjects, 1, 1, &err));
    CHECK_OK(publish(client, subject, 0, 6, &err));

    /* 1. Ack the even ones, drop the subscription (and its client) with the
     * odd ones unacknowledged; the same durable name gets exactly those. */
    CHECK_OK(nb_client_connect(url, NULL, &worker, &err));
    CHECK_OK(consume_options(stream, "c-worker", NULL, 1000, &options, &err));
    CHECK_OK(nb_client_durable_subscribe(worker, NULL, options, NULL, &sub, &err));
    for (int n = 0; n < 6; n++) {
        CHECK_OK(nb_durable_subscription_next(sub, WAIT_MS, &messages[n], &err));
        CHECK(number(messages[n]) == n);
        CHECK(nb_jetstream_message_delivery_count(messages[n]) == 1);
        CHECK(nb_jetstream_message_stream_sequence(messages[n]) == (uint64_t)n + 1);
        CHECK(text_equals(nb_envelope_subject(nb_jetstream_message_envelope(messages[n])),
                          subject));
        if (n % 2 == 0) CHECK_OK(nb_jetstream_message_ack(messages[n], &err));
    }
    for (int n = 0; n < 6; n++) {
        nb_jetstream_message_free(messages[n]);
        messages[n] = NULL;
    }
    nb_durable_subscription_free(sub);
    sub = NULL;
    nb_client_free(worker);
    worker = NULL;

    CHECK_OK(nb_client_connect(url, NULL, &worker, &err));
    CHECK_OK(nb_client_durable_subscribe(worker, NULL, options, NULL, &sub, &err));
    int seen = 0; /* bit n: number n came again */
    for (int i = 0; i < 3; i++) {
        CHECK_OK(nb_durable_subscription_next(sub, WAIT_MS, &message, &err));
        int n = number(message);
        CHECK(n == 1 || n == 3 || n == 5);
        CHECK(nb_jetstream_message_delivery_count(message) == 2);
        seen |= 1 << n;
        CHECK_OK(nb_jetstream_message_ack(message, &err));
        nb_jetstream_message_free(message);
        message = NULL;
    }
    CHECK(seen == ((1 << 1) | (1 << 3) | (1 << 5)));
    CHECK_FAILS(nb_durable_subscription_next(sub, 1500, &message, &err), NB_ERR_TIMEOUT);
    CHECK(message == NULL);
    nb_durable_subscription_free(sub);
    sub = NULL;
    nb_consume_options_free(options);
    options = NULL;

    /* 2. Deliver from all, from a sequence, only new ones; the subject
     * argument filters. */
    CHECK_OK(consume_options(stream, NULL, "all", 0, &options, &err));
    CHECK_OK(nb_client_durable_subscribe(client, NULL, options, NULL, &sub, &err));
    CHECK_OK(nb_durable_subscription_next(sub, WAIT_MS, &message, &err));
    CHECK(number(message) == 0 && nb_jetstream_message_stream_sequence(message) == 1);
    /* An envelope taken out lives on after its message. */
    taken = nb_jetstream_message_take_envelope(message);
    CHECK(taken != NULL && nb_jetstream_message_envelope(message) == NULL);
    CHECK(nb_jetstream_message_take_envelope(message) == NULL);
    CHECK_OK(nb_jetstream_message_ack(message, &err));
    nb_jetstream_message_free(message);
    message = NULL;
    CHECK(text_equals(nb_envelope_subject(taken), subject));
    nb_envelope_free(taken);
    taken = NULL;
    nb_durable_subscription_free(sub);
    sub = NULL;
    nb_consume_options_free(options);
    options = NULL;

    CHECK_OK(consume_options(stream, NULL, "3", 0, &options, &err));
    CHECK_OK(nb_client_durable_subscribe(client, NULL, options, NULL, &sub, &err));
    CHECK_OK(nb_durable_subscription_next(sub, WAIT_MS, &message, &err));
    CHECK(number(message) == 2 && nb_jetstream_message_stream_sequence(message) == 3);
    nb_jetstream_message_free(message);
    message = NULL;
    nb_durable_subscription_free(sub);
    sub = NULL;
    nb_consume_options_free(options);
    options = NULL;

    CHECK_OK(consume_options(stream, NULL, "new", 0, &options, &err));
    CHECK_OK(nb_client_durable_subscribe(client, other, options, NULL, &sub, &err));
    CHECK_FAILS(nb_durable_subscription_next(sub, 500, &message, &err), NB_ERR_TIMEOUT);
    CHECK_OK(publish(client, subject, 6, 7, &err)); /* not the filter's subject */
    CHECK_OK(publish(client, other, 7, 8, &err));
    CHECK_OK(nb_durable_subscription_next(sub, WAIT_MS, &message, &err));
    CHECK(number(message) == 7 && nb_jetstream_message_stream_sequence(message) == 8);
    nb_jetstream_message_free(message);
    message = NULL;
    nb_durable_subscription_free(sub);
    sub = NULL;
    nb_consume_options_free(options);
    options = NULL;

    /* 3. nak with a delay delivers again after it; term never again. */
    CHECK_OK(consume_options(stream, "c-settle", NULL, 30000, &options, &err));
    CHECK_OK(nb_client_durable_subscribe(client, subject, options, NULL, &sub, &err));
    CHECK_OK(nb_durable_subscription_next(sub, WAIT_MS, &messages[0], &err));
    CHECK_OK(nb_durable_subscription_next(sub, WAIT_MS, &messages[1], &err));
    CHECK(number(messages[0]) == 0 && number(messages[1]) == 1);
    for (int n = 2; n < 7; n++) { /* the rest of the subject, acknowledged */
        CHECK_OK(nb_durable_subscription_next(sub, WAIT_MS, &message, &err));
        CHECK(number(message) == n);
        CHECK_OK(nb_jetstream_message_ack(message, &err));
        nb_jetstream_message_free(message);
        message = NULL;
    }
    double started = now_ms();
    CHECK_OK(nb_jetstream_message_nak(messages[0], 800, &err));
    CHECK_OK(nb_jetstream_message_term(messages[1], &err));
    CHECK_OK(nb_durable_subscription_next(sub, WAIT_MS, &message, &err));
    CHECK(now_ms() - started >= 700.0);
    CHECK(number(message) == 0 && nb_jetstream_message_delivery_count(message) == 2);
    CHECK_OK(nb_jetstream_message_ack(message, &err));
    nb_jetstream_message_free(message);
    message = NULL;
    CHECK_FAILS(nb_durable_subscription_next(sub, 1500, &message, &err), NB_ERR_TIMEOUT);

    /* 4. stop wakes a next waiting on another thread; later ones fail too. */
    pthread_t thread;
    struct stopper stopper = {.subscription = sub};
    CHECK(pthread_create(&thread, NULL, stop_later, &stopper) == 0);
    started = now_ms();
    nb_status stopped = nb_durable_subscription_next(sub, 60000, &message, &err);
    pthread_join(thread, NULL);
    CHECK(stopped == NB_ERR_CLOSED && now_ms() - started < 10000.0);
    nb_error_free(err);
    err = NULL;
    CHECK_FAILS(nb_durable_subscription_next(sub, 100, &message, &err), NB_ERR_CLOSED);
    nb_durable_subscription_free(sub);
    sub = NULL;
    nb_consume_options_free(options);
    options = NULL;

    /* 5. Bad options and arguments are typed errors, never a crash. */
    CHECK_OK(nb_consume_options_new(&options, &err));
    CHECK_FAILS(nb_consume_options_set_deliver(options, "yesterday", &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_consume_options_set_deliver(options, "0", &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_consume_options_set_ack_wait_ms(options, 0, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_consume_options_set_durable(options, "", &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_consume_options_set_stream(options, NULL, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_consume_options_set_json(options, "ackWait", "\"soon\"", &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_consume_options_set_json(options, "stream_name", "\"S\"", &err),
                NB_ERR_INVALID_ARGUMENT);
    /* No stream set. */
    CHECK_FAILS(nb_client_durable_subscribe(client, NULL, options, NULL, &sub, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_client_durable_subscribe(client, NULL, NULL, NULL, &sub, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK(sub == NULL);
    /* last_ack resumes a durable consumer: it needs a name, and one that exists. */
    CHECK_OK(nb_consume_options_set_json(options, "stream", "\"NO_SUCH_STREAM\"", &err));
    CHECK_FAILS(nb_client_durable_subscribe(client, NULL, options, NULL, &sub, &err),
                NB_ERR_JETSTREAM);
    CHECK_OK(nb_consume_options_set_stream(options, stream, &err));
    CHECK_OK(nb_consume_options_set_deliver(options, "last_ack", &err));
    CHECK_FAILS(nb_client_durable_subscribe(client, NULL, options, NULL, &sub, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_OK(nb_consume_options_set_durable(options, "never-made", &err));
    CHECK_FAILS(nb_client_durable_subscribe(client, NULL, options, NULL, &sub, &err),
                NB_ERR_JETSTREAM);
    CHECK(sub == NULL);
    CHECK_FAILS(nb_durable_subscription_next(NULL, 10, &message, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_jetstream_message_ack(NULL, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK(nb_jetstream_message_envelope(NULL) == NULL);
    CHECK(nb_jetstream_message_stream_sequence(NULL) == 0);
    char zero_stream[80];
    snprintf(zero_stream, sizeof zero_stream, "%s_ZERO", stream);
    const char *zero_subjects[] = {"cdur.zero.x"};
    CHECK_FAILS(nb_client_ensure_stream_replicated(client, zero_stream, zero_subjects, 1, 0, &err),
                NB_ERR_INVALID_ARGUMENT);
    /* A single server cannot keep three copies. */
    CHECK_FAILS(nb_client_ensure_stream_replicated(client, zero_stream, zero_subjects, 1, 3, &err),
                NB_ERR_JETSTREAM);

    printf("durable consumption: redelivery, deliver-from, nak/term, stop, typed errors\n");
    failed = 0;
cleanup:
    for (int n = 0; n < 8; n++) nb_jetstream_message_free(messages[n]);
    nb_jetstream_message_free(message);
    nb_envelope_free(taken);
    nb_durable_subscription_free(sub);
    nb_consume_options_free(options);
    nb_client_free(worker);
    nb_client_free(client);
    nb_error_free(err);
    return failed;
}
