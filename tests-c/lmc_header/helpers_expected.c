/*
 * The inline helpers of the libmemcached / libhashkit headers against the
 * sets of the spec (README 3.3), written as plain numbers so that neither the
 * enum values nor the helpers of the header under test are trusted:
 *   success  = {SUCCESS 0, STORED 15, END 21, DELETED 22, VALUE 23, STAT 24,
 *               ITEM 25, BUFFERED 32}
 *   failed   = not success and not AUTH_CONTINUE 42
 *   fatal    = not {0, CLIENT_ERROR 9, ERROR 11, DATA_EXISTS 12, NOTSTORED 14,
 *               15, NOTFOUND 16, 21, 22, 23, 24, 25, 32, E2BIG 37, 42,
 *               SERVER_MEMORY_ALLOCATION_FAILURE 48}
 *   continue = IN_PROGRESS 46
 *   hashkit_success = HASHKIT_SUCCESS 0, hashkit_failed = the rest.
 * Every code from -2 to 60 is tried.  Compiled as C and as C++; exit status
 * 0 when everything agrees, else one line per disagreement.
 */
#include <libmemcached/memcached.h>

#include <stdio.h>

static int in(int rc, const int *set, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (set[i] == rc)
            return 1;
    return 0;
}

int main(void)
{
    static const int success[] = {0, 15, 21, 22, 23, 24, 25, 32};
    static const int not_fatal[] = {0, 9, 11, 12, 14, 15, 16, 21, 22, 23, 24, 25, 32, 37, 42, 48};
    int rc, bad = 0;

    for (rc = -2; rc <= 60; rc++) {
        memcached_return_t r = (memcached_return_t)rc;
        int s = in(rc, success, (int)(sizeof success / sizeof success[0]));
        int f = !s && rc != 42;
        int fa = !in(rc, not_fatal, (int)(sizeof not_fatal / sizeof not_fatal[0]));
        int c = rc == 46;
        if ((int)memcached_success(r) != s || (int)memcached_failed(r) != f ||
            (int)memcached_fatal(r) != fa || (int)(memcached_continue(r)) != c) {
            printf("rc %d: success %d/%d failed %d/%d fatal %d/%d continue %d/%d (got/expected)\n",
                   rc, (int)memcached_success(r), s, (int)memcached_failed(r), f,
                   (int)memcached_fatal(r), fa, (int)(memcached_continue(r)), c);
            bad++;
        }
    }
    for (rc = -1; rc <= 8; rc++) {
        hashkit_return_t r = (hashkit_return_t)rc;
        if ((int)hashkit_success(r) != (rc == 0) || (int)hashkit_failed(r) != (rc != 0)) {
            printf("hashkit rc %d: success %d failed %d\n", rc, (int)hashkit_success(r),
                   (int)hashkit_failed(r));
            bad++;
        }
    }
    return bad != 0;
}
