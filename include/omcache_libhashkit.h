/*
 * omcache_libhashkit.h - the libhashkit 1.1.0 API (as shipped with
 * libmemcached 1.1.4), as programs compiled against libhashkit.so.2 see it.
 *
 * Installed as <libhashkit-1.0/hashkit.h> and <libhashkit/hashkit.h> (one-line
 * wrappers), and included by omcache_libmemcached.h because memcached_st
 * embeds a hashkit_st.
 *
 * Every declaration here is ABI: enum values, the layout of hashkit_st
 * (48 bytes on x86-64) and the 33 exported functions are identical to
 * Debian's libhashkit.so.2; tests-c/lmc-header-check.sh compares them with
 * the real headers.  Works as C99 and as C++98 or later, -pedantic clean.
 */
#ifndef OMCACHE_LIBHASHKIT_H
#define OMCACHE_LIBHASHKIT_H

#ifndef __STDC_FORMAT_MACROS
#define __STDC_FORMAT_MACROS
#endif
#include <inttypes.h>
#include <stddef.h>
#include <sys/types.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#define LIBHASHKIT_VERSION_STRING "1.1.0"
#define LIBHASHKIT_VERSION_HEX 0x00100100

/* The real headers define these for their own prototypes; sources that
 * test for them still find them. */
#ifndef HASHKIT_API
#define HASHKIT_API
#endif
#ifndef HASHKIT_LOCAL
#define HASHKIT_LOCAL
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- types ------------------------------------------------------------ */

typedef enum {
    HASHKIT_SUCCESS,                   /* 0 */
    HASHKIT_FAILURE,                   /* 1 */
    HASHKIT_MEMORY_ALLOCATION_FAILURE, /* 2 */
    HASHKIT_INVALID_HASH,              /* 3 */
    HASHKIT_INVALID_ARGUMENT,          /* 4 */
    HASHKIT_MAXIMUM_RETURN             /* 5 */
} hashkit_return_t;

/* Same numbering as memcached_hash_t. */
typedef enum {
    HASHKIT_HASH_DEFAULT = 0, /* Jenkins one-at-a-time */
    HASHKIT_HASH_MD5,         /* 1 */
    HASHKIT_HASH_CRC,         /* 2 */
    HASHKIT_HASH_FNV1_64,     /* 3 */
    HASHKIT_HASH_FNV1A_64,    /* 4 */
    HASHKIT_HASH_FNV1_32,     /* 5 */
    HASHKIT_HASH_FNV1A_32,    /* 6 */
    HASHKIT_HASH_HSIEH,       /* 7: not compiled into Debian's library */
    HASHKIT_HASH_MURMUR,      /* 8 */
    HASHKIT_HASH_JENKINS,     /* 9 */
    HASHKIT_HASH_MURMUR3,     /* 10 */
    HASHKIT_HASH_CUSTOM,      /* 11 */
    HASHKIT_HASH_MAX          /* 12 */
} hashkit_hash_algorithm_t;

typedef enum {
    HASHKIT_DISTRIBUTION_MODULA, /* 0 */
    HASHKIT_DISTRIBUTION_RANDOM, /* 1 */
    HASHKIT_DISTRIBUTION_KETAMA, /* 2 */
    HASHKIT_DISTRIBUTION_MAX     /* 3 */
} hashkit_distribution_t;

typedef struct hashkit_st hashkit_st;
typedef struct hashkit_string_st hashkit_string_st;

typedef uint32_t (*hashkit_hash_fn)(const char *key, size_t key_length, void *context);

/* Inline helpers, as in the real header (compiled into the caller). */
static inline bool hashkit_success(const hashkit_return_t rc)
{
    return rc == HASHKIT_SUCCESS;
}

static inline bool hashkit_failed(const hashkit_return_t rc)
{
    return rc != HASHKIT_SUCCESS;
}

/* 48 bytes on x86-64: base_hash @0, distribution_hash @16, flags @32,
 * options @33, _key @40.  memcached_st embeds one at offset 8. */
struct hashkit_st {
    struct hashkit_function_st {
        hashkit_hash_fn function;
        void *context;
    } base_hash, distribution_hash;

    struct {
        bool is_base_same_distributed : 1;
    } flags;

    struct {
        bool is_allocated : 1;
    } options;

    void *_key; /* library-private (the AES key of memcached_set_encoding_key) */
};

/* Accessors for a { c_str, size } pair (memcached_string_t and the like).
 * Unlike the real header's, hashkit_size() and hashkit_c_str() carry no
 * trailing ';', so they also work inside an expression. */
#define hashkit_size(X) (X).size
#define hashkit_c_str(X) (X).c_str
#define hashkit_string_param(X) (X).c_str, (X).size
#ifdef __cplusplus
#define hashkit_string_printf(X) int((X).size), (X).c_str
#else
#define hashkit_string_printf(X) (int)((X).size), (X).c_str
#endif

/* ---- the handle -------------------------------------------------------- */

hashkit_st *hashkit_create(hashkit_st *hash);
hashkit_st *hashkit_clone(hashkit_st *destination, const hashkit_st *ptr);
bool hashkit_compare(const hashkit_st *first, const hashkit_st *second);
void hashkit_free(hashkit_st *hash);

hashkit_string_st *hashkit_encrypt(hashkit_st *kit, const char *source, size_t source_length);
hashkit_string_st *hashkit_decrypt(hashkit_st *kit, const char *source, size_t source_length);
bool hashkit_key(hashkit_st *kit, const char *key, const size_t key_length);

/* ---- hashing ----------------------------------------------------------- */

uint32_t hashkit_digest(const hashkit_st *self, const char *key, size_t key_length);
uint32_t libhashkit_digest(const char *key, size_t key_length,
                           hashkit_hash_algorithm_t hash_algorithm);

hashkit_return_t hashkit_set_function(hashkit_st *hash, hashkit_hash_algorithm_t hash_algorithm);
hashkit_return_t hashkit_set_custom_function(hashkit_st *hash, hashkit_hash_fn function,
                                             void *context);
hashkit_hash_algorithm_t hashkit_get_function(const hashkit_st *hash);
hashkit_return_t hashkit_set_distribution_function(hashkit_st *hash,
                                                   hashkit_hash_algorithm_t hash_algorithm);
hashkit_return_t hashkit_set_custom_distribution_function(hashkit_st *self,
                                                          hashkit_hash_fn function, void *context);
hashkit_hash_algorithm_t hashkit_get_distribution_function(const hashkit_st *self);

bool libhashkit_has_algorithm(const hashkit_hash_algorithm_t algorithm);

uint32_t libhashkit_one_at_a_time(const char *key, size_t key_length);
uint32_t libhashkit_fnv1_64(const char *key, size_t key_length);
uint32_t libhashkit_fnv1a_64(const char *key, size_t key_length);
uint32_t libhashkit_fnv1_32(const char *key, size_t key_length);
uint32_t libhashkit_fnv1a_32(const char *key, size_t key_length);
uint32_t libhashkit_crc32(const char *key, size_t key_length);
uint32_t libhashkit_hsieh(const char *key, size_t key_length);
uint32_t libhashkit_murmur(const char *key, size_t key_length);
uint32_t libhashkit_murmur3(const char *key, size_t key_length);
uint32_t libhashkit_jenkins(const char *key, size_t key_length);
uint32_t libhashkit_md5(const char *key, size_t key_length);
void libhashkit_md5_signature(const unsigned char *key, size_t length, unsigned char *result);

/* Name of an algorithm ("DEFAULT", "MD5", ..., "CUSTOM"; "INVALID" otherwise). */
const char *libhashkit_string_hash(hashkit_hash_algorithm_t type);

const char *hashkit_strerror(hashkit_st *ptr, hashkit_return_t rc);

/* ---- strings returned by hashkit_encrypt / hashkit_decrypt ------------- */

void hashkit_string_free(hashkit_string_st *ptr);
size_t hashkit_string_length(const hashkit_string_st *self);
const char *hashkit_string_c_str(const hashkit_string_st *self);

#ifdef __cplusplus
}
#endif

#endif /* OMCACHE_LIBHASHKIT_H */
