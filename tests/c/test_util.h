/*
 * Helpers shared by the C tests. Every test program keeps its handles in
 * variables initialised to NULL, jumps to its one `cleanup:` label on the
 * first failed check, and frees everything there (the free functions accept
 * NULL). The program's exit status is `failed`.
 */
#ifndef NATSBRIDGE_TEST_UTIL_H
#define NATSBRIDGE_TEST_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "natsbridge.h"

/* Fails the test (and jumps to cleanup) unless `cond` holds. */
#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            goto cleanup;                                                           \
        }                                                                           \
    } while (0)

/* Runs a natsbridge call that must succeed; `err` must be the test's
 * `nb_error *` passed to the call. */
#define CHECK_OK(call)                                                              \
    do {                                                                            \
        nb_status check_status_ = (call);                                           \
        if (check_status_ != NB_OK) {                                               \
            fprintf(stderr, "%s:%d: %s returned %d (%s): %s\n", __FILE__, __LINE__, \
                    #call, check_status_, nb_status_name(check_status_),            \
                    nb_error_message(err));                                         \
            goto cleanup;                                                           \
        }                                                                           \
    } while (0)

/* Runs a natsbridge call that must fail with `expected`, checks that it
 * produced an error object with that code and a message, and frees it. */
#define CHECK_FAILS(call, expected)                                                 \
    do {                                                                            \
        nb_status check_status_ = (call);                                           \
        if (check_status_ != (expected) || err == NULL ||                           \
            nb_error_code(err) != (expected) || nb_error_message(err)[0] == '\0') { \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s): %s\n",   \
                    __FILE__, __LINE__, #call, check_status_,                       \
                    nb_status_name(check_status_), (expected),                      \
                    nb_status_name(expected), nb_error_message(err));               \
            goto cleanup;                                                           \
        }                                                                           \
        nb_error_free(err);                                                         \
        err = NULL;                                                                 \
    } while (0)

/* An environment variable the runner (tests/c/run.sh) must set. */
static inline const char *test_env(const char *name) {
    const char *value = getenv(name);
    if (value == NULL || value[0] == '\0') {
        fprintf(stderr, "%s is not set: run the C tests with tests/c/run.sh\n", name);
        exit(2);
    }
    return value;
}

/* True when `len` bytes at `data` equal the NUL-terminated `text`. */
static inline int bytes_equal_text(const uint8_t *data, size_t len, const char *text) {
    return data != NULL && len == strlen(text) && memcmp(data, text, len) == 0;
}

/* True when `text` is non-NULL and equals `expected`. */
static inline int text_equals(const char *text, const char *expected) {
    return text != NULL && strcmp(text, expected) == 0;
}

/* A deadline `ms` milliseconds from now, for pthread_cond_timedwait. */
static inline struct timespec deadline_in(long ms) {
    struct timespec when;
    clock_gettime(CLOCK_REALTIME, &when);
    when.tv_sec += ms / 1000;
    when.tv_nsec += (ms % 1000) * 1000000L;
    if (when.tv_nsec >= 1000000000L) {
        when.tv_sec += 1;
        when.tv_nsec -= 1000000000L;
    }
    return when;
}

#endif /* NATSBRIDGE_TEST_UTIL_H */
