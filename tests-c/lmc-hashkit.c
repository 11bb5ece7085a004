/*
 * lmc-hashkit.c - libhashkit's 33 functions and memcached_get/set_hashkit, as a transcript
 * that must be the same with Debian's libhashkit.so.2 / libmemcached.so.11 and with ours
 * substituted (tests-c/lmc-hashkit.sh runs it both ways and diffs).
 *
 *   lmc-hashkit vectors         every hash of 10,000 keys, one line per (key, path)
 *   lmc-hashkit api P1 P2 P3    the API transcript; P1..P3 are live memcached ports
 *
 * Built against Debian's headers with -lmemcached -lhashkit.
 */
#include <libmemcached/memcached.h>
#include <libhashkit-1.0/hashkit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 10000

/* Key i: 0..250 bytes; a third printable ASCII, a third any byte 1..255 (the signed-char
 * quirk of one-at-a-time and FNV), a third alphanumeric. Deterministic. */
static size_t make_key(unsigned i, char *buf) {
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint32_t x = 2463534242u ^ (i * 2654435761u);
    size_t len = i % 251;
    for (size_t j = 0; j < len; j++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        switch (i % 3) {
        case 0: buf[j] = (char)(0x21 + x % 94); break;
        case 1: buf[j] = (char)(1 + x % 255); break;
        default: buf[j] = alnum[x % 62]; break;
        }
    }
    buf[len] = 0;
    return len;
}

typedef uint32_t (*plain_fn)(const char *, size_t);

static int vectors(void) {
    static const struct { const char *name; plain_fn fn; } direct[] = {
        {"one_at_a_time", libhashkit_one_at_a_time}, {"md5", libhashkit_md5},
        {"crc32", libhashkit_crc32}, {"fnv1_64", libhashkit_fnv1_64},
        {"fnv1a_64", libhashkit_fnv1a_64}, {"fnv1_32", libhashkit_fnv1_32},
        {"fnv1a_32", libhashkit_fnv1a_32}, {"hsieh", libhashkit_hsieh},
        {"murmur", libhashkit_murmur}, {"murmur3", libhashkit_murmur3},
        {"jenkins", libhashkit_jenkins},
    };
    hashkit_st kits[HASHKIT_HASH_MAX];
    for (int a = 0; a < HASHKIT_HASH_MAX; a++) {
        hashkit_create(&kits[a]);
        hashkit_set_function(&kits[a], (hashkit_hash_algorithm_t)a);
    }
    char key[256];
    for (unsigned i = 0; i < NKEYS; i++) {
        size_t len = make_key(i, key);
        for (int a = 0; a < HASHKIT_HASH_MAX + 1; a++)
            printf("%u digest %d %u\n", i, a,
                   libhashkit_digest(key, len, (hashkit_hash_algorithm_t)a));
        for (size_t d = 0; d < sizeof direct / sizeof direct[0]; d++)
            printf("%u %s %u\n", i, direct[d].name, direct[d].fn(key, len));
        for (int a = 0; a < HASHKIT_HASH_MAX; a++)
            printf("%u kit %d %u\n", i, a, hashkit_digest(&kits[a], key, len));
        unsigned char sig[16];
        libhashkit_md5_signature((const unsigned char *)key, len, sig);
        printf("%u md5_signature ", i);
        for (int b = 0; b < 16; b++) printf("%02x", sig[b]);
        printf("\n");
    }
    for (int a = 0; a < HASHKIT_HASH_MAX; a++) hashkit_free(&kits[a]);
    return 0;
}

/* A caller's hash: the sum of the (unsigned) bytes times a context factor. */
static uint32_t byte_sum(const char *key, size_t len, void *context) {
    uint32_t factor = context ? *(const uint32_t *)context : 1, h = 0;
    for (size_t i = 0; i < len; i++) h += (unsigned char)key[i];
    return h * factor;
}

static void hex(const char *label, const char *s, size_t n) {
    printf("%s %zu ", label, n);
    for (size_t i = 0; i < n; i++) printf("%02x", (unsigned char)s[i]);
    printf("\n");
}

/* Which of the three servers each of `n` keys went to, by looking for it on each server
 * alone; printed as counts (a key found on no server or on two counts as -1). */
static void where_keys_are(const char *label, memcached_st *memc, const in_port_t ports[3], int n) {
    char key[64];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s-key-%d", label, i);
        memcached_return_t rc = memcached_set(memc, key, strlen(key), "v", 1, 0, 0);
        if (rc != MEMCACHED_SUCCESS) printf("%s set %d rc=%d\n", label, i, rc);
    }
    memcached_st *single[3];
    for (int s = 0; s < 3; s++) {
        single[s] = memcached_create(NULL);
        memcached_server_add(single[s], "127.0.0.1", ports[s]);
    }
    int counts[4] = {0, 0, 0, 0}, agree = 0;
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s-key-%d", label, i);
        int found = -1, hits = 0;
        for (int s = 0; s < 3; s++) {
            size_t vlen; uint32_t flags; memcached_return_t rc;
            char *v = memcached_get(single[s], key, strlen(key), &vlen, &flags, &rc);
            if (rc == MEMCACHED_SUCCESS) { found = s; hits++; }
            free(v);
        }
        counts[hits == 1 ? found : 3]++;
        if (hits == 1 && (uint32_t)found == memcached_generate_hash(memc, key, strlen(key))) agree++;
    }
    printf("%s: server0 %d server1 %d server2 %d nowhere/twice %d; generate_hash agrees %d/%d\n",
           label, counts[0], counts[1], counts[2], counts[3], agree, n);
    for (int s = 0; s < 3; s++) memcached_free(single[s]);
}

static int api(const in_port_t ports[3]) {
    /* create / free / clone / compare */
    hashkit_st stack, *heap = hashkit_create(NULL);
    memset(&stack, 0xab, sizeof stack);
    printf("create stack same=%d heap!=NULL %d\n", hashkit_create(&stack) == &stack, heap != NULL);
    printf("flags bit0 %d allocated bits %d %d\n", ((unsigned char *)&stack)[32] & 1,
           ((unsigned char *)&stack)[33] & 1, ((unsigned char *)heap)[33] & 1);
    printf("get %d dist %d NULL %d %d\n", hashkit_get_function(&stack),
           hashkit_get_distribution_function(&stack), hashkit_get_function(NULL),
           hashkit_get_distribution_function(NULL));
    printf("compare fresh %d NULL %d\n", hashkit_compare(&stack, heap), hashkit_compare(NULL, heap));
    for (int a = 0; a <= HASHKIT_HASH_MAX + 1; a++) {
        hashkit_return_t r = hashkit_set_function(&stack, (hashkit_hash_algorithm_t)a);
        hashkit_return_t d = hashkit_set_distribution_function(&stack, (hashkit_hash_algorithm_t)a);
        printf("set %d -> %d (%s) get %d; dist %d get %d; has %d name %s digest(hello) %u\n", a, r,
               hashkit_strerror(&stack, r), hashkit_get_function(&stack), d,
               hashkit_get_distribution_function(&stack),
               libhashkit_has_algorithm((hashkit_hash_algorithm_t)a),
               libhashkit_string_hash((hashkit_hash_algorithm_t)a),
               hashkit_digest(&stack, "hello", 5));
    }
    for (int r = 0; r <= HASHKIT_MAXIMUM_RETURN + 1; r++)
        printf("strerror %d %s\n", r, hashkit_strerror(NULL, (hashkit_return_t)r));
    hashkit_set_function(&stack, HASHKIT_HASH_MD5);
    hashkit_st *copy = hashkit_clone(NULL, &stack), *fresh = hashkit_clone(NULL, NULL);
    hashkit_st copy2;
    memset(&copy2, 0, sizeof copy2); /* libhashkit frees a key it finds in the destination */
    hashkit_clone(&copy2, &stack);
    printf("clone compare %d %d fresh-vs-heap %d copy-vs-fresh %d get %d %d allocated %d %d\n",
           hashkit_compare(copy, &stack), hashkit_compare(&copy2, &stack),
           hashkit_compare(fresh, heap), hashkit_compare(copy, fresh), hashkit_get_function(copy),
           hashkit_get_function(fresh), ((unsigned char *)copy)[33] & 1,
           ((unsigned char *)&copy2)[33] & 1);

    /* custom functions */
    uint32_t three = 3;
    printf("custom NULL fn %d NULL kit %d %d\n", hashkit_set_custom_function(&stack, NULL, NULL),
           hashkit_set_custom_function(NULL, byte_sum, NULL),
           hashkit_set_custom_distribution_function(NULL, byte_sum, NULL));
    printf("custom %d get %d digest(abc) %u\n", hashkit_set_custom_function(&stack, byte_sum, &three),
           hashkit_get_function(&stack), hashkit_digest(&stack, "abc", 3));
    printf("custom dist %d get %d\n", hashkit_set_custom_distribution_function(&stack, byte_sum, NULL),
           hashkit_get_distribution_function(&stack));
    hashkit_st *custom_copy = hashkit_clone(NULL, &stack);
    printf("custom clone compare %d digest %u\n", hashkit_compare(custom_copy, &stack),
           hashkit_digest(custom_copy, "abc", 3));

    /* encryption: the same bytes from both libraries (AES-256-CBC, memcached's key rule) */
    const char *k32 = "0123456789abcdef0123456789abcdef-and-more";
    printf("key %d\n", hashkit_key(heap, k32, strlen(k32)));
    const char *plain[] = {"", "x", "hello world", "0123456789abcdef", "a longer value of 40 bytes...........!"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        hashkit_string_st *e = hashkit_encrypt(heap, plain[i], strlen(plain[i]));
        hex("encrypt", hashkit_string_c_str(e), hashkit_string_length(e));
        hashkit_string_st *d = hashkit_decrypt(heap, hashkit_string_c_str(e), hashkit_string_length(e));
        const char *c = d ? hashkit_string_c_str(d) : NULL;
        size_t n = d ? hashkit_string_length(d) : 0;
        /* Debian's strings are not always NUL-terminated: print the length's worth. */
        printf("decrypt %s %zu '%.*s'%s\n", d ? "string" : "NULL", n, (int)n, c ? c : "",
               c ? "" : " (NULL c_str)");
        hashkit_string_free(e);
        hashkit_string_free(d);
    }
    hashkit_string_st *bad = hashkit_decrypt(heap, "not sixteen", 11);
    printf("decrypt bad %s\n", bad ? "string" : "NULL");
    hashkit_st *keyed_copy = hashkit_clone(NULL, heap);
    hashkit_string_st *e2 = hashkit_encrypt(keyed_copy, "clone", 5);
    hex("clone encrypt", hashkit_string_c_str(e2), hashkit_string_length(e2));
    hashkit_string_free(e2);

    hashkit_free(keyed_copy);
    hashkit_free(custom_copy);
    hashkit_free(copy);
    hashkit_free(&copy2);
    hashkit_free(fresh);
    hashkit_free(heap);
    hashkit_free(&stack);

    /* the handle's hashkit */
    memcached_st *memc = memcached_create(NULL);
    const hashkit_st *embedded = memcached_get_hashkit(memc);
    printf("get_hashkit at offset %td\n", (const char *)embedded - (const char *)memc);
    printf("embedded get %d dist %d digest(hello) %u\n", hashkit_get_function(embedded),
           hashkit_get_distribution_function(embedded), hashkit_digest(embedded, "hello", 5));
    hashkit_st md5kit;
    hashkit_create(&md5kit);
    printf("embedded vs fresh %d\n", hashkit_compare(embedded, &md5kit));
    hashkit_set_function(&md5kit, HASHKIT_HASH_MD5);
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_HASH, MEMCACHED_HASH_MD5);
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_KETAMA_HASH, MEMCACHED_HASH_CRC);
    printf("after HASH=MD5 KETAMA_HASH=CRC: get %d dist %d digest(hello) %u vs md5kit %d\n",
           hashkit_get_function(embedded), hashkit_get_distribution_function(embedded),
           hashkit_digest(embedded, "hello", 5), hashkit_compare(embedded, &md5kit));

    hashkit_st fnvkit;
    hashkit_create(&fnvkit);
    hashkit_set_function(&fnvkit, HASHKIT_HASH_FNV1A_32);
    for (in_port_t p = 0; p < 3; p++) memcached_server_add(memc, "127.0.0.1", ports[p]);
    printf("set_hashkit fnv1a_32 %d NULL handle %d\n", memcached_set_hashkit(memc, &fnvkit),
           memcached_set_hashkit(NULL, &fnvkit));
    printf("behavior HASH %llu KETAMA_HASH %llu get_key_hash %d\n",
           (unsigned long long)memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_HASH),
           (unsigned long long)memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_KETAMA_HASH),
           memcached_behavior_get_key_hash(memc));
    where_keys_are("modula-fnv1a_32", memc, ports, 300);

    uint32_t seven = 7;
    hashkit_st customkit;
    hashkit_create(&customkit);
    hashkit_set_custom_function(&customkit, byte_sum, &seven);
    hashkit_set_custom_distribution_function(&customkit, byte_sum, NULL);
    printf("set_hashkit custom %d\n", memcached_set_hashkit(memc, &customkit));
    printf("behavior HASH %llu KETAMA_HASH %llu embedded get %d dist %d digest(abc) %u compare %d\n",
           (unsigned long long)memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_HASH),
           (unsigned long long)memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_KETAMA_HASH),
           hashkit_get_function(memcached_get_hashkit(memc)),
           hashkit_get_distribution_function(memcached_get_hashkit(memc)),
           hashkit_digest(memcached_get_hashkit(memc), "abc", 3),
           hashkit_compare(memcached_get_hashkit(memc), &customkit));
    where_keys_are("modula-custom", memc, ports, 300);
    memcached_st *clone = memcached_clone(NULL, memc);
    printf("clone HASH %llu digest(abc) %u\n",
           (unsigned long long)memcached_behavior_get(clone, MEMCACHED_BEHAVIOR_HASH),
           hashkit_digest(memcached_get_hashkit(clone), "abc", 3));
    where_keys_are("clone-custom", clone, ports, 100);
    memcached_free(clone);

    /* a consistent distribution set after the custom hash: the continuum's points use it too */
    memcached_st *ketama = memcached_create(NULL);
    memcached_set_hashkit(ketama, &customkit);
    memcached_behavior_set(ketama, MEMCACHED_BEHAVIOR_DISTRIBUTION, MEMCACHED_DISTRIBUTION_CONSISTENT);
    for (in_port_t p = 0; p < 3; p++) memcached_server_add(ketama, "127.0.0.1", ports[p]);
    where_keys_are("consistent-custom", ketama, ports, 300);
    memcached_free(ketama);

    /* behavior HASH after a custom kit, and set_hashkit(NULL) */
    printf("HASH=JENKINS %d get %d\n",
           memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_HASH, MEMCACHED_HASH_JENKINS),
           hashkit_get_function(memcached_get_hashkit(memc)));
    printf("HASH=CUSTOM %d HSIEH %d\n",
           memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_HASH, MEMCACHED_HASH_CUSTOM),
           memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_HASH, MEMCACHED_HASH_HSIEH));
    where_keys_are("modula-jenkins", memc, ports, 300);
    /* the embedded kit changed directly is the handle's hash (libmemcached hashes with it) */
    hashkit_set_function((hashkit_st *)memcached_get_hashkit(memc), HASHKIT_HASH_MURMUR);
    printf("kit changed directly: HASH %llu\n",
           (unsigned long long)memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_HASH));
    where_keys_are("modula-murmur-direct", memc, ports, 300);
    printf("get_hashkit NULL %s\n", memcached_get_hashkit(NULL) ? "pointer" : "NULL");
    memcached_free(memc);
    hashkit_free(&md5kit);
    hashkit_free(&fnvkit);
    hashkit_free(&customkit);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (argc == 2 && strcmp(argv[1], "vectors") == 0) return vectors();
    if (argc == 5 && strcmp(argv[1], "api") == 0) {
        in_port_t ports[3] = {(in_port_t)atoi(argv[2]), (in_port_t)atoi(argv[3]),
                              (in_port_t)atoi(argv[4])};
        return api(ports);
    }
    fprintf(stderr, "usage: %s vectors | api PORT1 PORT2 PORT3\n", argv[0]);
    return 2;
}
