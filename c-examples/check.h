/*
 * check.h - the tiny assertion helpers the OMcache examples use
 *
 * A failed check prints file:line, the expression and (for return codes)
 * the omcache_strerror() text of both the code received and the one
 * expected, then carries on so that one run shows every problem.  Each
 * example ends with `return check_summary(argv[0]);`, which prints how many
 * checks ran and exits non-zero if any failed.
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#ifndef OMCACHE_EXAMPLE_CHECK_H
#define OMCACHE_EXAMPLE_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omcache.h>

static int checks_run = 0;
static int checks_failed = 0;

/* Expect the return code `want` from the expression `call`. */
#define CHECK_RC(call, want) do { \
        int rc_got_ = (call); \
        int rc_want_ = (want); \
        checks_run++; \
        if (rc_got_ != rc_want_) { \
            checks_failed++; \
            fprintf(stderr, "%s:%d: %s\n    got %d (%s), expected %d (%s)\n", \
                    __FILE__, __LINE__, #call, \
                    rc_got_, omcache_strerror(rc_got_), \
                    rc_want_, omcache_strerror(rc_want_)); \
        } \
    } while (0)

/* Expect a true condition; `...` is a printf-style explanation. */
#define CHECK(cond, ...) do { \
        checks_run++; \
        if (!(cond)) { \
            checks_failed++; \
            fprintf(stderr, "%s:%d: check failed: %s\n    ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            fprintf(stderr, "\n"); \
        } \
    } while (0)

/* Give up on the example: the rest depends on this having worked. */
#define REQUIRE(cond, ...) do { \
        checks_run++; \
        if (!(cond)) { \
            checks_failed++; \
            fprintf(stderr, "%s:%d: required: %s\n    ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            fprintf(stderr, "\n%s:%d: cannot continue\n", __FILE__, __LINE__); \
            check_summary(__FILE__); \
            exit(1); \
        } \
    } while (0)

/* Convenience: keys and values as C strings. */
#define K(s) ((const unsigned char *) (s)), strlen(s)

static inline int check_summary(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    printf("%s: %d checks, %d failed\n", base, checks_run, checks_failed);
    return checks_failed ? 1 : 0;
}

/* The example's server list: argv[1], or $OMCACHE_SERVERS. */
static inline const char *servers_arg(int argc, char **argv, int i)
{
    const char *s = argc > i ? argv[i] : NULL;
    if (s == NULL && i == 1)
        s = getenv("OMCACHE_SERVERS");
    if (s == NULL || *s == '\0') {
        fprintf(stderr, "usage: %s SERVERS ...   (e.g. 127.0.0.1:11211,127.0.0.1:11212)\n", argv[0]);
        exit(2);
    }
    return s;
}

#endif /* !OMCACHE_EXAMPLE_CHECK_H */
