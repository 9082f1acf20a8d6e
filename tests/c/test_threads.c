/*
 * One client used by two threads at once: each sends its own messages (some
 * with a payload large enough to go by link through the file server) while
 * the main thread pulls them from a subscription. Every message arrives
 * exactly once, intact.
 */
#include "test_util.h"

#define SUBJECT "/c/threads"
#define THREADS 2
#define PER_THREAD 40
#define LARGE_SIZE 4096

struct sender {
    const nb_client *client;
    const nb_send_options *options;
    int thread;
    nb_status status;
    char message[256];
};

/* The bytes of the large payload of message (thread, seq). */
static void fill_large(uint8_t *data, int thread, int seq) {
    for (size_t i = 0; i < LARGE_SIZE; i++) data[i] = (uint8_t)(i * 7 + thread * 31 + seq);
}

static void *send_all(void *arg) {
    struct sender *sender = arg;
    uint8_t large[LARGE_SIZE];
    char text[64];
    sender->status = NB_OK;
    for (int seq = 0; seq < PER_THREAD && sender->status == NB_OK; seq++) {
        snprintf(text, sizeof text, "%d:%d", sender->thread, seq);
        fill_large(large, sender->thread, seq);
        nb_send_payload payloads[2] = {
            {.dataname = "id", .type = "text", .data = (const uint8_t *)text, .len = strlen(text)},
            {.dataname = "large", .type = "binary", .data = large, .len = LARGE_SIZE},
        };
        /* Every fourth message carries the large payload. */
        size_t count = seq % 4 == 0 ? 2 : 1;
        nb_error *err = NULL;
        sender->status =
            nb_client_send(sender->client, SUBJECT, payloads, count, sender->options, NULL, &err);
        if (sender->status != NB_OK) {
            snprintf(sender->message, sizeof sender->message, "%s", nb_error_message(err));
        }
        nb_error_free(err);
    }
    return NULL;
}

int main(void) {
    int failed = 1;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_subscription *sub = NULL;
    nb_send_options *send = NULL;
    nb_envelope *env = NULL;
    struct sender senders[THREADS];
    pthread_t threads[THREADS];
    int started = 0;
    int seen[THREADS][PER_THREAD];
    memset(seen, 0, sizeof seen);

    CHECK_OK(nb_client_connect(test_env("NB_NATS_URL"), NULL, &client, &err));
    CHECK_OK(nb_client_subscribe(client, SUBJECT, NULL, &sub, &err));
    CHECK_OK(nb_send_options_new(&send, &err));
    CHECK_OK(nb_send_options_set_size_threshold(send, 1024, &err));
    CHECK_OK(nb_send_options_set_fileserver_url(send, test_env("NB_FILESERVER_URL"), &err));

    for (int t = 0; t < THREADS; t++) {
        senders[t] = (struct sender){.client = client, .options = send, .thread = t};
        CHECK(pthread_create(&threads[t], NULL, send_all, &senders[t]) == 0);
        started++;
    }

    uint8_t large[LARGE_SIZE];
    for (int received = 0; received < THREADS * PER_THREAD; received++) {
        CHECK_OK(nb_subscription_next(sub, 10000, &env, &err));
        nb_payload_view view;
        CHECK_OK(nb_envelope_payload(env, 0, &view, &err));
        int thread = -1, seq = -1;
        CHECK(sscanf((const char *)view.data, "%d:%d", &thread, &seq) == 2);
        CHECK(thread >= 0 && thread < THREADS && seq >= 0 && seq < PER_THREAD);
        CHECK(seen[thread][seq] == 0);
        seen[thread][seq] = 1;
        CHECK(nb_envelope_payload_count(env) == (seq % 4 == 0 ? 2u : 1u));
        if (seq % 4 == 0) {
            CHECK_OK(nb_envelope_payload(env, 1, &view, &err));
            CHECK(text_equals(view.transport, "link"));
            fill_large(large, thread, seq);
            CHECK(view.len == LARGE_SIZE && memcmp(view.data, large, LARGE_SIZE) == 0);
        }
        nb_envelope_free(env);
        env = NULL;
    }
    failed = 0;

cleanup:
    for (int t = 0; t < started; t++) {
        pthread_join(threads[t], NULL);
        if (senders[t].status != NB_OK) {
            fprintf(stderr, "sender %d failed: %d %s\n", t, senders[t].status, senders[t].message);
            failed = 1;
        }
    }
    if (!failed) {
        printf("test_threads: %d threads sent %d messages each on one client, all received once\n",
               THREADS, PER_THREAD);
    }
    nb_envelope_free(env);
    nb_send_options_free(send);
    nb_subscription_free(sub);
    nb_client_free(client);
    nb_error_free(err);
    return failed;
}
