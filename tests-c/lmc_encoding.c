/* lmc_encoding.c - memcached_set_encoding_key (AES-256-CBC) on one server, printed for comparing
 * Debian's libmemcached with ours. Usage: lmc_encoding PORT write|read|all
 *   write: stores values with the key (text and binary protocol);
 *   read:  reads them back with the key, and raw without it (hex);
 *   all:   the rest: append/prepend, a value that does not decrypt, empty values, mget,
 *          a clone (it keeps the key). */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char K[] = "0123456789abcdefghijklmnopqrstuvwxyz!"; /* 37 bytes */

static memcached_st *open_one(int port, int keyed, int binary) {
    memcached_st *m = memcached_create(NULL);
    memcached_server_add(m, "127.0.0.1", (in_port_t)port);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, (uint64_t)binary);
    if (keyed) {
        memcached_return_t rc = memcached_set_encoding_key(m, K, strlen(K));
        if (rc != MEMCACHED_SUCCESS) printf("set_encoding_key rc=%d\n", rc);
    }
    return m;
}

static void show_get(memcached_st *m, const char *tag, const char *key, int hex) {
    size_t len = 0; uint32_t flags = 0; memcached_return_t rc;
    char *v = memcached_get(m, key, strlen(key), &len, &flags, &rc);
    printf("%s get %s rc=%d len=%zu flags=%u ", tag, key, rc, len, flags);
    if (v && hex) { for (size_t i = 0; i < len; i++) printf("%02x", (unsigned char)v[i]); }
    else if (v) printf("'%.*s'", (int)len, v);
    else printf("(null)");
    printf("\n");
    free(v);
}

static void show_fetch(memcached_st *m, const char *tag, const char **keys, size_t n) {
    size_t lens[8];
    for (size_t i = 0; i < n; i++) lens[i] = strlen(keys[i]);
    memcached_return_t rc = memcached_mget(m, keys, lens, n);
    printf("%s mget rc=%d\n", tag, rc);
    memcached_result_st *r;
    while ((r = memcached_fetch_result(m, NULL, &rc)) != NULL) {
        printf("%s  fetch %.*s len=%zu '%.*s'\n", tag, (int)memcached_result_key_length(r),
               memcached_result_key_value(r), memcached_result_length(r),
               (int)memcached_result_length(r), memcached_result_value(r));
        memcached_result_free(r);
    }
    printf("%s  end rc=%d\n", tag, rc);
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    int port = atoi(argv[1]);
    const char *mode = argv[2];
    static const char *vals[] = {"", "a", "exactly 16 bytes", "a value of thirty-three bytes ...",
                                 "%s %d %% not a format"};
    char key[32];
    if (!strcmp(mode, "write")) {
        for (int bin = 0; bin < 2; bin++) {
            memcached_st *m = open_one(port, 1, bin);
            for (int i = 0; i < 5; i++) {
                snprintf(key, sizeof key, "enc:%d:%d", bin, i);
                memcached_return_t rc = memcached_set(m, key, strlen(key), vals[i], strlen(vals[i]), 0, (uint32_t)i);
                printf("set %s rc=%d\n", key, rc);
            }
            snprintf(key, sizeof key, "enc:%d:add", bin);
            printf("add rc=%d\n", memcached_add(m, key, strlen(key), "added", 5, 0, 0));
            snprintf(key, sizeof key, "enc:%d:byk", bin);
            printf("set_by_key rc=%d\n", memcached_set_by_key(m, "g", 1, key, strlen(key), "by key", 6, 0, 0));
            memcached_free(m);
        }
        return 0;
    }
    if (!strcmp(mode, "read")) {
        memcached_st *raw = open_one(port, 0, 0);
        for (int bin = 0; bin < 2; bin++) {
            memcached_st *m = open_one(port, 1, bin);
            for (int i = 0; i < 5; i++) {
                snprintf(key, sizeof key, "enc:%d:%d", bin, i);
                show_get(m, bin ? "bin" : "txt", key, bin);
                show_get(raw, "raw", key, 1);
            }
            snprintf(key, sizeof key, "enc:%d:add", bin);
            show_get(m, bin ? "bin" : "txt", key, bin);
            snprintf(key, sizeof key, "enc:%d:byk", bin);
            show_get(m, bin ? "bin" : "txt", key, bin);
            show_get(raw, "raw", key, 1);
            memcached_free(m);
        }
        memcached_free(raw);
        return 0;
    }
    /* all */
    memcached_st *raw = open_one(port, 0, 0);
    memcached_st *m = open_one(port, 1, 0);
    memcached_return_t rc = memcached_set(m, "x:1", 3, "one", 3, 0, 0);
    printf("set rc=%d\n", rc);
    rc = memcached_append(m, "x:1", 3, "more", 4, 0, 0);
    printf("append rc=%d %s\n", rc, memcached_last_error_message(m));
    printf("last error after append %d\n", memcached_last_error(m));
    printf("prepend rc=%d\n", memcached_prepend(m, "x:1", 3, "more", 4, 0, 0));
    printf("append_by_key rc=%d\n", memcached_append_by_key(m, "g", 1, "x:1", 3, "more", 4, 0, 0));
    show_get(m, "txt", "x:1", 0);
    printf("raw set rc=%d\n", memcached_set(raw, "x:bad", 5, "not encrypted!", 14, 0, 0));
    show_get(m, "txt", "x:bad", 0);
    printf("last error %d\n", memcached_last_error(m));
    printf("raw set16 rc=%d\n", memcached_set(raw, "x:bad16", 7, "sixteen bytes!!!", 16, 0, 0));
    show_get(m, "txt", "x:bad16", 0);
    printf("raw set32 rc=%d\n", memcached_set(raw, "x:bad32", 7, "thirty-two bytes of plain text!!", 32, 0, 0));
    show_get(m, "txt", "x:bad32", 0);
    printf("raw set empty rc=%d\n", memcached_set(raw, "x:empty", 7, "", 0, 0, 0));
    show_get(m, "txt", "x:empty", 0);
    uint64_t cas = 0;
    {
        const char *k1[] = {"x:1"}; size_t l1[] = {3};
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
        memcached_mget(m, k1, l1, 1);
        memcached_result_st *r = memcached_fetch_result(m, NULL, &rc);
        if (r) { cas = memcached_result_cas(r); memcached_result_free(r); }
        while ((r = memcached_fetch_result(m, NULL, &rc)) != NULL) memcached_result_free(r);
    }
    printf("cas rc=%d\n", memcached_cas(m, "x:1", 3, "cas'd", 5, 0, 0, cas));
    printf("replace rc=%d\n", memcached_replace(m, "x:1", 3, "replaced value", 14, 0, 0));
    const char *keys[] = {"x:1", "x:empty", "x:missing", "x:bad16", "x:bad", "x:1"};
    show_fetch(m, "txt", keys, 3);
    show_fetch(m, "txtbad", keys + 3, 1);
    show_fetch(m, "txtbad14", keys + 4, 2);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    show_get(m, "bin", "x:1", 1);
    show_fetch(m, "bin", keys, 1);
    {
        memcached_st *c = memcached_clone(NULL, m);
        memcached_behavior_set(c, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 0);
        printf("clone set rc=%d\n", memcached_set(c, "x:clone", 7, "from the clone", 14, 0, 0));
        show_get(c, "clone", "x:clone", 0);
        show_get(raw, "raw", "x:clone", 1);
        memcached_free(c);
    }
    printf("short key rc-ok=%d\n", memcached_set_encoding_key(m, "0123456789abcdefghijklmnopqrstuv", 32) == MEMCACHED_SUCCESS);
    memcached_free(m);
    memcached_free(raw);
    return 0;
}
