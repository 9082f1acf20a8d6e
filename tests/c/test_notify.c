/*
 * Delivery by notification (ffi-c/src/notify.rs) and the core's JSON values
 * (ffi-c/src/json.rs), the C functions the Julia front end is built on:
 * a notify subscription queues envelopes and calls the notify function; pops
 * never block and report the end with NB_ERR_CLOSED; upload and download
 * handler queues hand each request to the caller's thread, which answers it
 * (or fails it) while another thread is blocked in the send or receive;
 * JSON text is parsed into typed values and written from typed calls.
 */
#include "test_util.h"

#define SUBJECT "/c/notify"

struct notifier {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int count;
};

/* Has the signature of uv_async_send. */
static int notify(void *arg) {
    struct notifier *n = arg;
    pthread_mutex_lock(&n->lock);
    n->count++;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
    return 0;
}

/* Waits until the notifier was called at least `count` times (5 s at most). */
static int wait_count(struct notifier *n, int count) {
    struct timespec until = deadline_in(5000);
    int ok = 1;
    pthread_mutex_lock(&n->lock);
    while (n->count < count && ok) {
        ok = pthread_cond_timedwait(&n->cond, &n->lock, &until) != ETIMEDOUT;
    }
    ok = n->count >= count;
    pthread_mutex_unlock(&n->lock);
    return ok;
}

struct call {
    const nb_client *client;
    nb_send_options *send_options;
    nb_receive_options *receive_options;
    const char *body;
    nb_status status;
    char *json;
    nb_envelope *envelope;
    char message[256];
};

static void *send_thread(void *arg) {
    struct call *call = arg;
    static const char document[] = "a document that goes by link";
    nb_send_payload payload = {.dataname = "doc", .type = "binary",
                               .data = (const uint8_t *)document, .len = sizeof document - 1};
    nb_error *err = NULL;
    call->status = nb_client_send(call->client, SUBJECT "/link", &payload, 1, call->send_options,
                                  &call->json, &err);
    snprintf(call->message, sizeof call->message, "%s", nb_error_message(err));
    nb_error_free(err);
    return NULL;
}

static void *receive_thread(void *arg) {
    struct call *call = arg;
    nb_error *err = NULL;
    call->status = nb_client_receive(call->client, (const uint8_t *)call->body, strlen(call->body),
                                     call->receive_options, &call->envelope, &err);
    snprintf(call->message, sizeof call->message, "%s", nb_error_message(err));
    nb_error_free(err);
    return NULL;
}

/* Pops the next handler request, waiting for its notification. */
static nb_handler_request *next_request(nb_handler_queue *queue, struct notifier *n, int count) {
    if (!wait_count(n, count)) return NULL;
    return nb_handler_queue_pop(queue);
}

int main(void) {
    int failed = 1;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_notify_subscription *sub = NULL;
    nb_envelope *envelope = NULL;
    nb_handler_queue *uploads = NULL, *downloads = NULL;
    nb_send_options *send_options = NULL;
    nb_receive_options *receive_options = NULL;
    nb_json *root = NULL;
    nb_json_writer *writer = NULL;
    char *text = NULL;
    char *sent_json = NULL;
    char stored[256] = "";
    struct notifier subs = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    struct notifier handlers = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    struct call call = {0};
    pthread_t thread;
    int thread_running = 0;

    CHECK_OK(nb_client_connect(test_env("NB_NATS_URL"), NULL, &client, &err));

    /* --- a notify subscription -------------------------------------- */
    CHECK_FAILS(nb_client_subscribe_notify(client, SUBJECT, NULL, NULL, NULL, &subs, &sub, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_OK(nb_client_subscribe_notify(client, SUBJECT, NULL, NULL, notify, &subs, &sub, &err));
    CHECK_OK(nb_notify_subscription_pop(sub, &envelope, &err));
    CHECK(envelope == NULL); /* nothing queued: no wait */
    for (int i = 0; i < 3; i++) {
        char message[16];
        snprintf(message, sizeof message, "m%d", i);
        nb_send_payload p = {.dataname = "n", .type = "text", .data = (const uint8_t *)message,
                             .len = strlen(message)};
        CHECK_OK(nb_client_send(client, SUBJECT, &p, 1, NULL, NULL, &err));
    }
    CHECK(wait_count(&subs, 3));
    for (int i = 0; i < 3; i++) {
        char expected[16];
        snprintf(expected, sizeof expected, "m%d", i);
        CHECK_OK(nb_notify_subscription_pop(sub, &envelope, &err));
        CHECK(envelope != NULL);
        nb_payload_view view;
        CHECK_OK(nb_envelope_payload(envelope, 0, &view, &err));
        CHECK(bytes_equal_text(view.data, view.len, expected));
        CHECK(text_equals(nb_envelope_subject(envelope), SUBJECT));
        nb_envelope_free(envelope);
        envelope = NULL;
    }
    CHECK_OK(nb_notify_subscription_pop(sub, &envelope, &err));
    CHECK(envelope == NULL);
    /* Messages from another connection arrive the same way. */
    {
        nb_client *other = NULL;
        CHECK_OK(nb_client_connect(test_env("NB_NATS_URL"), NULL, &other, &err));
        nb_send_payload p = {.dataname = "x", .type = "text", .data = (const uint8_t *)"x", .len = 1};
        nb_status status = nb_client_send(other, SUBJECT, &p, 1, NULL, NULL, &err);
        if (status == NB_OK) status = nb_client_flush(other, &err);
        nb_client_free(other);
        CHECK_OK(status);
    }
    CHECK(wait_count(&subs, 4));
    CHECK_OK(nb_notify_subscription_pop(sub, &envelope, &err));
    CHECK(envelope != NULL);
    nb_envelope_free(envelope);
    envelope = NULL;
    /* A caller that does not pop: 64 envelopes are queued (one notification
     * each), the rest wait in the NATS client; popping lets them all come,
     * in order. */
    {
        enum { BURST = 300 };
        int before = subs.count;
        for (int i = 0; i < BURST; i++) {
            char message[16];
            snprintf(message, sizeof message, "b%d", i);
            nb_send_payload p = {.dataname = "n", .type = "text",
                                 .data = (const uint8_t *)message, .len = strlen(message)};
            CHECK_OK(nb_client_send(client, SUBJECT, &p, 1, NULL, NULL, &err));
        }
        CHECK(wait_count(&subs, before + 64));
        struct timespec settle = {0, 300 * 1000 * 1000};
        nanosleep(&settle, NULL);
        pthread_mutex_lock(&subs.lock);
        int queued = subs.count - before;
        pthread_mutex_unlock(&subs.lock);
        CHECK(queued == 64);
        struct timespec until = deadline_in(10000);
        for (int i = 0; i < BURST;) {
            CHECK_OK(nb_notify_subscription_pop(sub, &envelope, &err));
            if (envelope == NULL) {
                struct timespec now, pause = {0, 2 * 1000 * 1000};
                clock_gettime(CLOCK_REALTIME, &now);
                CHECK(now.tv_sec < until.tv_sec);
                nanosleep(&pause, NULL);
                continue;
            }
            char expected[16];
            snprintf(expected, sizeof expected, "b%d", i);
            nb_payload_view view;
            CHECK_OK(nb_envelope_payload(envelope, 0, &view, &err));
            CHECK(bytes_equal_text(view.data, view.len, expected));
            nb_envelope_free(envelope);
            envelope = NULL;
            i++;
        }
    }

    /* --- upload and download handler queues ---------------------------- */
    CHECK_FAILS(nb_handler_queue_new(NULL, &handlers, &uploads, &err), NB_ERR_INVALID_ARGUMENT);
    CHECK_OK(nb_handler_queue_new(notify, &handlers, &uploads, &err));
    CHECK_OK(nb_handler_queue_new(notify, &handlers, &downloads, &err));
    CHECK(nb_handler_queue_pop(uploads) == NULL);
    CHECK_OK(nb_send_options_new(&send_options, &err));
    CHECK_OK(nb_send_options_set_size_threshold(send_options, 1, &err));
    CHECK_OK(nb_send_options_set_upload_queue(send_options, uploads, &err));
    CHECK_FAILS(nb_send_options_set_upload_queue(send_options, NULL, &err), NB_ERR_INVALID_ARGUMENT);

    call.client = client;
    call.send_options = send_options;
    CHECK(pthread_create(&thread, NULL, send_thread, &call) == 0);
    thread_running = 1;
    {
        nb_handler_request *request = next_request(uploads, &handlers, 1);
        CHECK(request != NULL);
        CHECK(nb_handler_request_kind(request) == NB_HANDLER_UPLOAD);
        CHECK(text_equals(nb_handler_request_dataname(request), "doc"));
        CHECK(text_equals(nb_handler_request_url(request), ""));
        size_t len = 0;
        const uint8_t *data = nb_handler_request_data(request, &len);
        CHECK(bytes_equal_text(data, len, "a document that goes by link"));
        memcpy(stored, data, len);
        stored[len] = '\0';
        static const char url[] = "mem://store/doc";
        CHECK_OK(nb_handler_respond(request, NB_OK, (const uint8_t *)url, sizeof url - 1, &err));
    }
    pthread_join(thread, NULL);
    thread_running = 0;
    CHECK(call.status == NB_OK);
    CHECK(call.json != NULL && strstr(call.json, "mem://store/doc") != NULL);
    sent_json = call.json;

    CHECK_OK(nb_receive_options_new(&receive_options, &err));
    CHECK_OK(nb_receive_options_set_max_retries(receive_options, 7, &err));
    CHECK_OK(nb_receive_options_set_download_queue(receive_options, downloads, &err));
    memset(&call, 0, sizeof call);
    call.client = client;
    call.receive_options = receive_options;
    call.body = sent_json;
    CHECK(pthread_create(&thread, NULL, receive_thread, &call) == 0);
    thread_running = 1;
    {
        nb_handler_request *request = next_request(downloads, &handlers, 2);
        CHECK(request != NULL);
        CHECK(nb_handler_request_kind(request) == NB_HANDLER_DOWNLOAD);
        CHECK(text_equals(nb_handler_request_url(request), "mem://store/doc"));
        CHECK(nb_handler_request_dataname(request) == NULL);
        uint32_t retries = 0;
        nb_handler_request_retries(request, &retries, NULL, NULL);
        CHECK(retries == 7);
        CHECK_OK(nb_handler_respond(request, NB_OK, (const uint8_t *)stored, strlen(stored), &err));
    }
    pthread_join(thread, NULL);
    thread_running = 0;
    CHECK(call.status == NB_OK);
    {
        nb_payload_view view;
        CHECK_OK(nb_envelope_payload(call.envelope, 0, &view, &err));
        CHECK(bytes_equal_text(view.data, view.len, "a document that goes by link"));
        CHECK(text_equals(view.transport, "link"));
        nb_envelope_free(call.envelope);
    }

    /* A failed answer fails the receive with NB_ERR_HANDLER and its message. */
    memset(&call, 0, sizeof call);
    call.client = client;
    call.receive_options = receive_options;
    call.body = sent_json;
    CHECK(pthread_create(&thread, NULL, receive_thread, &call) == 0);
    thread_running = 1;
    {
        nb_handler_request *request = next_request(downloads, &handlers, 3);
        CHECK(request != NULL);
        static const char boom[] = "boom from the caller";
        CHECK_OK(nb_handler_respond(request, 1, (const uint8_t *)boom, sizeof boom - 1, &err));
    }
    pthread_join(thread, NULL);
    thread_running = 0;
    CHECK(call.status == NB_ERR_HANDLER);
    CHECK(strstr(call.message, "boom from the caller") != NULL);
    CHECK(call.envelope == NULL);

    /* A request released unanswered fails its call too. */
    memset(&call, 0, sizeof call);
    call.client = client;
    call.receive_options = receive_options;
    call.body = sent_json;
    CHECK(pthread_create(&thread, NULL, receive_thread, &call) == 0);
    thread_running = 1;
    {
        nb_handler_request *request = next_request(downloads, &handlers, 4);
        CHECK(request != NULL);
        nb_handler_request_free(request);
    }
    pthread_join(thread, NULL);
    thread_running = 0;
    CHECK(call.status == NB_ERR_HANDLER);
    CHECK(strstr(call.message, "without an answer") != NULL);

    /* --- JSON values of the core -------------------------------------- */
    {
        static const char json[] = "{\"b\":[1,2.5,\"s\",null,true],\"a\":-3}";
        CHECK_OK(nb_json_parse((const uint8_t *)json, sizeof json - 1, &root, &err));
        CHECK(nb_json_kind(root) == NB_JSON_OBJECT);
        CHECK(nb_json_len(root) == 2);
        size_t len = 0;
        int found_b = 0;
        for (size_t i = 0; i < 2; i++) {
            const char *key = nb_json_object_key(root, i, &len);
            const nb_json *value = nb_json_object_value(root, i);
            if (len == 1 && key[0] == 'b') {
                found_b = 1;
                CHECK(nb_json_kind(value) == NB_JSON_ARRAY && nb_json_len(value) == 5);
                CHECK(nb_json_int64(nb_json_array_get(value, 0)) == 1);
                CHECK(nb_json_float64(nb_json_array_get(value, 1)) == 2.5);
                const char *s = nb_json_string(nb_json_array_get(value, 2), &len);
                CHECK(len == 1 && s[0] == 's');
                CHECK(nb_json_kind(nb_json_array_get(value, 3)) == NB_JSON_NULL);
                CHECK(nb_json_bool(nb_json_array_get(value, 4)));
            } else {
                CHECK(nb_json_int64(value) == -3);
            }
        }
        CHECK(found_b);
        CHECK_FAILS(nb_json_parse((const uint8_t *)"{", 1, &root, &err), NB_ERR_INVALID_JSON);

        CHECK_OK(nb_json_writer_new(&writer, &err));
        CHECK_OK(nb_json_writer_begin_object(writer, &err));
        CHECK_OK(nb_json_writer_key(writer, "k", 1, &err));
        CHECK_OK(nb_json_writer_begin_array(writer, &err));
        CHECK_OK(nb_json_writer_uint64(writer, UINT64_MAX, &err));
        CHECK_OK(nb_json_writer_bool(writer, false, &err));
        CHECK_OK(nb_json_writer_string(writer, "\"q\"", 3, &err));
        CHECK_OK(nb_json_writer_end_array(writer, &err));
        CHECK_FAILS(nb_json_writer_finish(writer, &text, &err), NB_ERR_INVALID_ARGUMENT);
        CHECK_OK(nb_json_writer_end_object(writer, &err));
        CHECK_OK(nb_json_writer_finish(writer, &text, &err));
        CHECK(text_equals(text, "{\"k\":[18446744073709551615,false,\"\\\"q\\\"\"]}"));
        nb_json_writer_free(writer);
        writer = NULL;
        CHECK_OK(nb_json_writer_new(&writer, &err));
        CHECK_FAILS(nb_json_writer_float64(writer, 1.0 / 0.0, &err), NB_ERR_SERIALIZATION);
        CHECK_FAILS(nb_json_writer_string(writer, "x", 1, &err), NB_ERR_INVALID_ARGUMENT);
    }

    /* --- the end of a notify subscription ------------------------------ */
    {
        int before = 0;
        pthread_mutex_lock(&subs.lock);
        before = subs.count;
        pthread_mutex_unlock(&subs.lock);
        CHECK_OK(nb_client_close(client, &err));
        CHECK(wait_count(&subs, before + 1));
        CHECK_FAILS(nb_notify_subscription_pop(sub, &envelope, &err), NB_ERR_CLOSED);
        CHECK_FAILS(nb_notify_subscription_pop(sub, &envelope, &err), NB_ERR_CLOSED);
    }

    failed = 0;
    printf("notify subscriptions, handler queues and JSON values: ok\n");
cleanup:
    if (thread_running) pthread_join(thread, NULL);
    nb_error_free(err);
    nb_envelope_free(envelope);
    nb_notify_subscription_free(sub);
    nb_send_options_free(send_options);
    nb_receive_options_free(receive_options);
    nb_handler_queue_free(uploads);
    nb_handler_queue_free(downloads);
    nb_string_free(sent_json);
    nb_string_free(text);
    nb_json_free(root);
    nb_json_writer_free(writer);
    nb_client_free(client);
    return failed;
}
