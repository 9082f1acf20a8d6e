/*
 * Sends that never block the caller (ffi-c/src/send_notify.rs): a send that
 * completes within nb_client_send_notify reports its envelope at once with no
 * notification; one that waits (here on an upload handler) completes on a
 * library thread and calls the notify function once; a failing send reports
 * its typed error through nb_pending_send_result, early or late; freeing a
 * send before it completes cancels it, waits for its handler callback, and
 * no notification follows; NULL arguments are refused. A completed send's
 * envelope reads back as views (nb_pending_send_envelope, _header_strings,
 * _payload) with the members of its JSON; a failed or unfinished one has none.
 */
#include "test_util.h"

#define SUBJECT "/c/send_notify"

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

static int notified(struct notifier *n) {
    pthread_mutex_lock(&n->lock);
    int count = n->count;
    pthread_mutex_unlock(&n->lock);
    return count;
}

/* Waits until the notifier was called at least `count` times (10 s at most). */
static int wait_count(struct notifier *n, int count) {
    struct timespec until = deadline_in(10000);
    int ok = 1;
    pthread_mutex_lock(&n->lock);
    while (n->count < count && ok) {
        ok = pthread_cond_timedwait(&n->cond, &n->lock, &until) != ETIMEDOUT;
    }
    ok = n->count >= count;
    pthread_mutex_unlock(&n->lock);
    return ok;
}

/* An upload handler that takes `delay_ms`, then stores nothing and answers a
 * URL (or fails); it records that it returned. Heap-allocated by the test
 * and freed right after nb_pending_send_free, so a callback still running
 * after the free would be a use-after-free under ASan. */
struct slow_store {
    long delay_ms;
    int fail;
    int calls;
    int returned;
};

static nb_status slow_upload(void *user_data, const char *fileserver_url, const char *dataname,
                             const uint8_t *data, size_t len, nb_buffer *out_url) {
    (void)fileserver_url;
    (void)data;
    (void)len;
    struct slow_store *store = user_data;
    store->calls++;
    struct timespec pause = {.tv_sec = store->delay_ms / 1000,
                             .tv_nsec = (store->delay_ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    char text[128];
    nb_status status = NB_OK;
    if (store->fail) {
        snprintf(text, sizeof text, "no room for %s", dataname);
        status = 7;
    } else {
        snprintf(text, sizeof text, "mem://slow/%s", dataname);
    }
    nb_buffer_append(out_url, (const uint8_t *)text, strlen(text), NULL);
    store->returned = 1;
    return status;
}

/* True when `len` bytes at `data` contain the NUL-terminated `needle`. */
static int contains(const uint8_t *data, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; data != NULL && i + n <= len; i++) {
        if (memcmp(data + i, needle, n) == 0) return 1;
    }
    return 0;
}

/* True when the view holds exactly the NUL-terminated `text`. */
static int view_is(nb_string_view view, const char *text) {
    size_t n = strlen(text);
    return view.len == n && (n == 0 || (view.ptr != NULL && memcmp(view.ptr, text, n) == 0));
}

/* True when the view's bytes occur in `len` bytes at `data`. */
static int view_in(const uint8_t *data, size_t len, nb_string_view view) {
    for (size_t i = 0; data != NULL && view.ptr != NULL && i + view.len <= len; i++) {
        if (memcmp(data + i, view.ptr, view.len) == 0) return 1;
    }
    return 0;
}

int main(void) {
    int failed = 1;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_subscription *sub = NULL;
    nb_envelope *received = NULL;
    nb_pending_send *send = NULL;
    nb_send_options *options = NULL;
    struct slow_store *store = NULL;
    struct notifier n = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    const uint8_t *json = NULL;
    size_t json_len = 0;
    bool done = false;
    static const char text[] = "hello without blocking";
    static const char document[] = "a document that goes by link through a slow store";
    nb_send_payload small = {.dataname = "greeting", .type = "text",
                             .data = (const uint8_t *)text, .len = sizeof text - 1};
    nb_send_payload linked = {.dataname = "doc", .type = "binary",
                              .data = (const uint8_t *)document, .len = sizeof document - 1};

    CHECK_OK(nb_client_connect(test_env("NB_NATS_URL"), NULL, &client, &err));
    CHECK_OK(nb_client_subscribe(client, SUBJECT, NULL, &sub, &err));

    /* --- NULL arguments and bad descriptors fail at once ----------------- */
    CHECK_FAILS(nb_client_send_notify(NULL, SUBJECT, &small, 1, NULL, notify, &n, &send, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_client_send_notify(client, SUBJECT, &small, 1, NULL, NULL, &n, &send, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_client_send_notify(client, SUBJECT, &small, 1, NULL, notify, &n, NULL, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_client_send_notify(client, NULL, &small, 1, NULL, notify, &n, &send, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(nb_client_send_notify(client, SUBJECT, NULL, 1, NULL, notify, &n, &send, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK(send == NULL);
    CHECK_FAILS(nb_pending_send_result(NULL, &done, &json, &json_len, &err),
                NB_ERR_INVALID_ARGUMENT);
    nb_pending_send_free(NULL);

    /* --- success, completed within the call: no notification ------------- */
    CHECK_OK(nb_client_send_notify(client, SUBJECT, &small, 1, NULL, notify, &n, &send, &err));
    CHECK(send != NULL);
    CHECK_FAILS(nb_pending_send_result(send, NULL, &json, &json_len, &err),
                NB_ERR_INVALID_ARGUMENT);
    CHECK_OK(nb_pending_send_result(send, &done, &json, &json_len, &err));
    if (!done) {
        /* Allowed (a full connection buffer): then one notification comes. */
        CHECK(wait_count(&n, 1));
        CHECK_OK(nb_pending_send_result(send, &done, &json, &json_len, &err));
        CHECK(done);
    } else {
        CHECK(notified(&n) == 0);
    }
    CHECK(contains(json, json_len, "\"dataname\":\"greeting\""));
    CHECK(contains(json, json_len, "\"send_to\":\"" SUBJECT "\""));
    /* The result may be read again: the same bytes. */
    {
        const uint8_t *again = NULL;
        size_t again_len = 0;
        CHECK_OK(nb_pending_send_result(send, &done, &again, &again_len, &err));
        CHECK(done && again == json && again_len == json_len);
    }
    /* The same envelope as views (what a front end builds its own map
     * from): the members of the JSON, borrowed from the pending send. */
    {
        nb_sent_envelope_view ev = {0};
        CHECK_FAILS(nb_pending_send_envelope(send, NULL, &err), NB_ERR_INVALID_ARGUMENT);
        CHECK_FAILS(nb_pending_send_envelope(NULL, &ev, &err), NB_ERR_INVALID_ARGUMENT);
        CHECK_OK(nb_pending_send_envelope(send, &ev, &err));
        CHECK(ev.version == 1 && ev.payload_count == 1 && !ev.has_metadata);
        nb_string_view fields[16];
        CHECK(nb_pending_send_header_strings(send, fields, 16) == 12);
        CHECK(nb_pending_send_header_strings(send, NULL, 12) == 12);
        CHECK(nb_pending_send_header_strings(NULL, fields, 12) == 0);
        CHECK(view_is(fields[3], SUBJECT));      /* send_to */
        CHECK(view_is(fields[4], "chat"));       /* msg_purpose, the default */
        CHECK(view_is(fields[5], "NATSBridge")); /* sender_name, the default */
        CHECK(fields[7].len == 0);               /* receiver_name */
        CHECK(fields[0].len == 36 && fields[1].len == 36);
        for (int i = 0; i < 12; i++) {
            CHECK(fields[i].len == 0 || view_in(json, json_len, fields[i]));
        }
        nb_sent_payload_view pv;
        CHECK_FAILS(nb_pending_send_payload(send, 1, &pv, &err), NB_ERR_INVALID_ARGUMENT);
        CHECK_FAILS(nb_pending_send_payload(send, 0, NULL, &err), NB_ERR_INVALID_ARGUMENT);
        CHECK_OK(nb_pending_send_payload(send, 0, &pv, &err));
        CHECK(view_is(pv.dataname, "greeting") && view_is(pv.type, "text"));
        CHECK(view_is(pv.transport, "direct") && view_is(pv.encoding, "base64"));
        CHECK(pv.id.len == 36 && view_in(json, json_len, pv.id));
        CHECK(pv.size == sizeof text - 1 && !pv.has_metadata);
        CHECK(pv.sha256.ptr == NULL ? pv.sha256.len == 0 : pv.sha256.len == 64);
        /* The data member is the published base64 itself, not a copy. */
        CHECK(view_is(pv.data, "aGVsbG8gd2l0aG91dCBibG9ja2luZw=="));
        CHECK((const uint8_t *)pv.data.ptr >= json &&
              (const uint8_t *)pv.data.ptr + pv.data.len <= json + json_len);
    }
    nb_pending_send_free(send);
    send = NULL;
    CHECK_OK(nb_subscription_next(sub, 10000, &received, &err));
    {
        nb_payload_view view;
        CHECK_OK(nb_envelope_payload(received, 0, &view, &err));
        CHECK(bytes_equal_text(view.data, view.len, text));
    }
    nb_envelope_free(received);
    received = NULL;

    /* --- a payload with metadata: the view says so ------------------------ */
    {
        nb_send_payload two[2] = {small, small};
        two[1].dataname = "tagged";
        two[1].metadata_json = "{\"k\":1}";
        CHECK_OK(nb_client_send_notify(client, SUBJECT, two, 2, NULL, notify, &n, &send, &err));
        CHECK_OK(nb_pending_send_result(send, &done, &json, &json_len, &err));
        if (!done) {
            CHECK(wait_count(&n, notified(&n) + 1));
            CHECK_OK(nb_pending_send_result(send, &done, &json, &json_len, &err));
        }
        nb_sent_envelope_view ev = {0};
        nb_sent_payload_view pv;
        CHECK_OK(nb_pending_send_envelope(send, &ev, &err));
        CHECK(ev.payload_count == 2 && !ev.has_metadata);
        CHECK_OK(nb_pending_send_payload(send, 0, &pv, &err));
        CHECK(!pv.has_metadata);
        CHECK_OK(nb_pending_send_payload(send, 1, &pv, &err));
        CHECK(pv.has_metadata && view_is(pv.dataname, "tagged"));
        nb_pending_send_free(send);
        send = NULL;
        CHECK_OK(nb_subscription_next(sub, 10000, &received, &err));
        nb_envelope_free(received);
        received = NULL;
    }

    /* --- an error found within the call: INVALID_ARGUMENT, nothing sent -- */
    int before = notified(&n);
    CHECK_OK(nb_client_send_notify(client, "bad subject", &small, 1, NULL, notify, &n, &send, &err));
    CHECK_FAILS(nb_pending_send_result(send, &done, &json, &json_len, &err),
                NB_ERR_INVALID_ARGUMENT);
    /* Reading a failed send again gives the same error. */
    CHECK_FAILS(nb_pending_send_result(send, &done, &json, &json_len, &err),
                NB_ERR_INVALID_ARGUMENT);
    /* A failed send has no envelope to view: its error, and no strings. */
    {
        nb_sent_envelope_view ev = {0};
        nb_sent_payload_view pv;
        CHECK_FAILS(nb_pending_send_envelope(send, &ev, &err), NB_ERR_INVALID_ARGUMENT);
        CHECK_FAILS(nb_pending_send_payload(send, 0, &pv, &err), NB_ERR_INVALID_ARGUMENT);
        CHECK(nb_pending_send_header_strings(send, NULL, 0) == 0);
    }
    nb_pending_send_free(send);
    send = NULL;
    CHECK(notified(&n) == before);

    /* --- a send that waits (a slow upload handler): one notification ------ */
    store = calloc(1, sizeof *store);
    CHECK(store != NULL);
    store->delay_ms = 200;
    CHECK_OK(nb_send_options_new(&options, &err));
    CHECK_OK(nb_send_options_set_size_threshold(options, 8, &err));
    CHECK_OK(nb_send_options_set_upload_handler(options, slow_upload, store, &err));
    before = notified(&n);
    CHECK_OK(nb_client_send_notify(client, SUBJECT, &linked, 1, options, notify, &n, &send, &err));
    CHECK_OK(nb_pending_send_result(send, &done, &json, &json_len, &err));
    CHECK(!done); /* the handler sleeps 200 ms: it cannot be done yet */
    {
        nb_sent_envelope_view ev = {0};
        CHECK_FAILS(nb_pending_send_envelope(send, &ev, &err), NB_ERR_INVALID_ARGUMENT);
        CHECK(nb_pending_send_header_strings(send, NULL, 0) == 0);
    }
    CHECK(wait_count(&n, before + 1));
    CHECK_OK(nb_pending_send_result(send, &done, &json, &json_len, &err));
    CHECK(done && store->calls == 1 && store->returned);
    CHECK(contains(json, json_len, "mem://slow/doc"));
    CHECK(contains(json, json_len, "\"transport\":\"link\""));
    {
        nb_sent_payload_view pv;
        CHECK_OK(nb_pending_send_payload(send, 0, &pv, &err));
        CHECK(view_is(pv.transport, "link") && view_is(pv.encoding, "url"));
        CHECK(view_is(pv.data, "mem://slow/doc") && pv.sha256.len == 64);
        CHECK(pv.size == sizeof document - 1);
    }
    nb_pending_send_free(send);
    send = NULL;
    CHECK(notified(&n) == before + 1);
    /* It was published, by link: the receiver refuses to fetch mem:// URLs. */
    CHECK_FAILS(nb_subscription_next(sub, 10000, &received, &err), NB_ERR_URL_NOT_ALLOWED);

    /* --- a send that fails late (the handler fails): NB_ERR_HANDLER ------- */
    store->fail = 1;
    store->returned = 0;
    before = notified(&n);
    CHECK_OK(nb_client_send_notify(client, SUBJECT, &linked, 1, options, notify, &n, &send, &err));
    CHECK(wait_count(&n, before + 1));
    {
        nb_status status = nb_pending_send_result(send, &done, &json, &json_len, &err);
        CHECK(status == NB_ERR_HANDLER && nb_error_code(err) == NB_ERR_HANDLER);
        CHECK(strstr(nb_error_message(err), "no room for doc") != NULL);
        nb_error_free(err);
        err = NULL;
    }
    nb_pending_send_free(send);
    send = NULL;

    /* --- freed before it completes: cancelled, no notification ----------- */
    store->fail = 0;
    store->returned = 0;
    store->calls = 0;
    store->delay_ms = 300;
    before = notified(&n);
    CHECK_OK(nb_client_send_notify(client, SUBJECT "/cancelled", &linked, 1, options, notify, &n,
                                   &send, &err));
    /* Let the handler start, then free while it sleeps. */
    {
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
        nanosleep(&pause, NULL);
    }
    nb_pending_send_free(send);
    send = NULL;
    /* The free waited for the running callback. */
    CHECK(store->calls == 0 || store->returned);
    nb_send_options_free(options);
    options = NULL;
    free(store); /* a callback still running now would be caught by ASan */
    store = NULL;
    {
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 400 * 1000000L};
        nanosleep(&pause, NULL);
    }
    CHECK(notified(&n) == before);

    /* The client still works after a cancelled send. */
    CHECK_OK(nb_client_send_notify(client, SUBJECT, &small, 1, NULL, notify, &n, &send, &err));
    CHECK_OK(nb_pending_send_result(send, &done, &json, &json_len, &err));
    if (!done) {
        CHECK(wait_count(&n, before + 1));
        CHECK_OK(nb_pending_send_result(send, &done, &json, &json_len, &err));
    }
    CHECK(done);
    CHECK_OK(nb_subscription_next(sub, 10000, &received, &err));

    /* --- a send on a closed client fails with NB_ERR_CLOSED --------------- */
    nb_pending_send_free(send);
    send = NULL;
    CHECK_OK(nb_client_close(client, &err));
    CHECK_OK(nb_client_send_notify(client, SUBJECT, &small, 1, NULL, notify, &n, &send, &err));
    CHECK_FAILS(nb_pending_send_result(send, &done, &json, &json_len, &err), NB_ERR_CLOSED);

    printf("send_notify: ok\n");
    failed = 0;
cleanup:
    nb_pending_send_free(send);
    nb_envelope_free(received);
    nb_subscription_free(sub);
    nb_send_options_free(options);
    free(store);
    nb_client_free(client);
    nb_error_free(err);
    return failed;
}
