/*
 * Subscriptions: a callback subscription and a pull subscription on the
 * same subject both get every message; after nb_subscription_free the
 * callback is never called again; a callback may free its own
 * subscription; queue-group members share messages; closing the client
 * ends a callback subscription with one final NB_ERR_CLOSED.
 */
#include "test_util.h"

#define SUBJECT "/c/subscribe"
#define MESSAGES 5

struct inbox {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int messages;
    int errors;
    int closed;
    int bad_text;
    int after_close;
    nb_subscription *self; /* freed by the callback itself when non-NULL */
};

static void on_message(void *user_data, const nb_envelope *env, const nb_error *error) {
    struct inbox *inbox = user_data;
    pthread_mutex_lock(&inbox->lock);
    if (inbox->closed) inbox->after_close++;
    if (env != NULL && error == NULL) {
        nb_payload_view view;
        if (nb_envelope_payload(env, 0, &view, NULL) != NB_OK ||
            strncmp((const char *)view.data, "message ", 8) != 0 ||
            !text_equals(nb_envelope_subject(env), SUBJECT)) {
            inbox->bad_text++;
        }
        inbox->messages++;
    } else if (env == NULL && error != NULL && nb_error_code(error) == NB_ERR_CLOSED) {
        inbox->closed++;
    } else {
        inbox->errors++;
    }
    if (inbox->self != NULL) {
        nb_subscription_free(inbox->self);
        inbox->self = NULL;
    }
    pthread_cond_broadcast(&inbox->changed);
    pthread_mutex_unlock(&inbox->lock);
}

/* Waits (bounded) until *counter reaches `target`; returns whether it did. */
static int wait_for(struct inbox *inbox, const int *counter, int target, long timeout_ms) {
    struct timespec deadline = deadline_in(timeout_ms);
    pthread_mutex_lock(&inbox->lock);
    int rc = 0;
    while (*counter < target && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&inbox->changed, &inbox->lock, &deadline);
    }
    int reached = *counter >= target;
    pthread_mutex_unlock(&inbox->lock);
    return reached;
}

static int send_text(const nb_client *client, const char *subject, const char *text,
                     nb_error **err) {
    nb_send_payload payload = {.dataname = "body", .type = "text",
                               .data = (const uint8_t *)text, .len = strlen(text)};
    return nb_client_send(client, subject, &payload, 1, NULL, NULL, err);
}

int main(void) {
    int failed = 1;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_client *sender = NULL;
    nb_subscription *pushed = NULL;
    nb_subscription *pulled = NULL;
    nb_subscription *one_shot = NULL;
    nb_subscription *member_a = NULL;
    nb_subscription *member_b = NULL;
    nb_subscription *until_close = NULL;
    nb_envelope *env = NULL;
    struct inbox inbox = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};
    struct inbox self_freeing = {.lock = PTHREAD_MUTEX_INITIALIZER,
                                 .changed = PTHREAD_COND_INITIALIZER};
    struct inbox closing = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};
    char text[64];

    const char *nats_url = test_env("NB_NATS_URL");
    CHECK_OK(nb_client_connect(nats_url, NULL, &client, &err));
    CHECK_OK(nb_client_connect(nats_url, NULL, &sender, &err));

    /* Push and pull on one subject. */
    CHECK_OK(nb_client_subscribe_callback(client, SUBJECT, NULL, on_message, &inbox, &pushed,
                                          &err));
    CHECK_OK(nb_client_subscribe(client, SUBJECT, NULL, &pulled, &err));
    CHECK_FAILS(nb_subscription_next(pushed, 10, &env, &err), NB_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < MESSAGES; i++) {
        snprintf(text, sizeof text, "message %d", i);
        CHECK_OK(send_text(sender, SUBJECT, text, &err));
    }
    CHECK(wait_for(&inbox, &inbox.messages, MESSAGES, 10000));
    for (int i = 0; i < MESSAGES; i++) {
        CHECK_OK(nb_subscription_next(pulled, 5000, &env, &err));
        nb_payload_view view;
        CHECK_OK(nb_envelope_payload(env, 0, &view, &err));
        snprintf(text, sizeof text, "message %d", i);
        CHECK(text_equals((const char *)view.data, text)); /* in order */
        nb_envelope_free(env);
        env = NULL;
    }

    /* After free, the callback is never called again: a later message still
     * reaches the pull subscription, and the callback count stays put. */
    nb_subscription_free(pushed);
    pushed = NULL;
    CHECK_OK(send_text(sender, SUBJECT, "message after free", &err));
    CHECK_OK(nb_subscription_next(pulled, 5000, &env, &err));
    nb_envelope_free(env);
    env = NULL;
    CHECK_OK(nb_client_flush(client, &err));
    pthread_mutex_lock(&inbox.lock);
    int messages = inbox.messages, errors = inbox.errors, bad = inbox.bad_text;
    pthread_mutex_unlock(&inbox.lock);
    CHECK(messages == MESSAGES && errors == 0 && bad == 0);

    /* A callback that frees its own subscription gets exactly one message. */
    CHECK_OK(nb_client_subscribe_callback(client, "/c/subscribe/once", NULL, on_message,
                                          &self_freeing, &one_shot, &err));
    pthread_mutex_lock(&self_freeing.lock);
    self_freeing.self = one_shot;
    one_shot = NULL; /* owned by the callback now */
    pthread_mutex_unlock(&self_freeing.lock);
    CHECK_OK(send_text(sender, "/c/subscribe/once", "message 1", &err));
    CHECK(wait_for(&self_freeing, &self_freeing.messages, 1, 10000));
    CHECK_OK(send_text(sender, "/c/subscribe/once", "message 2", &err));
    CHECK_OK(nb_client_flush(sender, &err));
    /* The second message must not arrive: wait a bounded moment for it. */
    CHECK(!wait_for(&self_freeing, &self_freeing.messages, 2, 300));

    /* Queue group: each message goes to exactly one member. */
    CHECK_OK(nb_client_queue_subscribe(client, "/c/subscribe/work", "workers", NULL, &member_a,
                                       &err));
    CHECK_OK(nb_client_queue_subscribe(client, "/c/subscribe/work", "workers", NULL, &member_b,
                                       &err));
    CHECK_FAILS(nb_client_queue_subscribe(client, "/c/subscribe/work", "", NULL, &member_b, &err),
                NB_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 10; i++) {
        snprintf(text, sizeof text, "message %d", i);
        CHECK_OK(send_text(sender, "/c/subscribe/work", text, &err));
    }
    CHECK_OK(nb_client_flush(sender, &err));
    int shared = 0;
    nb_subscription *members[] = {member_a, member_b};
    for (int m = 0; m < 2; m++) {
        for (;;) {
            nb_status status = nb_subscription_next(members[m], 300, &env, &err);
            if (status == NB_ERR_TIMEOUT) break;
            CHECK_OK(status);
            shared++;
            nb_envelope_free(env);
            env = NULL;
        }
        nb_error_free(err);
        err = NULL;
    }
    CHECK(shared == 10);

    /* Closing the client ends a callback subscription with NB_ERR_CLOSED. */
    CHECK_OK(nb_client_subscribe_callback(client, "/c/subscribe/closing", NULL, on_message,
                                          &closing, &until_close, &err));
    CHECK_OK(nb_client_close(client, &err));
    CHECK(wait_for(&closing, &closing.closed, 1, 10000));
    CHECK_FAILS(nb_subscription_next(pulled, 1000, &env, &err), NB_ERR_CLOSED);
    nb_subscription_free(until_close);
    until_close = NULL;
    pthread_mutex_lock(&closing.lock);
    int closed = closing.closed, after = closing.after_close;
    pthread_mutex_unlock(&closing.lock);
    CHECK(closed == 1 && after == 0);

    failed = 0;
    printf("test_subscribe: callback, pull, self-free, queue group and close all behaved\n");

cleanup:
    nb_envelope_free(env);
    nb_subscription_free(pushed);
    nb_subscription_free(pulled);
    nb_subscription_free(one_shot);
    nb_subscription_free(member_a);
    nb_subscription_free(member_b);
    nb_subscription_free(until_close);
    nb_client_free(client);
    nb_client_free(sender);
    /* A self-freeing subscription whose callback never ran. */
    pthread_mutex_lock(&self_freeing.lock);
    nb_subscription *leftover = self_freeing.self;
    self_freeing.self = NULL;
    pthread_mutex_unlock(&self_freeing.lock);
    nb_subscription_free(leftover);
    nb_error_free(err);
    return failed;
}
