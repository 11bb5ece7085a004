/* lmc_fetch.c - libmemcached 1.1.4's retrieval family through one scenario: mget / fetch /
 * fetch_result (results on the stack, allocated by the library, and in a caller's heap array
 * of stride sizeof(memcached_result_st) like pylibmc's), fetch_execute, mget_execute, CAS,
 * get_by_key, the result accessors, clone and quit, over the text and the binary protocol,
 * with misses, 0-byte and 1 MB values.  Built against Debian's headers and run once with
 * Debian's libmemcached.so.11 and once with ours (tests-c/lmc-fetch.sh): the two transcripts
 * must be identical.  Pointers are printed as relations ("embedded", "same", "new"), never
 * as addresses.
 *
 *   lmc_fetch PORT
 */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static memcached_st *g_memc;
static const char *rcname(memcached_return_t rc) { return memcached_strerror(NULL, rc); }

/* Where a result lives, relative to the handle. */
static const char *where(const memcached_result_st *r, const void *caller) {
    if (r == NULL) return "NULL";
    if (r == caller) return "same";
    if ((const char *)r == (const char *)g_memc + 160) return "embedded";
    return "new";
}

static void show_bytes(const char *v, size_t len) {
    size_t sum = 0;
    for (size_t i = 0; i < len; i++) sum = sum * 31 + (unsigned char)v[i];
    if (len <= 16) printf(" value='%.*s'", (int)len, v);
    else printf(" value=%zu bytes sum=%zu", len, sum);
}

static void show_value(const char *v, size_t len) {
    if (v == NULL) { printf(" value=NULL"); return; }
    size_t sum = 0;
    for (size_t i = 0; i < len; i++) sum = sum * 31 + (unsigned char)v[i];
    if (len <= 16) printf(" value='%.*s'", (int)len, v);
    else printf(" value=%zu bytes sum=%zu", len, sum);
    printf(" nul=%d", v[len] == 0);
}

static void show_result(const char *tag, const memcached_result_st *r, int show_cas) {
    printf("%s key='%.*s' klen=%zu len=%zu flags=%u", tag, (int)memcached_result_key_length(r),
           memcached_result_key_value(r), memcached_result_key_length(r),
           memcached_result_length(r), memcached_result_flags(r));
    if (memcached_result_length(r)) show_bytes(memcached_result_value(r), memcached_result_length(r));
    if (show_cas) printf(" cas=%s", memcached_result_cas(r) ? "set" : "0");
    printf("\n");
}

static const char *keys[] = {"alpha", "missing-1", "empty", "big", "beta", "missing-2"};
static size_t lens[6];
enum { NKEYS = 6 };

static void mget(memcached_st *m, const char *tag) {
    memcached_return_t rc = memcached_mget(m, keys, lens, NKEYS);
    printf("%s mget: %s\n", tag, rcname(rc));
}

/* memcached_fetch: key into a buffer of exactly the longest key's length, with canaries. */
static void fetch_loop(memcached_st *m, const char *tag) {
    for (int n = 0;; n++) {
        char buf[64 + 5 + 64];
        memset(buf, '#', sizeof buf);
        char *key = buf + 64;
        size_t klen = 999, vlen = 999;
        uint32_t flags = 999;
        memcached_return_t rc;
        char *v = memcached_fetch(m, key, &klen, &vlen, &flags, &rc);
        int canary_ok = 1;
        for (int i = 0; i < 64; i++) canary_ok &= buf[i] == '#';
        for (size_t i = 64 + (klen < 64 ? klen : 0); i < sizeof buf; i++) canary_ok &= buf[i] == '#' || i == 64;
        printf("%s fetch %d: %s klen=%zu vlen=%zu flags=%u key0=%d canary=%d", tag, n, rcname(rc),
               klen, vlen, flags, v || rc == MEMCACHED_SUCCESS ? -1 : key[0], canary_ok);
        if (v) printf(" key='%.*s'", (int)klen, key);
        show_value(v, vlen);
        printf("\n");
        free(v);
        if (v == NULL && rc != MEMCACHED_SUCCESS) {
            printf("%s last_error: %s\n", tag, rcname(memcached_last_error(m)));
            break;
        }
        if (n > 20) break;
    }
}

static void fetch_result_stack(memcached_st *m, const char *tag) {
    memcached_result_st res;
    memset(&res, 0x5a, sizeof res);
    memcached_result_st *r = memcached_result_create(m, &res);
    printf("%s create: %s\n", tag, where(r, &res));
    for (int n = 0; n < 20; n++) {
        memcached_return_t rc;
        memcached_result_st *got = memcached_fetch_result(m, &res, &rc);
        printf("%s fetch_result %d: %s %s last_error=%s\n", tag, n, rcname(rc), where(got, &res),
               rcname(memcached_last_error(m)));
        if (got == NULL) break;
        show_result(tag, got, 0);
    }
    memcached_result_free(&res);
}

static void fetch_result_null(memcached_st *m, const char *tag) {
    for (int n = 0; n < 20; n++) {
        memcached_return_t rc;
        memcached_result_st *got = memcached_fetch_result(m, NULL, &rc);
        printf("%s fetch_result(NULL) %d: %s %s\n", tag, n, rcname(rc), where(got, NULL));
        if (got == NULL) break;
        show_result(tag, got, 0);
        if (where(got, NULL)[0] == 'n') memcached_result_free(got);
    }
}

/* pylibmc's _fetch_multi: an array of nkeys + 1 results, each created in place. */
static void fetch_result_array(memcached_st *m, const char *tag) {
    memcached_result_st *results = malloc(sizeof(memcached_result_st) * (NKEYS + 1));
    memset(results, 0xa5, sizeof(memcached_result_st) * (NKEYS + 1));
    int i;
    for (i = 0; i <= NKEYS; i++) {
        memcached_result_st *res = memcached_result_create(m, &results[i]);
        memcached_return_t rc;
        memcached_result_st *got = memcached_fetch_result(m, res, &rc);
        printf("%s array[%d]: %s %s\n", tag, i, rcname(rc), where(got, &results[i]));
        if (got == NULL) break;
        show_result(tag, got, 0);
    }
    for (int j = 0; j < i; j++) memcached_result_free(&results[j]);
    free(results);
}

static int calls;
static memcached_return_t cb_print(const memcached_st *m, memcached_result_st *r, void *ctx) {
    (void)m;
    calls++;
    char tag[64];
    snprintf(tag, sizeof tag, "  cb1[%s]", (const char *)ctx);
    show_result(tag, r, 0);
    return MEMCACHED_SUCCESS;
}
static memcached_return_t cb_count(const memcached_st *m, memcached_result_st *r, void *ctx) {
    (void)m; (void)r; (void)ctx;
    calls += 100;
    return MEMCACHED_SUCCESS;
}
static memcached_return_t cb_stop(const memcached_st *m, memcached_result_st *r, void *ctx) {
    (void)m; (void)r; (void)ctx;
    calls += 10000;
    return MEMCACHED_FAILURE;
}

static void set(memcached_st *m, const char *key, const char *v, size_t len, uint32_t flags) {
    memcached_return_t rc = memcached_set(m, key, strlen(key), v, len, 0, flags);
    printf("set %s (%zu bytes): %s\n", key, len, rcname(rc));
}

static void scenario(in_port_t port, int binary) {
    memcached_st stack_memc;
    memcached_st *m = memcached_create(&stack_memc);
    g_memc = m;
    char tag[32];
    snprintf(tag, sizeof tag, "[%s]", binary ? "binary" : "text");
    printf("== %s\n", tag);
    memcached_server_add(m, "127.0.0.1", port);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, binary);
    memcached_return_t rc = memcached_flush(m, 0);
    printf("flush: %s\n", rcname(rc));

    /* Before any mget. */
    { char key[256]; size_t kl = 7, vl = 7; uint32_t f = 7;
      char *v = memcached_fetch(m, key, &kl, &vl, &f, &rc);
      printf("fetch before mget: %s v=%s kl=%zu vl=%zu f=%u\n", rcname(rc), v ? "set" : "NULL", kl, vl, f); }
    { memcached_result_st *r = memcached_fetch_result(m, NULL, &rc);
      printf("fetch_result before mget: %s %s\n", rcname(rc), where(r, NULL));
      if (r && where(r, NULL)[0] == 'n') memcached_result_free(r); }

    /* All misses. */
    mget(m, "miss");
    fetch_loop(m, "miss");
    mget(m, "miss");
    fetch_result_stack(m, "miss");
    mget(m, "miss");
    fetch_result_array(m, "miss");

    set(m, "alpha", "first value", 11, 1);
    set(m, "empty", "", 0, 2);
    char *big = malloc(1000 * 1000);
    for (int i = 0; i < 1000 * 1000; i++) big[i] = (char)('a' + i % 26);
    set(m, "big", big, 1000 * 1000, 3);
    set(m, "beta", "second", 6, 4);

    mget(m, "fetch");
    fetch_loop(m, "fetch");
    fetch_loop(m, "again");
    mget(m, "stack");
    fetch_result_stack(m, "stack");
    mget(m, "null");
    fetch_result_null(m, "null");
    mget(m, "null2");
    fetch_result_null(m, "null2");
    mget(m, "array");
    fetch_result_array(m, "array");
    /* A partial fetch, then a new mget: the rest is dropped. */
    mget(m, "partial");
    { size_t kl, vl; uint32_t f; char key[256];
      char *v = memcached_fetch(m, key, &kl, &vl, &f, &rc);
      printf("partial first: %s key='%.*s'\n", rcname(rc), (int)kl, key); free(v); }
    mget(m, "after-partial");
    fetch_loop(m, "after-partial");
    /* A get in the middle of a fetch: 1.1.4 loses the rest of the fetch, ours hands it out
     * after the get (lmc-fetch.sh compares these lines apart). */
    mget(m, "mid");
    { size_t kl, vl; uint32_t f; char key[256];
      char *v = memcached_fetch(m, key, &kl, &vl, &f, &rc);
      printf("mid first: %s key='%.*s'\n", rcname(rc), (int)kl, key); free(v);
      v = memcached_get(m, "beta", 4, &vl, &f, &rc);
      printf("mid get: %s ", rcname(rc)); show_value(v, vl); printf("\n"); free(v); }
    fetch_loop(m, "mid");

    /* fetch_execute. */
    mget(m, "exec");
    memcached_execute_fn fns[] = {cb_print, cb_count};
    calls = 0;
    rc = memcached_fetch_execute(m, fns, (void *)"exec", 2);
    printf("fetch_execute: %s calls=%d\n", rcname(rc), calls);
    calls = 0;
    rc = memcached_fetch_execute(m, fns, (void *)"exec", 2);
    printf("fetch_execute again: %s calls=%d\n", rcname(rc), calls);
    mget(m, "exec-stop");
    memcached_execute_fn stop[] = {cb_stop, cb_count};
    calls = 0;
    rc = memcached_fetch_execute(m, stop, NULL, 2);
    printf("fetch_execute stop: %s calls=%d\n", rcname(rc), calls);
    fetch_loop(m, "after-stop");

    /* mget_execute. */
    calls = 0;
    rc = memcached_mget_execute(m, keys, lens, NKEYS, fns, (void *)"mexec", 2);
    printf("mget_execute: %s calls=%d\n", rcname(rc), calls);
    calls = 0;
    rc = memcached_fetch_execute(m, fns, (void *)"fexec", 1);
    printf("fetch_execute after mget_execute: %s calls=%d\n", rcname(rc), calls);
    calls = 0;
    rc = memcached_mget_execute_by_key(m, "group", 5, keys, lens, NKEYS, fns, (void *)"mexec", 1);
    printf("mget_execute_by_key: %s calls=%d\n", rcname(rc), calls);
    fetch_loop(m, "after-mget-exec");

    /* by key. */
    rc = memcached_mget_by_key(m, "group", 5, keys, lens, NKEYS);
    printf("mget_by_key: %s\n", rcname(rc));
    fetch_loop(m, "by-key");
    { size_t vl; uint32_t f;
      char *v = memcached_get_by_key(m, "group", 5, "beta", 4, &vl, &f, &rc);
      printf("get_by_key beta: %s flags=%u", rcname(rc), f); show_value(v, vl); printf("\n"); free(v);
      v = memcached_get_by_key(m, "group", 5, "nothere", 7, &vl, &f, &rc);
      printf("get_by_key nothere: %s vl=%zu v=%s\n", rcname(rc), vl, v ? "set" : "NULL"); free(v);
      v = memcached_get_by_key(m, "group", 5, "empty", 5, &vl, &f, &rc);
      printf("get_by_key empty: %s vl=%zu flags=%u v=%s\n", rcname(rc), vl, f, v ? "set" : "NULL"); free(v); }

    /* CAS. */
    for (int cas_on = 0; cas_on <= 1; cas_on++) {
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SUPPORT_CAS, cas_on);
        const char *one[] = {"alpha"};
        size_t one_len[] = {5};
        rc = memcached_mget(m, one, one_len, 1);
        memcached_result_st res;
        memcached_result_create(m, &res);
        memcached_result_st *r = memcached_fetch_result(m, &res, &rc);
        printf("cas=%d fetch: %s", cas_on, rcname(rc));
        uint64_t cas = 0;
        if (r) {
            show_result("", r, 1);
            cas = memcached_result_cas(r);
        } else printf("\n");
        r = memcached_fetch_result(m, &res, &rc);
        printf("cas=%d end: %s %s\n", cas_on, rcname(rc), where(r, &res));
        /* A cas of 0 desyncs the real library over text (ERROR, then an assertion). */
        if (cas != 0) {
            rc = memcached_cas(m, "alpha", 5, "cas value", 9, 0, 5, cas);
            printf("cas=%d cas(good): %s\n", cas_on, rcname(rc));
            rc = memcached_cas(m, "alpha", 5, "cas value", 9, 0, 5, cas);
            printf("cas=%d cas(stale): %s\n", cas_on, rcname(rc));
        }
        memcached_result_free(&res);
    }
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 0);
    set(m, "alpha", "first value", 11, 1);

    /* Result accessors on a heap result. */
    {
        memcached_result_st *r = memcached_result_create(m, NULL);
        printf("heap create: %s key_len=%zu len=%zu flags=%u cas=%llu value=%s\n", where(r, NULL),
               memcached_result_key_length(r), memcached_result_length(r), memcached_result_flags(r),
               (unsigned long long)memcached_result_cas(r), memcached_result_value(r) ? "set" : "NULL");
        rc = memcached_result_set_value(r, "abc", 3);
        printf("set_value: %s len=%zu", rcname(rc), memcached_result_length(r));
        show_bytes(memcached_result_value(r), memcached_result_length(r)); printf("\n");
        rc = memcached_result_set_value(r, "defg", 4);
        printf("set_value again: %s len=%zu", rcname(rc), memcached_result_length(r));
        show_bytes(memcached_result_value(r), memcached_result_length(r)); printf("\n");
        memcached_result_set_flags(r, 77);
        memcached_result_set_expiration(r, 1234);
        printf("flags=%u\n", memcached_result_flags(r));
        char *taken = memcached_result_take_value(r);
        printf("take_value: %s len after=%zu value after=%s\n", taken ? taken : "NULL",
               memcached_result_length(r), memcached_result_value(r) ? "set" : "NULL");
        free(taken);
        taken = memcached_result_take_value(r);
        printf("take_value empty: %s\n", taken ? "set" : "NULL");
        free(taken);
        memcached_result_set_value(r, "xyz", 3);
        memcached_result_reset(r);
        printf("reset: len=%zu flags=%u key_len=%zu\n", memcached_result_length(r),
               memcached_result_flags(r), memcached_result_key_length(r));
        memcached_result_free(r);
        memcached_result_free(NULL);
    }

    /* clone. */
    {
        memcached_st *c = memcached_clone(NULL, m);
        printf("clone(NULL): %s binary=%llu servers=%u\n", c ? "ok" : "NULL",
               (unsigned long long)memcached_behavior_get(c, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL),
               memcached_server_count(c));
        size_t vl; uint32_t f;
        char *v = memcached_get(c, "beta", 4, &vl, &f, &rc);
        printf("clone get: %s", rcname(rc)); show_value(v, vl); printf("\n"); free(v);
        mget(c, "clone");
        fetch_loop(c, "clone");
        memcached_free(c);
        memcached_st stack_clone;
        memset(&stack_clone, 0x77, sizeof stack_clone);
        c = memcached_clone(&stack_clone, m);
        printf("clone(stack): %s\n", c == &stack_clone ? "same" : "other");
        v = memcached_get(c, "alpha", 5, &vl, &f, &rc);
        printf("stack clone get: %s", rcname(rc)); show_value(v, vl); printf("\n"); free(v);
        memcached_free(c);
        memset(&stack_clone, 0, sizeof stack_clone);
        c = memcached_clone(&stack_clone, m);
        printf("clone(zeroed stack): %s\n", c == &stack_clone ? "same" : "other");
        v = memcached_get(c, "alpha", 5, &vl, &f, &rc);
        printf("zeroed clone get: %s", rcname(rc)); show_value(v, vl); printf("\n"); free(v);
        memcached_free(c);
        c = memcached_clone(NULL, NULL);
        printf("clone(NULL, NULL): %s servers=%u binary=%llu\n", c ? "ok" : "NULL",
               c ? memcached_server_count(c) : 0,
               c ? (unsigned long long)memcached_behavior_get(c, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL) : 0);
        memcached_free(c);
    }

    /* quit. */
    memcached_quit(m);
    printf("quit\n");
    {
        size_t vl; uint32_t f;
        char *v = memcached_get(m, "beta", 4, &vl, &f, &rc);
        printf("get after quit: %s", rcname(rc)); show_value(v, vl); printf("\n"); free(v);
        mget(m, "quit-mid");
        char key[256]; size_t kl;
        v = memcached_fetch(m, key, &kl, &vl, &f, &rc);
        printf("quit-mid first: %s\n", rcname(rc)); free(v);
        memcached_quit(m);
        fetch_loop(m, "after-quit-mid");
    }

    /* Corner cases of arguments. */
    rc = memcached_mget(m, keys, lens, 0);
    printf("mget 0 keys: %s\n", rcname(rc));
    fetch_loop(m, "zero");
    rc = memcached_mget(m, NULL, NULL, 1);
    printf("mget NULL keys: %s\n", rcname(rc));
    { const char *k2[] = {"alpha", ""}; size_t l2[] = {5, 0};
      rc = memcached_mget(m, k2, l2, 2);
      printf("mget empty key: %s\n", rcname(rc));
      fetch_loop(m, "empty-key"); }
    { char longkey[300]; memset(longkey, 'k', sizeof longkey);
      const char *k2[] = {"alpha", longkey}; size_t l2[] = {5, 251};
      rc = memcached_mget(m, k2, l2, 2);
      printf("mget 251-byte key: %s\n", rcname(rc));
      fetch_loop(m, "long-key");
      l2[1] = 250;
      rc = memcached_mget(m, k2, l2, 2);
      printf("mget 250-byte key: %s\n", rcname(rc));
      fetch_loop(m, "250-key"); }
    rc = memcached_fetch_execute(m, fns, NULL, 0);
    printf("fetch_execute none pending: %s\n", rcname(rc));

    free(big);
    memcached_free(m);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: lmc_fetch PORT\n"); return 2; }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < NKEYS; i++) lens[i] = strlen(keys[i]);
    in_port_t port = (in_port_t)atoi(argv[1]);
    scenario(port, 0);
    scenario(port, 1);
    printf("sizeof(memcached_result_st)=%zu\n", sizeof(memcached_result_st));
    return 0;
}
