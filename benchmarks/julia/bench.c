/*
 * The C side of the Julia benchmark: the same work as bench.jl on the same
 * library, in the same run. For each case, N messages are sent on one
 * client and received by a pull subscription of the same client; the time
 * per message covers building the payload (the 10,000-row table through the
 * table builder), sending, receiving and reading the value (the text bytes;
 * the table's columns through the Arrow C stream).
 *
 *   bench NATS_URL N_TEXT N_TABLE
 * prints one line per case: "case messages seconds us_per_message".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "natsbridge.h"

#define ROWS 10000

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int fail(const char *what, nb_error *err) {
    fprintf(stderr, "%s: %s\n", what, nb_error_message(err));
    nb_error_free(err);
    return 1;
}

static int64_t ids[ROWS];
static double values[ROWS];
static char names_buf[ROWS][16];
static const char *names[ROWS];

static nb_table *build_table(nb_error **err) {
    nb_table_builder *b = NULL;
    nb_table *t = NULL;
    if (nb_table_builder_new(&b, err) != NB_OK) return NULL;
    if (nb_table_builder_add_int64(b, "id", ids, NULL, ROWS, err) == NB_OK &&
        nb_table_builder_add_float64(b, "value", values, NULL, ROWS, err) == NB_OK &&
        nb_table_builder_add_utf8(b, "name", names, ROWS, err) == NB_OK) {
        nb_table_builder_finish(b, &t, err);
    }
    nb_table_builder_free(b);
    return t;
}

/* Reads every column of a received table (sum of ids, string bytes). */
static long long read_table(const nb_envelope *env, nb_error **err) {
    nb_table *t = NULL;
    long long total = 0;
    if (nb_envelope_payload_table(env, 0, &t, err) != NB_OK) return -1;
    struct ArrowArrayStream stream;
    if (nb_table_export_stream(t, &stream, err) != NB_OK) {
        nb_table_free(t);
        return -1;
    }
    struct ArrowArray array;
    while (stream.get_next(&stream, &array) == 0 && array.release != NULL) {
        const int64_t *id = (const int64_t *)array.children[0]->buffers[1];
        const int32_t *off = (const int32_t *)array.children[2]->buffers[1];
        for (int64_t i = 0; i < array.length; i++) total += id[i] + (off[i + 1] - off[i]);
        array.release(&array);
    }
    stream.release(&stream);
    nb_table_free(t);
    return total;
}

static int run_case(nb_client *client, const char *label, int n, int table) {
    nb_error *err = NULL;
    nb_subscription *sub = NULL;
    char subject[64];
    snprintf(subject, sizeof subject, "/bench/c/%s", label);
    if (nb_client_subscribe(client, subject, NULL, &sub, &err) != NB_OK) return fail("subscribe", err);
    char text[1024];
    memset(text, 'x', sizeof text);
    double start = now();
    long long check = 0;
    for (int i = 0; i < n; i++) {
        nb_table *t = NULL;
        nb_send_payload p = {.dataname = "p", .type = table ? "table" : "text"};
        if (table) {
            t = build_table(&err);
            if (t == NULL) return fail("table", err);
            p.table = t;
        } else {
            p.data = (const uint8_t *)text;
            p.len = sizeof text;
        }
        nb_status s = nb_client_send(client, subject, &p, 1, NULL, NULL, &err);
        nb_table_free(t);
        if (s != NB_OK) return fail("send", err);
    }
    for (int i = 0; i < n; i++) {
        nb_envelope *env = NULL;
        if (nb_subscription_next(sub, 30000, &env, &err) != NB_OK) return fail("next", err);
        if (table) {
            check += read_table(env, &err);
        } else {
            nb_payload_view v;
            if (nb_envelope_payload(env, 0, &v, &err) != NB_OK) return fail("payload", err);
            check += (long long)v.len;
        }
        nb_envelope_free(env);
    }
    double seconds = now() - start;
    printf("%s %d %.4f %.1f\n", label, n, seconds, seconds / n * 1e6);
    fprintf(stderr, "c %s check %lld\n", label, check);
    nb_subscription_free(sub);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: bench NATS_URL N_TEXT N_TABLE\n");
        return 2;
    }
    for (int i = 0; i < ROWS; i++) {
        ids[i] = i;
        values[i] = i * 0.5;
        snprintf(names_buf[i], sizeof names_buf[i], "name-%d", i);
        names[i] = names_buf[i];
    }
    nb_error *err = NULL;
    nb_client *client = NULL;
    if (nb_client_connect(argv[1], NULL, &client, &err) != NB_OK) return fail("connect", err);
    /* Warm-up, untimed, as bench.jl does: one full run of each case first
     * (the allocator's arenas and the connection's buffers reach their
     * steady size). */
    int rc = run_case(client, "warmup_text", atoi(argv[2]), 0) ||
             run_case(client, "warmup_table", atoi(argv[3]), 1) ||
             run_case(client, "text_1KiB", atoi(argv[2]), 0) ||
             run_case(client, "table_10000_rows", atoi(argv[3]), 1);
    nb_client_free(client);
    return rc;
}
