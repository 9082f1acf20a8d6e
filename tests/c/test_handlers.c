/*
 * Upload and download handler callbacks: an in-memory claim-check store
 * written in C carries link payloads; the retry settings and the send's
 * fileserver_url reach the callbacks; a failing upload handler stops the
 * send (nothing published); a failing download handler surfaces as
 * NB_ERR_HANDLER, also in a callback subscription; corrupted bytes are
 * caught by the integrity check; a blocking call inside a handler is
 * refused rather than deadlocking.
 */
#include "test_util.h"

#define SUBJECT "/c/handlers"
#define MAX_ITEMS 16

struct store {
    pthread_mutex_t lock;
    const nb_client *client;
    int uploads;
    int running; /* upload callbacks inside the handler right now */
    int downloads;
    int fail_uploads;
    int fail_downloads;
    int corrupt;
    nb_status nested_status;
    char fileserver_url[128];
    uint32_t max_retries;
    uint64_t base_delay_ms;
    uint64_t max_delay_ms;
    int count;
    char keys[MAX_ITEMS][128];
    uint8_t *items[MAX_ITEMS];
    size_t lens[MAX_ITEMS];
};

static nb_status upload(void *user_data, const char *fileserver_url, const char *dataname,
                        const uint8_t *data, size_t len, nb_buffer *out_url) {
    struct store *store = user_data;
    /* Blocking natsbridge calls are refused on handler threads. */
    nb_status nested = nb_client_flush(store->client, NULL);
    pthread_mutex_lock(&store->lock);
    store->nested_status = nested;
    store->uploads++;
    snprintf(store->fileserver_url, sizeof store->fileserver_url, "%s", fileserver_url);
    if (store->fail_uploads || store->count == MAX_ITEMS) {
        store->running++;
        pthread_mutex_unlock(&store->lock);
        /* One payload fails at once, the other slowly: the send gives up on
         * the slow one, which must still be over when the send returns. */
        if (strcmp(dataname, "big") != 0) {
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 300 * 1000000L};
            nanosleep(&pause, NULL);
        }
        pthread_mutex_lock(&store->lock);
        store->running--;
        pthread_mutex_unlock(&store->lock);
        char message[128];
        snprintf(message, sizeof message, "disk full for %s", dataname);
        nb_buffer_append(out_url, (const uint8_t *)message, strlen(message), NULL);
        return 42;
    }
    int slot = store->count++;
    snprintf(store->keys[slot], sizeof store->keys[slot], "mem://store/%d/%s", slot, dataname);
    store->items[slot] = malloc(len > 0 ? len : 1);
    if (len > 0) memcpy(store->items[slot], data, len);
    store->lens[slot] = len;
    nb_status status = nb_buffer_append(out_url, (const uint8_t *)store->keys[slot],
                                        strlen(store->keys[slot]), NULL);
    pthread_mutex_unlock(&store->lock);
    return status;
}

static nb_status download(void *user_data, const char *url, uint32_t max_retries,
                          uint64_t base_delay_ms, uint64_t max_delay_ms, nb_buffer *out_bytes) {
    struct store *store = user_data;
    pthread_mutex_lock(&store->lock);
    store->downloads++;
    store->max_retries = max_retries;
    store->base_delay_ms = base_delay_ms;
    store->max_delay_ms = max_delay_ms;
    int slot = -1;
    for (int i = 0; i < store->count; i++) {
        if (strcmp(store->keys[i], url) == 0) slot = i;
    }
    if (store->fail_downloads || slot < 0) {
        pthread_mutex_unlock(&store->lock);
        const char *message = "object not found";
        nb_buffer_append(out_bytes, (const uint8_t *)message, strlen(message), NULL);
        return 7;
    }
    const uint8_t *data = store->items[slot];
    size_t len = store->lens[slot];
    nb_status status = NB_OK;
    if (store->corrupt && len > 0) {
        uint8_t first = (uint8_t)(data[0] ^ 0xff);
        status = nb_buffer_append(out_bytes, &first, 1, NULL);
        if (status == NB_OK) status = nb_buffer_append(out_bytes, data + 1, len - 1, NULL);
    } else {
        /* In two pieces, as a streaming handler would. */
        size_t half = len / 2;
        status = nb_buffer_append(out_bytes, data, half, NULL);
        if (status == NB_OK) status = nb_buffer_append(out_bytes, data + half, len - half, NULL);
    }
    pthread_mutex_unlock(&store->lock);
    return status;
}

struct callback_inbox {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int calls;
    nb_status code;
    char message[512];
};

static void on_message(void *user_data, const nb_envelope *env, const nb_error *error) {
    struct callback_inbox *inbox = user_data;
    pthread_mutex_lock(&inbox->lock);
    inbox->calls++;
    inbox->code = env != NULL ? NB_OK : nb_error_code(error);
    snprintf(inbox->message, sizeof inbox->message, "%s", nb_error_message(error));
    pthread_cond_broadcast(&inbox->changed);
    pthread_mutex_unlock(&inbox->lock);
}

int main(void) {
    int failed = 1;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_send_options *send = NULL;
    nb_send_options *plain = NULL;
    nb_receive_options *receive = NULL;
    nb_subscription *sub = NULL;
    nb_subscription *pushed = NULL;
    nb_envelope *env = NULL;
    char *sent_json = NULL;
    char *sent_again = NULL;
    struct store store = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct callback_inbox inbox = {.lock = PTHREAD_MUTEX_INITIALIZER,
                                   .changed = PTHREAD_COND_INITIALIZER};

    CHECK_OK(nb_client_connect(test_env("NB_NATS_URL"), NULL, &client, &err));
    store.client = client;
    CHECK_OK(nb_client_subscribe(client, SUBJECT, NULL, &sub, &err));

    CHECK_OK(nb_send_options_new(&send, &err));
    CHECK_OK(nb_send_options_set_size_threshold(send, 100, &err));
    CHECK_OK(nb_send_options_set_fileserver_url(send, "http://handler.invalid", &err));
    CHECK_OK(nb_send_options_set_upload_handler(send, upload, &store, &err));
    CHECK_OK(nb_receive_options_new(&receive, &err));
    CHECK_OK(nb_receive_options_set_max_retries(receive, 2, &err));
    CHECK_OK(nb_receive_options_set_base_delay_ms(receive, 15, &err));
    CHECK_OK(nb_receive_options_set_max_delay_ms(receive, 30, &err));
    CHECK_OK(nb_receive_options_set_download_handler(receive, download, &store, &err));

    uint8_t big[10000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i % 251);
    char text[5001];
    memset(text, 'x', 5000);
    text[5000] = '\0';
    nb_send_payload payloads[] = {
        {.dataname = "big", .type = "binary", .data = big, .len = sizeof big},
        {.dataname = "long-text", .type = "text", .data = (const uint8_t *)text, .len = 5000},
        {.dataname = "tiny", .type = "text", .data = (const uint8_t *)"tiny", .len = 4},
    };

    /* Upload through the handler, download through the handler. */
    CHECK_OK(nb_client_send(client, SUBJECT, payloads, 3, send, &sent_json, &err));
    CHECK(strstr(sent_json, "mem://store/") != NULL);
    pthread_mutex_lock(&store.lock);
    int uploads = store.uploads;
    nb_status nested = store.nested_status;
    int url_ok = text_equals(store.fileserver_url, "http://handler.invalid");
    pthread_mutex_unlock(&store.lock);
    CHECK(uploads == 2 && url_ok);
    CHECK(nested == NB_ERR_INVALID_ARGUMENT);

    /* The subscription's default options have no handler: mem:// is refused. */
    CHECK_FAILS(nb_subscription_next(sub, 5000, &env, &err), NB_ERR_URL_NOT_ALLOWED);
    CHECK_OK(nb_client_receive(client, (const uint8_t *)sent_json, strlen(sent_json), receive,
                               &env, &err));
    nb_payload_view view;
    CHECK_OK(nb_envelope_payload(env, 0, &view, &err));
    CHECK(text_equals(view.transport, "link"));
    CHECK(view.len == sizeof big && memcmp(view.data, big, sizeof big) == 0);
    CHECK_OK(nb_envelope_payload(env, 1, &view, &err));
    CHECK(text_equals(view.transport, "link") && text_equals((const char *)view.data, text));
    CHECK_OK(nb_envelope_payload(env, 2, &view, &err));
    CHECK(text_equals(view.transport, "direct") && text_equals((const char *)view.data, "tiny"));
    nb_envelope_free(env);
    env = NULL;
    pthread_mutex_lock(&store.lock);
    int downloads = store.downloads;
    int settings_ok = store.max_retries == 2 && store.base_delay_ms == 15 &&
                      store.max_delay_ms == 30;
    pthread_mutex_unlock(&store.lock);
    CHECK(downloads == 2 && settings_ok);

    /* Corrupted bytes from a handler fail the integrity check. */
    pthread_mutex_lock(&store.lock);
    store.corrupt = 1;
    pthread_mutex_unlock(&store.lock);
    CHECK_FAILS(nb_client_receive(client, (const uint8_t *)sent_json, strlen(sent_json), receive,
                                  &env, &err),
                NB_ERR_INTEGRITY);

    /* A failing download handler: NB_ERR_HANDLER with its message, both from
     * a receive call and in a callback subscription. */
    pthread_mutex_lock(&store.lock);
    store.corrupt = 0;
    store.fail_downloads = 1;
    pthread_mutex_unlock(&store.lock);
    CHECK(nb_client_receive(client, (const uint8_t *)sent_json, strlen(sent_json), receive, &env,
                            &err) == NB_ERR_HANDLER);
    CHECK(strstr(nb_error_message(err), "object not found") != NULL);
    CHECK(nb_error_dataname(err) != NULL);
    nb_error_free(err);
    err = NULL;
    CHECK_OK(nb_client_subscribe_callback(client, SUBJECT "/pushed", receive, on_message, &inbox,
                                          &pushed, &err));
    CHECK_OK(nb_client_send(client, SUBJECT "/pushed", payloads, 1, send, NULL, &err));
    struct timespec deadline = deadline_in(10000);
    pthread_mutex_lock(&inbox.lock);
    while (inbox.calls == 0 && pthread_cond_timedwait(&inbox.changed, &inbox.lock, &deadline) == 0) {
    }
    int calls = inbox.calls;
    nb_status code = inbox.code;
    int message_ok = strstr(inbox.message, "object not found") != NULL;
    pthread_mutex_unlock(&inbox.lock);
    CHECK(calls == 1 && code == NB_ERR_HANDLER && message_ok);
    nb_subscription_free(pushed);
    pushed = NULL;

    /* A failing upload handler: the send fails and nothing is published. */
    pthread_mutex_lock(&store.lock);
    store.fail_uploads = 1;
    pthread_mutex_unlock(&store.lock);
    pthread_mutex_lock(&store.lock);
    int uploads_before = store.uploads;
    pthread_mutex_unlock(&store.lock);
    CHECK(nb_client_send(client, SUBJECT, payloads, 3, send, NULL, &err) == NB_ERR_HANDLER);
    pthread_mutex_lock(&store.lock);
    int failed_uploads = store.uploads - uploads_before;
    int still_running = store.running;
    pthread_mutex_unlock(&store.lock);
    /* Whether the second upload started is up to scheduling; that none runs
     * after the call returned is the library's promise. */
    CHECK(failed_uploads == 1 || failed_uploads == 2);
    CHECK(still_running == 0);
    CHECK(strstr(nb_error_message(err), "disk full for") != NULL);
    CHECK(strstr(nb_error_message(err), "42") != NULL);
    nb_error_free(err);
    err = NULL;
    CHECK_FAILS(nb_subscription_next(sub, 500, &env, &err), NB_ERR_TIMEOUT);

    /* With the handler removed (and no file server set) the client's default
     * store, the JetStream Object Store, takes the link payloads. */
    CHECK_OK(nb_send_options_set_upload_handler(send, NULL, NULL, &err));
    CHECK_OK(nb_send_options_new(&plain, &err));
    CHECK_OK(nb_send_options_set_size_threshold(plain, 100, &err));
    CHECK_OK(nb_send_options_set_upload_handler(plain, upload, &store, &err));
    CHECK_OK(nb_send_options_set_upload_handler(plain, NULL, NULL, &err));
    CHECK_OK(nb_client_send(client, SUBJECT, payloads, 3, plain, &sent_again, &err));
    CHECK(strstr(sent_again, "nats-object://") != NULL);
    CHECK_OK(nb_subscription_next(sub, 5000, &env, &err));
    CHECK_OK(nb_envelope_payload(env, 0, &view, &err));
    CHECK(text_equals(view.transport, "link"));
    CHECK(view.len == sizeof big && memcmp(view.data, big, sizeof big) == 0);
    pthread_mutex_lock(&store.lock);
    uploads = store.uploads;
    pthread_mutex_unlock(&store.lock);
    CHECK(uploads == uploads_before + failed_uploads); /* none without the handler */

    failed = 0;
    printf("test_handlers: %d uploads, %d downloads through C callbacks; failures reported\n",
           uploads, downloads);

cleanup:
    nb_envelope_free(env);
    nb_string_free(sent_json);
    nb_subscription_free(pushed);
    nb_subscription_free(sub);
    nb_receive_options_free(receive);
    nb_send_options_free(send);
    nb_send_options_free(plain);
    nb_string_free(sent_again);
    nb_client_free(client);
    for (int i = 0; i < store.count; i++) free(store.items[i]);
    nb_error_free(err);
    return failed;
}
