/*
 * fork.c - an omcache handle across fork().
 *
 * Usage: fork SERVER        (one memcached, e.g. 127.0.0.1:PORT; fork.sh)
 *
 * 1. omcache_init() + omcache_set_servers() open no socket and start no
 *    thread: /proc/self/fd and /proc/self/task are counted before and after.
 * 2. Fork before any I/O: the child sets and gets its own key on the
 *    inherited handle and exits 0 on success; then the parent does the same.
 * 3. Fork after the parent did I/O (its connection is open): parent and child
 *    then run ROUNDS set/get pairs each at the same time, every one with a
 *    value of its own.  The child must never see the parent's answers (with a
 *    shared socket the two processes would read each other's responses, and
 *    their request ids are the same, so nothing would notice); the parent
 *    must not see the child's.  A child gets fresh connections on its first
 *    call: the library notices the fork and forgets the inherited sockets
 *    (closing only the child's copies; the parent's connections are untouched).
 * 4. A child that forks again (grandchild) and the handle's use from both
 *    after the fork, in sequence: each process works with its own connection.
 *
 * Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
 */

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <omcache.h>

#define ROUNDS 2000
#define TIMEOUT 5000

static int failures = 0;

#define FAIL(...) do { \
        failures++; \
        fprintf(stderr, "fork[%ld]: ", (long) getpid()); \
        fprintf(stderr, __VA_ARGS__); \
        fputc('\n', stderr); \
    } while (0)

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "fork: opendir %s: %s\n", path, strerror(errno));
        exit(2);
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Sets "<tag>-<i>" to "<tag>-<i>-<pid>" and reads it back, `rounds` times.
 * Returns the number of wrong answers (printed). */
static int set_get(omcache_t *mc, const char *tag, int rounds)
{
    int bad = 0;
    for (int i = 0; i < rounds; i++) {
        char key[64], val[96];
        int klen = snprintf(key, sizeof key, "fork-%s-%d", tag, i);
        int vlen = snprintf(val, sizeof val, "%s-%ld", key, (long) getpid());
        int rc = omcache_set(mc, (const unsigned char *) key, (size_t) klen,
                             (const unsigned char *) val, (size_t) vlen, 0, (uint32_t) i, 0, TIMEOUT);
        if (rc != OMCACHE_OK) {
            FAIL("%s: set %s: %s", tag, key, omcache_strerror(rc));
            bad++;
            continue;
        }
        const unsigned char *got = NULL;
        size_t got_len = 0;
        uint32_t flags = 0;
        rc = omcache_get(mc, (const unsigned char *) key, (size_t) klen, &got, &got_len, &flags,
                         NULL, TIMEOUT);
        if (rc != OMCACHE_OK) {
            FAIL("%s: get %s: %s", tag, key, omcache_strerror(rc));
            bad++;
        } else if (got_len != (size_t) vlen || memcmp(got, val, got_len) != 0
                   || flags != (uint32_t) i) {
            FAIL("%s: get %s returned \"%.*s\" flags %u, expected \"%s\" flags %d", tag, key,
                 (int) got_len, (const char *) got, flags, val, i);
            bad++;
        }
        if (bad > 5)
            break;
    }
    return bad;
}

/* A thread that keeps making calls on a handle until told to stop. */
struct busy {
    omcache_t *mc;
    volatile int stop;
};

static void *keep_busy(void *arg)
{
    struct busy *b = arg;
    while (!b->stop) {
        const unsigned char *v;
        size_t len;
        omcache_get(b->mc, (const unsigned char *) "busy", 4, &v, &len, NULL, NULL, 1000);
    }
    return NULL;
}

/* Waits for `pid`; returns 1 when it exited 0. */
static int child_ok(pid_t pid, const char *what)
{
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        FAIL("%s: waitpid: %s", what, strerror(errno));
        return 0;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    if (WIFSIGNALED(status))
        FAIL("%s: child killed by signal %d", what, WTERMSIG(status));
    else
        FAIL("%s: child exited %d", what, WEXITSTATUS(status));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fork SERVER\n");
        return 2;
    }
    const char *servers = argv[1];

    /* 1. No socket, no thread before the first I/O. */
    int fds0 = count_dir("/proc/self/fd"), tasks0 = count_dir("/proc/self/task");
    omcache_t *mc = omcache_init();
    if (mc == NULL) {
        fprintf(stderr, "fork: omcache_init failed\n");
        return 2;
    }
    int rc = omcache_set_servers(mc, servers);
    if (rc != OMCACHE_OK) {
        fprintf(stderr, "fork: omcache_set_servers(%s): %s\n", servers, omcache_strerror(rc));
        return 2;
    }
    int fds1 = count_dir("/proc/self/fd"), tasks1 = count_dir("/proc/self/task");
    if (fds1 != fds0)
        FAIL("init + set_servers opened %d descriptors", fds1 - fds0);
    if (tasks1 != tasks0)
        FAIL("init + set_servers started %d threads", tasks1 - tasks0);
    printf("init + set_servers: %d -> %d descriptors, %d -> %d threads\n", fds0, fds1, tasks0,
           tasks1);

    /* 2. Fork before any I/O. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        int bad = set_get(mc, "child-first", 50);
        omcache_free(mc);
        _exit(bad == 0 && failures == 0 ? 0 : 1);
    }
    if (child_ok(pid, "fork before I/O"))
        printf("fork before I/O: the child's set/get work\n");
    if (set_get(mc, "parent-after-child", 50) == 0)
        printf("fork before I/O: the parent's set/get work afterwards\n");
    int fds2 = count_dir("/proc/self/fd");
    if (fds2 <= fds1)
        FAIL("the parent has no connection open after its I/O (%d descriptors)", fds2);

    /* 3. Fork after the parent's I/O; both processes use the handle at once. */
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        int bad = set_get(mc, "child", ROUNDS);
        /* 4. And once more, from the child's own connection. */
        fflush(NULL);
        pid_t gpid = fork();
        if (gpid == 0) {
            int gbad = set_get(mc, "grandchild", 50);
            omcache_free(mc);
            _exit(gbad == 0 && failures == 0 ? 0 : 1);
        }
        int gok = gpid > 0 && child_ok(gpid, "grandchild");
        bad += set_get(mc, "child-after-grandchild", 50);
        omcache_free(mc);
        _exit(bad == 0 && gok && failures == 0 ? 0 : 1);
    }
    int pbad = set_get(mc, "parent", ROUNDS);
    if (child_ok(pid, "fork after I/O, concurrent use") && pbad == 0)
        printf("fork after I/O: parent and child (and grandchild) each got only their own "
               "answers (%d set/get pairs each at once)\n", ROUNDS);

    /* 5. Fork while another thread is inside a call on the handle: that thread does not
     * exist in the child and never releases the handle; the child's call returns (at once,
     * OMCACHE_INVALID: the handle cannot be used there) instead of waiting forever. */
    struct busy b = { mc, 0 };
    pthread_t thread;
    if (pthread_create(&thread, NULL, keep_busy, &b) != 0) {
        FAIL("pthread_create");
    } else {
        for (int attempt = 0; attempt < 5; attempt++) {
            nanosleep(&(struct timespec) { 0, 20 * 1000 * 1000 }, NULL);
            fflush(NULL);
            pid = fork();
            if (pid == 0) {
                alarm(10); /* a hang ends as SIGALRM, reported by child_ok */
                const unsigned char *v;
                size_t len;
                int crc = omcache_get(mc, (const unsigned char *) "busy", 4, &v, &len, NULL, NULL,
                                      1000);
                _exit(crc == OMCACHE_INVALID || crc == OMCACHE_OK || crc == OMCACHE_NOT_FOUND
                          ? 0 : 1);
            }
            if (pid < 0 || !child_ok(pid, "fork while another thread is in a call"))
                break;
        }
        b.stop = 1;
        pthread_join(thread, NULL);
        printf("fork while another thread is in a call: the child's call returns\n");
    }

    omcache_free(mc);
    if (failures) {
        fprintf(stderr, "fork: %d failure(s)\n", failures);
        return 1;
    }
    printf("fork: all checks passed\n");
    return 0;
}
