/*
 * The rule after unsubscribe, the same in every front end (the core's
 * Subscription): nb_subscription_unsubscribe ends a subscription at once (a
 * nb_subscription_next waiting on another thread fails with NB_ERR_CLOSED
 * within a second; messages received but not yet taken are dropped), and
 * nb_subscription_drain delivers what had arrived, then ends. A timed-out
 * nb_subscription_next loses no message.
 */
#include "test_util.h"

#define MESSAGES 6

static int send_text(const nb_client *client, const char *subject, const char *text,
                     nb_error **err) {
    nb_send_payload payload = {.dataname = "body", .type = "text",
                               .data = (const uint8_t *)text, .len = strlen(text)};
    return nb_client_send(client, subject, &payload, 1, NULL, NULL, err);
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

struct waiter {
    nb_subscription *sub;
    nb_status status;
    double ended_ms;
};

/* Waits in nb_subscription_next for up to 30 s on its own thread. */
static void *wait_next(void *arg) {
    struct waiter *waiter = arg;
    nb_envelope *env = NULL;
    nb_error *err = NULL;
    waiter->status = nb_subscription_next(waiter->sub, 30000, &env, &err);
    waiter->ended_ms = now_ms();
    nb_envelope_free(env);
    nb_error_free(err);
    return NULL;
}

/* Checks that `env` is the text payload "message <i>". */
static int is_message(const nb_envelope *env, int i) {
    char text[32];
    nb_payload_view view;
    snprintf(text, sizeof text, "message %d", i);
    return nb_envelope_payload(env, 0, &view, NULL) == NB_OK &&
           bytes_equal_text(view.data, view.len, text);
}

int main(void) {
    int failed = 1;
    int started = 0;
    pthread_t thread;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_subscription *idle = NULL;
    nb_subscription *buffered = NULL;
    nb_subscription *drained = NULL;
    nb_envelope *env = NULL;
    char text[32];
    struct waiter waiter = {0};

    CHECK_OK(nb_client_connect(test_env("NB_NATS_URL"), NULL, &client, &err));

    /* Unsubscribe from another thread ends a pending wait within 1 s. */
    CHECK_OK(nb_client_subscribe(client, "/c/unsubscribe/idle", NULL, &idle, &err));
    waiter.sub = idle;
    CHECK(pthread_create(&thread, NULL, wait_next, &waiter) == 0);
    started = 1;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
    nanosleep(&pause, NULL);
    double unsubscribed = now_ms();
    CHECK_OK(nb_subscription_unsubscribe(idle, &err));
    CHECK(pthread_join(thread, NULL) == 0);
    started = 0;
    CHECK(waiter.status == NB_ERR_CLOSED);
    CHECK(waiter.ended_ms - unsubscribed < 1000.0);
    CHECK_FAILS(nb_subscription_next(idle, 10, &env, &err), NB_ERR_CLOSED);
    CHECK_OK(nb_subscription_unsubscribe(idle, &err)); /* again: nothing happens */
    CHECK_FAILS(nb_subscription_unsubscribe(NULL, &err), NB_ERR_INVALID_ARGUMENT);

    /* Timeouts lose nothing; unsubscribe drops what was buffered. */
    CHECK_OK(nb_client_subscribe(client, "/c/unsubscribe/buffered", NULL, &buffered, &err));
    CHECK_FAILS(nb_subscription_next(buffered, 0, &env, &err), NB_ERR_TIMEOUT);
    for (int i = 0; i < MESSAGES; i++) {
        snprintf(text, sizeof text, "message %d", i);
        CHECK_OK(send_text(client, "/c/unsubscribe/buffered", text, &err));
    }
    CHECK_OK(nb_client_flush(client, &err));
    CHECK_OK(nb_subscription_next(buffered, 5000, &env, &err));
    CHECK(is_message(env, 0));
    nb_envelope_free(env);
    env = NULL;
    CHECK_OK(nb_subscription_unsubscribe(buffered, &err));
    CHECK_FAILS(nb_subscription_next(buffered, 1000, &env, &err), NB_ERR_CLOSED);

    /* Drain delivers everything that had arrived, in order, then ends. */
    CHECK_OK(nb_client_subscribe(client, "/c/unsubscribe/drained", NULL, &drained, &err));
    for (int i = 0; i < MESSAGES; i++) {
        snprintf(text, sizeof text, "message %d", i);
        CHECK_OK(send_text(client, "/c/unsubscribe/drained", text, &err));
    }
    CHECK_OK(nb_client_flush(client, &err));
    CHECK_OK(nb_subscription_drain(drained, &err));
    CHECK_OK(send_text(client, "/c/unsubscribe/drained", "after the drain", &err));
    for (int i = 0; i < MESSAGES; i++) {
        CHECK_OK(nb_subscription_next(drained, 5000, &env, &err));
        CHECK(is_message(env, i));
        nb_envelope_free(env);
        env = NULL;
    }
    CHECK_FAILS(nb_subscription_next(drained, 5000, &env, &err), NB_ERR_CLOSED);

    failed = 0;
    printf("test_unsubscribe: unsubscribe ends at once and drops, drain delivers then ends\n");

cleanup:
    if (started) {
        nb_subscription_unsubscribe(idle, NULL);
        pthread_join(thread, NULL);
    }
    nb_envelope_free(env);
    nb_subscription_free(idle);
    nb_subscription_free(buffered);
    nb_subscription_free(drained);
    nb_client_free(client);
    nb_error_free(err);
    return failed;
}
