/*
 * The Arrow C stream export, read by a small C consumer that knows nothing
 * but the Arrow C data interface: a table built column by column is sent
 * over NATS, received, exported as a struct ArrowArrayStream, and walked
 * (schema formats, names, nullability; arrays' validity bitmaps, values,
 * offsets). The stream outlives the table and the envelope it came from.
 */
#include "test_util.h"

#define ROWS 3

/* Bit `i` of an Arrow bitmap (least significant bit first). */
static int bit(const void *bitmap, int64_t i) {
    return (((const uint8_t *)bitmap)[i / 8] >> (i % 8)) & 1;
}

/* Row `i` of `array` is valid (a missing validity bitmap means no nulls). */
static int is_valid(const struct ArrowArray *array, int64_t i) {
    return array->null_count == 0 || array->buffers[0] == NULL ||
           bit(array->buffers[0], array->offset + i);
}

/* Appends a description of `schema` (format and name of each child) to out. */
static void describe(const struct ArrowSchema *schema, char *out, size_t size) {
    size_t used = strlen(out);
    snprintf(out + used, size - used, "%s<", schema->format);
    for (int64_t i = 0; i < schema->n_children; i++) {
        const struct ArrowSchema *child = schema->children[i];
        used = strlen(out);
        snprintf(out + used, size - used, "%s%s:%s%s", i > 0 ? "," : "", child->name,
                 child->format, (child->flags & ARROW_FLAG_NULLABLE) ? "?" : "");
    }
    used = strlen(out);
    snprintf(out + used, size - used, ">");
}

/* Checks one record batch of the expected table; returns 0 when it holds. */
static int check_batch(const struct ArrowArray *batch) {
    if (batch->length != ROWS || batch->n_children != 4 || batch->null_count != 0) return 1;
    const struct ArrowArray *id = batch->children[0];
    const struct ArrowArray *score = batch->children[1];
    const struct ArrowArray *flag = batch->children[2];
    const struct ArrowArray *name = batch->children[3];

    const int64_t *ids = (const int64_t *)id->buffers[1] + id->offset;
    if (id->n_buffers != 2 || id->null_count != 0) return 2;
    if (ids[0] != 10 || ids[1] != -20 || ids[2] != 30) return 3;

    const double *scores = (const double *)score->buffers[1] + score->offset;
    if (score->null_count != 1 || !is_valid(score, 0) || !is_valid(score, 1) ||
        is_valid(score, 2)) {
        return 4;
    }
    if (scores[0] != 0.5 || scores[1] != -1.25) return 5;

    if (flag->n_buffers != 2 || flag->null_count != 0) return 6;
    if (bit(flag->buffers[1], flag->offset + 0) != 1 || bit(flag->buffers[1], flag->offset + 1) != 0 ||
        bit(flag->buffers[1], flag->offset + 2) != 1) {
        return 7;
    }

    if (name->n_buffers != 3 || name->null_count != 1 || is_valid(name, 1)) return 8;
    const int32_t *offsets = (const int32_t *)name->buffers[1] + name->offset;
    const char *chars = name->buffers[2];
    const char *expected[ROWS] = {"Alice", NULL, "Cy"};
    for (int64_t row = 0; row < ROWS; row++) {
        if (expected[row] == NULL) continue;
        int32_t length = offsets[row + 1] - offsets[row];
        if (length != (int32_t)strlen(expected[row]) ||
            memcmp(chars + offsets[row], expected[row], (size_t)length) != 0) {
            return 9;
        }
    }
    return 0;
}

/* Consumes a whole stream: schema, every batch, end; releases everything.
 * Returns 0 on success and writes the schema's description. */
static int consume(struct ArrowArrayStream *stream, char *description, size_t size) {
    struct ArrowSchema schema;
    struct ArrowArray batch;
    int result = 0;
    int batches = 0;
    memset(&schema, 0, sizeof schema);
    if (stream->get_schema(stream, &schema) != 0) {
        fprintf(stderr, "get_schema failed: %s\n", stream->get_last_error(stream));
        return 10;
    }
    description[0] = '\0';
    describe(&schema, description, size);
    for (;;) {
        memset(&batch, 0, sizeof batch);
        if (stream->get_next(stream, &batch) != 0) {
            fprintf(stderr, "get_next failed: %s\n", stream->get_last_error(stream));
            result = 11;
            break;
        }
        if (batch.release == NULL) break; /* end of stream */
        batches++;
        int problem = check_batch(&batch);
        batch.release(&batch);
        if (problem != 0) {
            result = problem;
            break;
        }
    }
    if (result == 0 && batches != 1) result = 12;
    schema.release(&schema);
    return result;
}

int main(void) {
    int failed = 1;
    nb_error *err = NULL;
    nb_client *client = NULL;
    nb_subscription *sub = NULL;
    nb_table_builder *builder = NULL;
    nb_table *table = NULL;
    nb_table *received = NULL;
    nb_table *from_ipc = NULL;
    nb_envelope *env = NULL;
    struct ArrowArrayStream stream;
    struct ArrowArrayStream second;
    memset(&stream, 0, sizeof stream);
    memset(&second, 0, sizeof second);
    char description[256];
    const char *expected_schema = "+s<id:l?,score:g?,flag:b?,name:u?>";

    const int64_t ids[ROWS] = {10, -20, 30};
    const double scores[ROWS] = {0.5, -1.25, 99.0};
    const uint8_t score_valid[ROWS] = {1, 1, 0};
    const bool flags[ROWS] = {true, false, true};
    const char *names[ROWS] = {"Alice", NULL, "Cy"};
    CHECK_OK(nb_table_builder_new(&builder, &err));
    CHECK_OK(nb_table_builder_add_int64(builder, "id", ids, NULL, ROWS, &err));
    CHECK_OK(nb_table_builder_add_float64(builder, "score", scores, score_valid, ROWS, &err));
    CHECK_OK(nb_table_builder_add_bool(builder, "flag", flags, NULL, ROWS, &err));
    CHECK_OK(nb_table_builder_add_utf8(builder, "name", names, ROWS, &err));
    CHECK_OK(nb_table_builder_finish(builder, &table, &err));

    /* Over NATS and back. */
    CHECK_OK(nb_client_connect(test_env("NB_NATS_URL"), NULL, &client, &err));
    CHECK_OK(nb_client_subscribe(client, "/c/arrow", NULL, &sub, &err));
    nb_send_payload payload = {.dataname = "readings", .type = "table", .table = table};
    CHECK_OK(nb_client_send(client, "/c/arrow", &payload, 1, NULL, NULL, &err));
    CHECK_OK(nb_subscription_next(sub, 5000, &env, &err));
    CHECK_OK(nb_envelope_payload_table(env, 0, &received, &err));

    /* The stream outlives the table and the envelope. */
    CHECK_OK(nb_table_export_stream(received, &stream, &err));
    CHECK(stream.release != NULL && stream.get_schema != NULL && stream.get_next != NULL &&
          stream.get_last_error != NULL);
    nb_table_free(received);
    received = NULL;
    nb_envelope_free(env);
    env = NULL;
    int problem = consume(&stream, description, sizeof description);
    if (problem != 0) fprintf(stderr, "stream check %d failed (%s)\n", problem, description);
    CHECK(problem == 0);
    CHECK(text_equals(description, expected_schema));
    stream.release(&stream);
    CHECK(stream.release == NULL); /* released streams mark themselves */

    /* From IPC bytes too. */
    const uint8_t *ipc = NULL;
    size_t ipc_len = 0;
    CHECK_OK(nb_table_ipc(table, &ipc, &ipc_len, &err));
    CHECK_OK(nb_table_from_ipc(ipc, ipc_len, &from_ipc, &err));
    CHECK_OK(nb_table_export_stream(from_ipc, &second, &err));
    CHECK(consume(&second, description, sizeof description) == 0);
    CHECK(text_equals(description, expected_schema));
    second.release(&second);
    CHECK_FAILS(nb_table_export_stream(from_ipc, NULL, &err), NB_ERR_INVALID_ARGUMENT);

    failed = 0;
    printf("test_arrow_stream: read %s through the Arrow C stream interface\n", description);

cleanup:
    if (stream.release != NULL) stream.release(&stream);
    if (second.release != NULL) second.release(&second);
    nb_envelope_free(env);
    nb_table_free(table);
    nb_table_free(received);
    nb_table_free(from_ipc);
    nb_table_builder_free(builder);
    nb_subscription_free(sub);
    nb_client_free(client);
    nb_error_free(err);
    return failed;
}
