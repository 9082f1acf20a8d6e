/* The interop matrix's C driver: libnatsbridge (include/natsbridge.h), one
 * client for the whole run, speaking the runner's JSON-lines protocol on
 * stdin/stdout (tests/interop/README.md). JSON in and out goes through the
 * library's own nb_json_parse / nb_json_writer; tables are built with the
 * table builder and read through the Arrow C stream interface. Binary
 * payloads are reported as base64 ("b64"): the runner hashes them. */
#define _POSIX_C_SOURCE 200809L
#include <natsbridge.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAYLOADS 16
#define MAX_SUBS 64
#define MAX_OWNED 256

static nb_client *client;
static const char *fileserver_url;
static char failure[2048];
static struct { char *subject; nb_subscription *sub; } subs[MAX_SUBS];
static void *owned[MAX_OWNED];
static size_t n_owned;
static nb_table *tables[MAX_PAYLOADS];
static size_t n_tables;

static void *keep(void *p) {
    if (p && n_owned < MAX_OWNED) owned[n_owned++] = p;
    return p;
}

static void release_owned(void) {
    for (size_t i = 0; i < n_owned; i++) free(owned[i]);
    n_owned = 0;
    for (size_t i = 0; i < n_tables; i++) nb_table_free(tables[i]);
    n_tables = 0;
}

/* Records why the op failed; returns -1 so callers can `return fail(...)`. */
static int fail(const char *what, nb_error *err) {
    snprintf(failure, sizeof failure, "%s: %s", what, err ? nb_error_message(err) : "failed");
    nb_error_free(err);
    return -1;
}

#define TRY(what, call)                                \
    do {                                               \
        nb_error *err_ = NULL;                         \
        if ((call) != NB_OK) return fail(what, err_);  \
    } while (0)
/* TRY's calls name `&err_` as their error out-parameter. */
#define E (&err_)

static const nb_json *member(const nb_json *obj, const char *key) {
    for (size_t i = 0; i < nb_json_len(obj); i++) {
        size_t len;
        const char *k = nb_json_object_key(obj, i, &len);
        if (k && len == strlen(key) && memcmp(k, key, len) == 0) return nb_json_object_value(obj, i);
    }
    return NULL;
}

/* A member string as a new NUL-terminated copy (freed with the op). */
static char *text(const nb_json *obj, const char *key, size_t *out_len) {
    size_t len = 0;
    const char *s = nb_json_string(member(obj, key), &len);
    char *copy = keep(malloc(len + 1));
    if (s) memcpy(copy, s, len);
    copy[len] = 0;
    if (out_len) *out_len = len;
    return copy;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static uint8_t *b64_decode(const char *in, size_t len, size_t *out_len) {
    uint8_t *out = keep(malloc(len / 4 * 3 + 3));
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len && in[i] != '='; i++) {
        const char *p = strchr(B64, in[i]);
        if (!p || !in[i]) continue;
        acc = (acc << 6) | (uint32_t)(p - B64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = n;
    return out;
}

static char *b64_encode(const uint8_t *in, size_t len, size_t *out_len) {
    char *out = keep(malloc((len + 2) / 3 * 4 + 1));
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
        out[n++] = B64[v >> 18 & 63];
        out[n++] = B64[v >> 12 & 63];
        out[n++] = i + 1 < len ? B64[v >> 6 & 63] : '=';
        out[n++] = i + 2 < len ? B64[v & 63] : '=';
    }
    out[n] = 0;
    *out_len = n;
    return out;
}

/* Writes a parsed JSON value with the writer (dictionary payloads both ways). */
static int copy_json(nb_json_writer *w, const nb_json *v) {
    size_t len;
    const char *s;
    switch (nb_json_kind(v)) {
    case NB_JSON_NULL: TRY("json", nb_json_writer_null(w, E)); break;
    case NB_JSON_BOOL: TRY("json", nb_json_writer_bool(w, nb_json_bool(v), E)); break;
    case NB_JSON_INT: TRY("json", nb_json_writer_int64(w, nb_json_int64(v), E)); break;
    case NB_JSON_UINT: TRY("json", nb_json_writer_uint64(w, nb_json_uint64(v), E)); break;
    case NB_JSON_FLOAT: TRY("json", nb_json_writer_float64(w, nb_json_float64(v), E)); break;
    case NB_JSON_STRING:
        s = nb_json_string(v, &len);
        TRY("json", nb_json_writer_string(w, s, len, E));
        break;
    case NB_JSON_ARRAY:
        TRY("json", nb_json_writer_begin_array(w, E));
        for (size_t i = 0; i < nb_json_len(v); i++)
            if (copy_json(w, nb_json_array_get(v, i))) return -1;
        TRY("json", nb_json_writer_end_array(w, E));
        break;
    default:
        TRY("json", nb_json_writer_begin_object(w, E));
        for (size_t i = 0; i < nb_json_len(v); i++) {
            s = nb_json_object_key(v, i, &len);
            TRY("json", nb_json_writer_key(w, s, len, E));
            if (copy_json(w, nb_json_object_value(v, i))) return -1;
        }
        TRY("json", nb_json_writer_end_object(w, E));
    }
    return 0;
}

static int key(nb_json_writer *w, const char *k) {
    TRY("json key", nb_json_writer_key(w, k, strlen(k), E));
    return 0;
}

static int str(nb_json_writer *w, const char *s, size_t len) {
    TRY("json string", nb_json_writer_string(w, s, len, E));
    return 0;
}

/* A spec's table through the table builder. */
static int build_table(const nb_json *table, nb_table **out) {
    nb_table_builder *b = NULL;
    TRY("table builder", nb_table_builder_new(&b, E));
    const nb_json *columns = member(table, "columns");
    int rc = 0;
    for (size_t c = 0; c < nb_json_len(columns) && rc == 0; c++) {
        const nb_json *col = nb_json_array_get(columns, c);
        char *name = text(col, "name", NULL), *type = text(col, "type", NULL);
        const nb_json *values = member(col, "values");
        size_t n = nb_json_len(values);
        nb_error *err = NULL;
        nb_status st;
        if (strcmp(type, "int64") == 0) {
            int64_t *v = keep(malloc(n * sizeof *v + 1));
            for (size_t i = 0; i < n; i++) v[i] = nb_json_int64(nb_json_array_get(values, i));
            st = nb_table_builder_add_int64(b, name, v, NULL, n, &err);
        } else if (strcmp(type, "float64") == 0) {
            double *v = keep(malloc(n * sizeof *v + 1));
            for (size_t i = 0; i < n; i++) v[i] = nb_json_float64(nb_json_array_get(values, i));
            st = nb_table_builder_add_float64(b, name, v, NULL, n, &err);
        } else if (strcmp(type, "bool") == 0) {
            bool *v = keep(malloc(n * sizeof *v + 1));
            for (size_t i = 0; i < n; i++) v[i] = nb_json_bool(nb_json_array_get(values, i));
            st = nb_table_builder_add_bool(b, name, v, NULL, n, &err);
        } else {
            const char **v = keep(malloc(n * sizeof *v + 1));
            for (size_t i = 0; i < n; i++) {
                size_t len;
                const char *s = nb_json_string(nb_json_array_get(values, i), &len);
                char *copy = keep(malloc(len + 1));
                memcpy(copy, s, len);
                copy[len] = 0;
                v[i] = copy;
            }
            st = nb_table_builder_add_utf8(b, name, v, n, &err);
        }
        if (st != NB_OK) rc = fail("table column", err);
    }
    if (rc == 0) {
        nb_error *err = NULL;
        if (nb_table_builder_finish(b, out, &err) != NB_OK) rc = fail("table finish", err);
    }
    nb_table_builder_free(b);
    return rc;
}

/* The spec payloads of an op as send descriptors. */
static int outgoing(const nb_json *specs, nb_send_payload *out, size_t *count) {
    *count = nb_json_len(specs);
    if (*count > MAX_PAYLOADS) return fail("payloads", NULL);
    for (size_t i = 0; i < *count; i++) {
        const nb_json *s = nb_json_array_get(specs, i);
        nb_send_payload *p = &out[i];
        memset(p, 0, sizeof *p);
        p->dataname = text(s, "dataname", NULL);
        p->type = text(s, "type", NULL);
        if (strcmp(p->type, "text") == 0) {
            p->data = (const uint8_t *)text(s, "text", &p->len);
        } else if (strcmp(p->type, "dictionary") == 0) {
            nb_json_writer *w = NULL;
            char *json = NULL;
            TRY("writer", nb_json_writer_new(&w, E));
            int rc = copy_json(w, member(s, "json"));
            nb_error *err = NULL;
            if (rc == 0 && nb_json_writer_finish(w, &json, &err) != NB_OK) rc = fail("json", err);
            nb_json_writer_free(w);
            if (rc) return rc;
            p->len = strlen(json);
            p->data = (const uint8_t *)keep(strdup(json));
            nb_string_free(json);
        } else if (strcmp(p->type, "table") == 0) {
            nb_table *t = NULL;
            if (build_table(member(s, "table"), &t)) return -1;
            tables[n_tables++] = t;
            p->table = t;
        } else {
            size_t len;
            const char *b = text(s, "b64", &len);
            p->data = b64_decode(b, len, &p->len);
        }
    }
    return 0;
}

static int send_options(const nb_json *op, nb_send_options **out) {
    TRY("send options", nb_send_options_new(out, E));
    char *transport = text(op, "transport", NULL);
    if (strcmp(transport, "link-http") == 0)
        TRY("fileserver_url", nb_send_options_set_fileserver_url(*out, fileserver_url, E));
    if (strncmp(transport, "link-", 5) == 0)
        TRY("size_threshold", nb_send_options_set_size_threshold(*out, 1, E));
    return 0;
}

/* One table column's values, across the stream's batches. */
static int write_column(nb_json_writer *w, const struct ArrowSchema *f, struct ArrowArray *batches, size_t n, size_t c) {
    TRY("json", nb_json_writer_begin_array(w, E));
    for (size_t b = 0; b < n; b++) {
        const struct ArrowArray *a = batches[b].children[c];
        const uint8_t *valid = a->buffers[0];
        for (int64_t r = 0; r < a->length; r++) {
            int64_t i = r + a->offset;
            if (valid && !(valid[i / 8] >> (i % 8) & 1)) {
                TRY("json", nb_json_writer_null(w, E));
            } else if (strcmp(f->format, "l") == 0) {
                TRY("json", nb_json_writer_int64(w, ((const int64_t *)a->buffers[1])[i], E));
            } else if (strcmp(f->format, "g") == 0) {
                TRY("json", nb_json_writer_float64(w, ((const double *)a->buffers[1])[i], E));
            } else if (strcmp(f->format, "b") == 0) {
                const uint8_t *bits = a->buffers[1];
                TRY("json", nb_json_writer_bool(w, bits[i / 8] >> (i % 8) & 1, E));
            } else if (strcmp(f->format, "u") == 0) {
                const int32_t *off = a->buffers[1];
                if (str(w, (const char *)a->buffers[2] + off[i], (size_t)(off[i + 1] - off[i]))) return -1;
            } else {
                snprintf(failure, sizeof failure, "column format %s not read by this driver", f->format);
                return -1;
            }
        }
    }
    TRY("json", nb_json_writer_end_array(w, E));
    return 0;
}

static const char *canonical_type(const char *format) {
    if (strcmp(format, "l") == 0) return "int64";
    if (strcmp(format, "g") == 0) return "float64";
    if (strcmp(format, "b") == 0) return "bool";
    if (strcmp(format, "u") == 0 || strcmp(format, "U") == 0) return "utf8";
    return format;
}

static int write_table(nb_json_writer *w, const nb_envelope *env, size_t index) {
    nb_table *t = NULL;
    TRY("table", nb_envelope_payload_table(env, index, &t, E));
    struct ArrowArrayStream stream;
    nb_error *err = NULL;
    if (nb_table_export_stream(t, &stream, &err) != NB_OK) {
        nb_table_free(t);
        return fail("export stream", err);
    }
    nb_table_free(t);
    struct ArrowSchema schema;
    struct ArrowArray batches[64];
    size_t n = 0;
    int rc = stream.get_schema(&stream, &schema) ? -1 : 0;
    while (rc == 0 && n < 64) {
        if (stream.get_next(&stream, &batches[n])) rc = -1;
        else if (!batches[n].release) break;
        else n++;
    }
    if (rc) snprintf(failure, sizeof failure, "arrow stream: %s", stream.get_last_error(&stream));
    if (rc == 0) rc = key(w, "schema");
    if (rc == 0 && nb_json_writer_begin_array(w, &err) != NB_OK) rc = fail("json", err);
    for (int64_t c = 0; rc == 0 && c < schema.n_children; c++) {
        const struct ArrowSchema *f = schema.children[c];
        const char *ty = canonical_type(f->format);
        if (nb_json_writer_begin_array(w, &err) != NB_OK || str(w, f->name, strlen(f->name)) ||
            str(w, ty, strlen(ty)) || nb_json_writer_end_array(w, &err) != NB_OK)
            rc = fail("json", err);
    }
    if (rc == 0 && nb_json_writer_end_array(w, &err) != NB_OK) rc = fail("json", err);
    if (rc == 0) rc = key(w, "columns");
    if (rc == 0 && nb_json_writer_begin_object(w, &err) != NB_OK) rc = fail("json", err);
    for (int64_t c = 0; rc == 0 && c < schema.n_children; c++) {
        rc = key(w, schema.children[c]->name);
        if (rc == 0) rc = write_column(w, schema.children[c], batches, n, (size_t)c);
    }
    if (rc == 0 && nb_json_writer_end_object(w, &err) != NB_OK) rc = fail("json", err);
    for (size_t b = 0; b < n; b++) batches[b].release(&batches[b]);
    if (schema.release) schema.release(&schema);
    stream.release(&stream);
    return rc;
}

/* "payloads": the canonical form of every payload of an envelope. */
static int write_payloads(nb_json_writer *w, const nb_envelope *env) {
    if (key(w, "payloads")) return -1;
    TRY("json", nb_json_writer_begin_array(w, E));
    for (size_t i = 0; i < nb_envelope_payload_count(env); i++) {
        nb_payload_view v;
        TRY("payload", nb_envelope_payload(env, i, &v, E));
        TRY("json", nb_json_writer_begin_object(w, E));
        if (key(w, "dataname") || str(w, v.dataname, strlen(v.dataname))) return -1;
        if (key(w, "type") || str(w, v.type, strlen(v.type))) return -1;
        if (strcmp(v.type, "text") == 0) {
            if (key(w, "text") || str(w, (const char *)v.data, v.len)) return -1;
        } else if (strcmp(v.type, "dictionary") == 0) {
            nb_json *parsed = NULL;
            TRY("dictionary", nb_json_parse(v.data, v.len, &parsed, E));
            int rc = key(w, "json");
            if (rc == 0) rc = copy_json(w, parsed);
            nb_json_free(parsed);
            if (rc) return rc;
        } else if (strcmp(v.type, "table") == 0) {
            if (key(w, "table")) return -1;
            TRY("json", nb_json_writer_begin_object(w, E));
            if (write_table(w, env, i)) return -1;
            TRY("json", nb_json_writer_end_object(w, E));
        } else {
            size_t len;
            char *b = b64_encode(v.data, v.len, &len);
            if (key(w, "b64") || str(w, b, len)) return -1;
        }
        TRY("json", nb_json_writer_end_object(w, E));
    }
    TRY("json", nb_json_writer_end_array(w, E));
    return 0;
}

static nb_subscription *take_sub(const char *subject) {
    for (size_t i = 0; i < MAX_SUBS; i++)
        if (subs[i].subject && strcmp(subs[i].subject, subject) == 0) {
            nb_subscription *s = subs[i].sub;
            free(subs[i].subject);
            subs[i].subject = NULL;
            return s;
        }
    return NULL;
}

static int take(const nb_json *op, nb_envelope **env) {
    nb_subscription *s = take_sub(text(op, "subject", NULL));
    if (!s) return fail("not subscribed", NULL);
    nb_error *err = NULL;
    int rc = 0;
    uint64_t ms = (uint64_t)nb_json_int64(member(op, "timeout_ms"));
    if (nb_subscription_next(s, ms, env, &err) != NB_OK) rc = fail("next", err);
    else if (!*env) rc = fail("nothing within the timeout", NULL);
    nb_subscription_free(s);
    return rc;
}

static int handle(const nb_json *op, nb_json_writer *w) {
    char *kind = text(op, "op", NULL), *subject = text(op, "subject", NULL);
    nb_send_payload payloads[MAX_PAYLOADS];
    size_t count = 0;
    if (strcmp(kind, "subscribe") == 0) {
        size_t i = 0;
        while (i < MAX_SUBS && subs[i].subject) i++;
        if (i == MAX_SUBS) return fail("too many subscriptions", NULL);
        TRY("subscribe", nb_client_subscribe(client, subject, NULL, &subs[i].sub, E));
        TRY("flush", nb_client_flush(client, E));
        subs[i].subject = strdup(subject);
        return 0;
    }
    if (strcmp(kind, "send") == 0 || strcmp(kind, "request") == 0) {
        nb_send_options *opts = NULL;
        if (outgoing(member(op, "payloads"), payloads, &count) || send_options(op, &opts)) return -1;
        nb_error *err = NULL;
        int rc = 0;
        if (kind[0] == 's') {
            if (nb_client_send(client, subject, payloads, count, opts, NULL, &err) != NB_OK) rc = fail("send", err);
        } else {
            nb_envelope *reply = NULL;
            uint64_t ms = (uint64_t)nb_json_int64(member(op, "timeout_ms"));
            if (nb_client_request(client, subject, payloads, count, opts, ms, NULL, &reply, &err) != NB_OK)
                rc = fail("request", err);
            else
                rc = write_payloads(w, reply);
            nb_envelope_free(reply);
        }
        nb_send_options_free(opts);
        return rc;
    }
    if (strcmp(kind, "receive") == 0 || strcmp(kind, "answer") == 0) {
        nb_envelope *env = NULL;
        if (take(op, &env)) return -1;
        int rc = write_payloads(w, env);
        if (rc == 0 && kind[0] == 'a') {
            /* Echo: the request's payloads back, as received (tables as their IPC bytes). */
            count = nb_envelope_payload_count(env);
            for (size_t i = 0; i < count && i < MAX_PAYLOADS; i++) {
                nb_payload_view v;
                nb_error *err = NULL;
                if (nb_envelope_payload(env, i, &v, &err) != NB_OK) { rc = fail("payload", err); break; }
                payloads[i] = (nb_send_payload){.dataname = v.dataname, .type = v.type, .data = v.data, .len = v.len};
            }
            nb_send_options *opts = NULL;
            if (rc == 0) rc = send_options(op, &opts);
            nb_error *err = NULL;
            if (rc == 0 && nb_client_reply(client, env, payloads, count, opts, NULL, &err) != NB_OK) rc = fail("reply", err);
            nb_send_options_free(opts);
        }
        nb_envelope_free(env);
        return rc;
    }
    snprintf(failure, sizeof failure, "unknown op %s", kind);
    return -1;
}

int main(void) {
    fileserver_url = getenv("FILESERVER_URL");
    nb_error *err = NULL;
    if (nb_client_connect(getenv("NATS_URL"), NULL, &client, &err) != NB_OK) {
        fprintf(stderr, "connect: %s\n", nb_error_message(err));
        return 1;
    }
    printf("{\"ready\":\"c\"}\n");
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        nb_json *op = NULL;
        if (nb_json_parse((const uint8_t *)line, (size_t)len, &op, &err) != NB_OK) {
            fprintf(stderr, "bad line: %s\n", nb_error_message(err));
            return 1;
        }
        size_t kl;
        const char *kind = nb_json_string(member(op, "op"), &kl);
        if (kind && kl == 4 && memcmp(kind, "quit", 4) == 0) {
            nb_json_free(op);
            break;
        }
        nb_json_writer *w = NULL;
        char *out = NULL;
        failure[0] = 0;
        nb_json_writer_new(&w, NULL);
        nb_json_writer_begin_object(w, NULL);
        int rc = handle(op, w);
        if (rc == 0) {
            nb_json_writer_key(w, "ok", 2, NULL);
            nb_json_writer_bool(w, true, NULL);
            nb_json_writer_end_object(w, NULL);
            rc = nb_json_writer_finish(w, &out, &err) == NB_OK ? 0 : fail("json", err);
        }
        nb_json_writer_free(w);
        if (rc == 0) {
            printf("%s\n", out);
        } else {
            /* Report the failure with a fresh writer (the op's may be mid-object). */
            nb_json_writer *e = NULL;
            char *msg = NULL;
            nb_json_writer_new(&e, NULL);
            nb_json_writer_begin_object(e, NULL);
            nb_json_writer_key(e, "ok", 2, NULL);
            nb_json_writer_bool(e, false, NULL);
            nb_json_writer_key(e, "error", 5, NULL);
            nb_json_writer_string(e, failure, strlen(failure), NULL);
            nb_json_writer_end_object(e, NULL);
            nb_json_writer_finish(e, &msg, NULL);
            printf("%s\n", msg ? msg : "{\"ok\":false,\"error\":\"?\"}");
            nb_string_free(msg);
            nb_json_writer_free(e);
        }
        fflush(stdout);
        nb_string_free(out);
        nb_json_free(op);
        release_owned();
    }
    free(line);
    nb_client_close(client, NULL);
    nb_client_free(client);
    return 0;
}
