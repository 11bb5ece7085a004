/*
 * omcache_libmemcached.h - the libmemcached 1.1.4 C API, served by omcache.
 *
 * This one header declares what programs compiled against libmemcached 1.1.4
 * (libmemcached.so.11) see: the 138 exported functions with identical
 * prototypes, every public enum with identical values, every public struct
 * with identical size and field offsets on x86-64, the typedefs (including
 * the deprecated ones), the version / limit / default macros and the inline
 * helpers.  It is installed under the real header names as one-line wrappers
 * (<libmemcached/memcached.h>, <libmemcached-1.0/memcached.h>, every
 * <libmemcached-1.0/...> sub-header), so unchanged sources build with only a
 * different -I.  libmemcachedutil lives in omcache_libmemcachedutil.h and
 * libhashkit (hashkit_st, embedded in memcached_st) in omcache_libhashkit.h,
 * which this header includes.  tests-c/lmc-header-check.sh compares all of
 * this with Debian's real headers.
 *
 * Language: C99 or later, C++98 or later; clean with -Wall -Wextra -pedantic
 * (the real headers need C++11 because they include <cinttypes>).  Nothing
 * non-standard is needed, except that memcached_stat_st has `unsigned long
 * long` members, which C++98 -pedantic rejects (-Wlong-long); under C++98
 * with GCC/clang that one warning is switched off around that struct with
 * #pragma GCC diagnostic, the type itself is kept.
 *
 * SASL.  The real header includes <sasl/sasl.h> (libsasl2-dev) for the one
 * type `sasl_callback_t` used by memcached_set_sasl_callbacks(),
 * memcached_get_sasl_callbacks() and memcached_st.sasl.callbacks.  This one
 * does not require it: sasl.h defines `typedef struct sasl_callback {...}
 * sasl_callback_t`, so the prototypes use `struct sasl_callback *` -- the
 * very same type, forward-declared -- and a program that includes
 * <sasl/sasl.h> (before or after this header) passes its sasl_callback_t
 * arrays unchanged.  No `sasl_callback_t` typedef is made here, because
 * C99 forbids repeating a typedef and that would break programs that also
 * include sasl.h.  If sasl.h was included first, or OMCACHE_LMC_WITH_SASL_H
 * is defined (the real header's behaviour: include <sasl/sasl.h>), the
 * prototypes spell the type as sasl_callback_t, exactly like the real ones.
 * Programs that name sasl_callback_t must include <sasl/sasl.h> themselves
 * (they do in practice: filling such an array needs its SASL_CB_* ids).
 *
 * Private fields.  memcached_st, memcached_result_st, memcached_server_st
 * and memcached_string_st keep every field of the real definitions, under
 * the real names, so sizes and offsets match and sources that (wrongly) peek
 * into them still compile.  Only the fields listed in the README of the
 * libmemcached spec (section 3.4: memcached_st flags byte @1,
 * configure.* @664..672, options @688, memcached_server_st number_of_hosts /
 * port / weight / hostname, memcached_stat_st, memcached_analysis_st,
 * memcached_result_st as caller storage) carry the meaning libmemcached
 * gives them; the others are library-private storage whose contents omcache
 * may use differently.  Treat them as opaque.
 */
#ifndef OMCACHE_LIBMEMCACHED_H
#define OMCACHE_LIBMEMCACHED_H

#ifndef __STDC_FORMAT_MACROS
#define __STDC_FORMAT_MACROS
#endif
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/types.h>
#include <netdb.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#include "omcache_libhashkit.h"

#if defined(OMCACHE_LMC_WITH_SASL_H) && !defined(SASL_H)
#include <sasl/sasl.h>
#endif

/* ---- configuration, version, limits and defaults ---------------------- */

#define LIBMEMCACHED_VERSION_STRING "1.1.4"
#define LIBMEMCACHED_VERSION_HEX 0x001001004
#define LIBMEMCACHED_AWESOME 1
#define LIBMEMCACHED_ENABLE_DEPRECATED 0
#define LIBMEMCACHED_WITH_SASL_SUPPORT 1

#ifndef LIBMEMCACHED_API
#define LIBMEMCACHED_API
#endif
#ifndef LIBMEMCACHED_LOCAL
#define LIBMEMCACHED_LOCAL
#endif

#define MEMCACHED_MAX_BUFFER 8196
#define MEMCACHED_MAX_KEY 251 /* 250 bytes of key + the terminating NUL */
#define MEMCACHED_MAX_NAMESPACE 128
#define MEMCACHED_MAX_HOST_SORT_LENGTH 86
#define MEMCACHED_MAX_INTEGER_DISPLAY_LENGTH 20
#define MEMCACHED_VERSION_STRING_LENGTH 24
#define MEMCACHED_MAXIMUM_INTEGER_DISPLAY_LENGTH MEMCACHED_MAX_INTEGER_DISPLAY_LENGTH
#define MEMCACHED_PREFIX_KEY_MAX_SIZE MEMCACHED_MAX_NAMESPACE

#define MEMCACHED_DEFAULT_PORT 11211
#define MEMCACHED_DEFAULT_PORT_STRING "11211"
#define MEMCACHED_POINTS_PER_SERVER 100
#define MEMCACHED_POINTS_PER_SERVER_KETAMA 160
#define MEMCACHED_CONTINUUM_SIZE (MEMCACHED_POINTS_PER_SERVER * 100)
#define MEMCACHED_STRIDE 4
#define MEMCACHED_DEFAULT_TIMEOUT 5000
#define MEMCACHED_DEFAULT_CONNECT_TIMEOUT 4000
#define MEMCACHED_CONTINUUM_ADDITION 10
#define MEMCACHED_EXPIRATION_NOT_ADD 0xffffffffU
#define MEMCACHED_SERVER_FAILURE_LIMIT 5
#define MEMCACHED_SERVER_FAILURE_RETRY_TIMEOUT 2
#define MEMCACHED_SERVER_FAILURE_DEAD_TIMEOUT 0
#define MEMCACHED_SERVER_TIMEOUT_LIMIT 0

#ifdef NI_MAXHOST
#define MEMCACHED_NI_MAXHOST NI_MAXHOST
#else
#define MEMCACHED_NI_MAXHOST 1025
#endif
#ifdef NI_MAXSERV
#define MEMCACHED_NI_MAXSERV NI_MAXSERV
#else
#define MEMCACHED_NI_MAXSERV 32
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef int memcached_socket_t;

/* ---- enums (all plain C enums: int-sized) ------------------------------ */

enum memcached_return_t {
    MEMCACHED_SUCCESS,                          /* 0 */
    MEMCACHED_FAILURE,                          /* 1 */
    MEMCACHED_HOST_LOOKUP_FAILURE,              /* 2 */
    MEMCACHED_CONNECTION_FAILURE,               /* 3 */
    MEMCACHED_CONNECTION_BIND_FAILURE,          /* 4: deprecated */
    MEMCACHED_WRITE_FAILURE,                    /* 5 */
    MEMCACHED_READ_FAILURE,                     /* 6 */
    MEMCACHED_UNKNOWN_READ_FAILURE,             /* 7 */
    MEMCACHED_PROTOCOL_ERROR,                   /* 8 */
    MEMCACHED_CLIENT_ERROR,                     /* 9 */
    MEMCACHED_SERVER_ERROR,                     /* 10 */
    MEMCACHED_ERROR,                            /* 11 */
    MEMCACHED_DATA_EXISTS,                      /* 12 */
    MEMCACHED_DATA_DOES_NOT_EXIST,              /* 13 */
    MEMCACHED_NOTSTORED,                        /* 14 */
    MEMCACHED_STORED,                           /* 15 */
    MEMCACHED_NOTFOUND,                         /* 16 */
    MEMCACHED_MEMORY_ALLOCATION_FAILURE,        /* 17 */
    MEMCACHED_PARTIAL_READ,                     /* 18 */
    MEMCACHED_SOME_ERRORS,                      /* 19 */
    MEMCACHED_NO_SERVERS,                       /* 20 */
    MEMCACHED_END,                              /* 21 */
    MEMCACHED_DELETED,                          /* 22 */
    MEMCACHED_VALUE,                            /* 23 */
    MEMCACHED_STAT,                             /* 24 */
    MEMCACHED_ITEM,                             /* 25 */
    MEMCACHED_ERRNO,                            /* 26 */
    MEMCACHED_FAIL_UNIX_SOCKET,                 /* 27: deprecated */
    MEMCACHED_NOT_SUPPORTED,                    /* 28 */
    MEMCACHED_NO_KEY_PROVIDED,                  /* 29: deprecated */
    MEMCACHED_FETCH_NOTFINISHED,                /* 30 */
    MEMCACHED_TIMEOUT,                          /* 31 */
    MEMCACHED_BUFFERED,                         /* 32 */
    MEMCACHED_BAD_KEY_PROVIDED,                 /* 33 */
    MEMCACHED_INVALID_HOST_PROTOCOL,            /* 34 */
    MEMCACHED_SERVER_MARKED_DEAD,               /* 35 */
    MEMCACHED_UNKNOWN_STAT_KEY,                 /* 36 */
    MEMCACHED_E2BIG,                            /* 37 */
    MEMCACHED_INVALID_ARGUMENTS,                /* 38 */
    MEMCACHED_KEY_TOO_BIG,                      /* 39 */
    MEMCACHED_AUTH_PROBLEM,                     /* 40 */
    MEMCACHED_AUTH_FAILURE,                     /* 41 */
    MEMCACHED_AUTH_CONTINUE,                    /* 42 */
    MEMCACHED_PARSE_ERROR,                      /* 43 */
    MEMCACHED_PARSE_USER_ERROR,                 /* 44 */
    MEMCACHED_DEPRECATED,                       /* 45 */
    MEMCACHED_IN_PROGRESS,                      /* 46 */
    MEMCACHED_SERVER_TEMPORARILY_DISABLED,      /* 47 */
    MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE, /* 48 */
    MEMCACHED_MAXIMUM_RETURN,                   /* 49: always last */
    MEMCACHED_CONNECTION_SOCKET_CREATE_FAILURE = MEMCACHED_ERROR
};

enum memcached_behavior_t {
    MEMCACHED_BEHAVIOR_NO_BLOCK,               /* 0 */
    MEMCACHED_BEHAVIOR_TCP_NODELAY,            /* 1 */
    MEMCACHED_BEHAVIOR_HASH,                   /* 2 */
    MEMCACHED_BEHAVIOR_KETAMA,                 /* 3 */
    MEMCACHED_BEHAVIOR_SOCKET_SEND_SIZE,       /* 4 */
    MEMCACHED_BEHAVIOR_SOCKET_RECV_SIZE,       /* 5 */
    MEMCACHED_BEHAVIOR_CACHE_LOOKUPS,          /* 6 */
    MEMCACHED_BEHAVIOR_SUPPORT_CAS,            /* 7 */
    MEMCACHED_BEHAVIOR_POLL_TIMEOUT,           /* 8 */
    MEMCACHED_BEHAVIOR_DISTRIBUTION,           /* 9 */
    MEMCACHED_BEHAVIOR_BUFFER_REQUESTS,        /* 10 */
    MEMCACHED_BEHAVIOR_USER_DATA,              /* 11 */
    MEMCACHED_BEHAVIOR_SORT_HOSTS,             /* 12 */
    MEMCACHED_BEHAVIOR_VERIFY_KEY,             /* 13 */
    MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,        /* 14 */
    MEMCACHED_BEHAVIOR_RETRY_TIMEOUT,          /* 15 */
    MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED,        /* 16 */
    MEMCACHED_BEHAVIOR_KETAMA_HASH,            /* 17 */
    MEMCACHED_BEHAVIOR_BINARY_PROTOCOL,        /* 18 */
    MEMCACHED_BEHAVIOR_SND_TIMEOUT,            /* 19 */
    MEMCACHED_BEHAVIOR_RCV_TIMEOUT,            /* 20 */
    MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT,   /* 21 */
    MEMCACHED_BEHAVIOR_IO_MSG_WATERMARK,       /* 22 */
    MEMCACHED_BEHAVIOR_IO_BYTES_WATERMARK,     /* 23 */
    MEMCACHED_BEHAVIOR_IO_KEY_PREFETCH,        /* 24 */
    MEMCACHED_BEHAVIOR_HASH_WITH_PREFIX_KEY,   /* 25 */
    MEMCACHED_BEHAVIOR_NOREPLY,                /* 26 */
    MEMCACHED_BEHAVIOR_USE_UDP,                /* 27 */
    MEMCACHED_BEHAVIOR_AUTO_EJECT_HOSTS,       /* 28 */
    MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS,     /* 29 */
    MEMCACHED_BEHAVIOR_RANDOMIZE_REPLICA_READ, /* 30 */
    MEMCACHED_BEHAVIOR_CORK,                   /* 31 */
    MEMCACHED_BEHAVIOR_TCP_KEEPALIVE,          /* 32 */
    MEMCACHED_BEHAVIOR_TCP_KEEPIDLE,           /* 33 */
    MEMCACHED_BEHAVIOR_LOAD_FROM_FILE,         /* 34 */
    MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS,  /* 35 */
    MEMCACHED_BEHAVIOR_DEAD_TIMEOUT,           /* 36 */
    MEMCACHED_BEHAVIOR_SERVER_TIMEOUT_LIMIT,   /* 37 */
    MEMCACHED_BEHAVIOR_MAX                     /* 38 */
};

enum memcached_callback_t {
    MEMCACHED_CALLBACK_PREFIX_KEY = 0,
    MEMCACHED_CALLBACK_USER_DATA = 1,
    MEMCACHED_CALLBACK_CLEANUP_FUNCTION = 2,
    MEMCACHED_CALLBACK_CLONE_FUNCTION = 3,
    MEMCACHED_CALLBACK_GET_FAILURE = 7,
    MEMCACHED_CALLBACK_DELETE_TRIGGER = 8,
    MEMCACHED_CALLBACK_MAX, /* 9 */
    MEMCACHED_CALLBACK_NAMESPACE = MEMCACHED_CALLBACK_PREFIX_KEY
};

enum memcached_connection_t {
    MEMCACHED_CONNECTION_TCP,        /* 0 */
    MEMCACHED_CONNECTION_UDP,        /* 1 */
    MEMCACHED_CONNECTION_UNIX_SOCKET /* 2 */
};

/* Same numbering as hashkit_hash_algorithm_t. */
enum memcached_hash_t {
    MEMCACHED_HASH_DEFAULT = 0, /* Jenkins one-at-a-time */
    MEMCACHED_HASH_MD5,         /* 1 */
    MEMCACHED_HASH_CRC,         /* 2 */
    MEMCACHED_HASH_FNV1_64,     /* 3 */
    MEMCACHED_HASH_FNV1A_64,    /* 4 */
    MEMCACHED_HASH_FNV1_32,     /* 5 */
    MEMCACHED_HASH_FNV1A_32,    /* 6 */
    MEMCACHED_HASH_HSIEH,       /* 7 */
    MEMCACHED_HASH_MURMUR,      /* 8 */
    MEMCACHED_HASH_JENKINS,     /* 9 */
    MEMCACHED_HASH_MURMUR3,     /* 10 */
    MEMCACHED_HASH_CUSTOM,      /* 11 */
    MEMCACHED_HASH_MAX          /* 12 */
};

enum memcached_server_distribution_t {
    MEMCACHED_DISTRIBUTION_MODULA,                /* 0 */
    MEMCACHED_DISTRIBUTION_CONSISTENT,            /* 1 */
    MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA,     /* 2 */
    MEMCACHED_DISTRIBUTION_RANDOM,                /* 3 */
    MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA_SPY, /* 4 */
    MEMCACHED_DISTRIBUTION_CONSISTENT_WEIGHTED,   /* 5 */
    MEMCACHED_DISTRIBUTION_VIRTUAL_BUCKET,        /* 6 */
    MEMCACHED_DISTRIBUTION_CONSISTENT_MAX         /* 7 */
};

enum memcached_server_state_t {
    MEMCACHED_SERVER_STATE_NEW,         /* 0 */
    MEMCACHED_SERVER_STATE_ADDRINFO,    /* 1 */
    MEMCACHED_SERVER_STATE_IN_PROGRESS, /* 2 */
    MEMCACHED_SERVER_STATE_CONNECTED,   /* 3 */
    MEMCACHED_SERVER_STATE_IN_TIMEOUT,  /* 4 */
    MEMCACHED_SERVER_STATE_DISABLED     /* 5 */
};

/* As in the real header: in C++ the enum and struct names are types by
 * themselves and no typedef is made for them. */
#ifndef __cplusplus
typedef enum memcached_return_t memcached_return_t;
typedef enum memcached_behavior_t memcached_behavior_t;
typedef enum memcached_callback_t memcached_callback_t;
typedef enum memcached_connection_t memcached_connection_t;
typedef enum memcached_hash_t memcached_hash_t;
typedef enum memcached_server_distribution_t memcached_server_distribution_t;
#endif

/* ---- inline helpers on return codes ------------------------------------ */

/* SUCCESS, BUFFERED, DELETED, END, ITEM, STAT, STORED, VALUE */
static inline bool memcached_success(memcached_return_t rc)
{
    return rc == MEMCACHED_BUFFERED || rc == MEMCACHED_DELETED || rc == MEMCACHED_END ||
           rc == MEMCACHED_ITEM || rc == MEMCACHED_STAT || rc == MEMCACHED_STORED ||
           rc == MEMCACHED_SUCCESS || rc == MEMCACHED_VALUE;
}

/* Neither a success nor AUTH_CONTINUE. */
static inline bool memcached_failed(memcached_return_t rc)
{
    return rc != MEMCACHED_AUTH_CONTINUE && rc != MEMCACHED_BUFFERED && rc != MEMCACHED_DELETED &&
           rc != MEMCACHED_END && rc != MEMCACHED_ITEM && rc != MEMCACHED_STAT &&
           rc != MEMCACHED_STORED && rc != MEMCACHED_SUCCESS && rc != MEMCACHED_VALUE;
}

/* A failure that is not an ordinary answer of the server (miss, exists,
 * not stored, too big, client/server error, ...). */
static inline bool memcached_fatal(memcached_return_t rc)
{
    return rc != MEMCACHED_AUTH_CONTINUE && rc != MEMCACHED_BUFFERED &&
           rc != MEMCACHED_CLIENT_ERROR && rc != MEMCACHED_DATA_EXISTS &&
           rc != MEMCACHED_DELETED && rc != MEMCACHED_E2BIG && rc != MEMCACHED_END &&
           rc != MEMCACHED_ITEM && rc != MEMCACHED_ERROR && rc != MEMCACHED_NOTFOUND &&
           rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE &&
           rc != MEMCACHED_STAT && rc != MEMCACHED_STORED && rc != MEMCACHED_SUCCESS &&
           rc != MEMCACHED_VALUE;
}

/* A macro in the real header too. */
#define memcached_continue(rc) ((rc) == MEMCACHED_IN_PROGRESS)

/* ---- struct names ------------------------------------------------------ */

struct memcached_st;
struct memcached_stat_st;
struct memcached_analysis_st;
struct memcached_result_st;
struct memcached_array_st;          /* library-private */
struct memcached_error_t;           /* library-private */
struct memcached_server_st;
struct memcached_instance_st;       /* opaque: a server inside a handle */
struct memcached_callback_st;
struct memcached_string_st;
struct memcached_string_t;
struct memcached_continuum_item_st; /* library-private */
struct memcached_virtual_bucket_t;  /* library-private */
struct sasl_callback;               /* sasl_callback_t of <sasl/sasl.h> */

typedef struct memcached_instance_st memcached_instance_st;
typedef struct memcached_server_st *memcached_server_list_st;
#ifndef __cplusplus
typedef struct memcached_st memcached_st;
typedef struct memcached_stat_st memcached_stat_st;
typedef struct memcached_analysis_st memcached_analysis_st;
typedef struct memcached_result_st memcached_result_st;
typedef struct memcached_array_st memcached_array_st;
typedef struct memcached_error_t memcached_error_t;
typedef struct memcached_server_st memcached_server_st;
typedef struct memcached_callback_st memcached_callback_st;
typedef struct memcached_string_st memcached_string_st;
typedef struct memcached_string_t memcached_string_t;
#endif

#if defined(SASL_H)
#define OMCACHE_LMC_SASL_CALLBACK_T sasl_callback_t
#else
#define OMCACHE_LMC_SASL_CALLBACK_T struct sasl_callback
#endif

/* ---- callback types ---------------------------------------------------- */

typedef memcached_return_t (*memcached_execute_fn)(const memcached_st *ptr,
                                                   memcached_result_st *result, void *context);
typedef memcached_return_t (*memcached_server_fn)(const memcached_st *ptr,
                                                  const memcached_instance_st *server,
                                                  void *context);
typedef memcached_return_t (*memcached_stat_fn)(const memcached_instance_st *server,
                                                const char *key, size_t key_length,
                                                const char *value, size_t value_length,
                                                void *context);

/* Allocators: every block the library hands to the caller comes from these. */
typedef void (*memcached_free_fn)(const memcached_st *ptr, void *mem, void *context);
typedef void *(*memcached_malloc_fn)(const memcached_st *ptr, const size_t size, void *context);
typedef void *(*memcached_realloc_fn)(const memcached_st *ptr, void *mem, const size_t size,
                                      void *context);
typedef void *(*memcached_calloc_fn)(const memcached_st *ptr, size_t nelem, const size_t elsize,
                                     void *context);

/* memcached_callback_set(): CLONE_FUNCTION, CLEANUP_FUNCTION, GET_FAILURE,
 * DELETE_TRIGGER; memcached_dump(). */
typedef memcached_return_t (*memcached_clone_fn)(memcached_st *destination,
                                                 const memcached_st *source);
typedef memcached_return_t (*memcached_cleanup_fn)(const memcached_st *ptr);
typedef memcached_return_t (*memcached_trigger_key_fn)(const memcached_st *ptr, const char *key,
                                                       size_t key_length,
                                                       memcached_result_st *result);
typedef memcached_return_t (*memcached_trigger_delete_key_fn)(const memcached_st *ptr,
                                                              const char *key, size_t key_length);
typedef memcached_return_t (*memcached_dump_fn)(const memcached_st *ptr, const char *key,
                                                size_t key_length, void *context);

/* ---- structs ----------------------------------------------------------- */

/* 24 bytes. */
struct memcached_callback_st {
    memcached_execute_fn *callback;
    void *context;
    uint32_t number_of_callback;
};

/* 40 bytes: the value buffer of a result. */
struct memcached_string_st {
    char *end;
    char *string;
    size_t current_size;
    struct memcached_st *root;
    struct {
        bool is_allocated : 1;
        bool is_initialized : 1;
    } options;
};

/* 352 bytes; callers allocate it (stack, arrays with this stride) and pass
 * it to memcached_result_create() / memcached_fetch_result(). */
struct memcached_result_st {
    uint32_t item_flags;      /* @0 */
    time_t item_expiration;   /* @8 */
    size_t key_length;        /* @16 */
    uint64_t item_cas;        /* @24 */
    struct memcached_st *root; /* @32 */
    memcached_string_st value; /* @40 */
    uint64_t numeric_value;   /* @80 */
    uint64_t count;           /* @88 */
    char item_key[MEMCACHED_MAX_KEY]; /* @96 */
    struct {
        bool is_allocated : 1;
        bool is_initialized : 1;
    } options;                /* @347 */
};

/* 40 bytes (note the member order). */
struct memcached_allocator_t {
    memcached_calloc_fn calloc;
    memcached_free_fn free;
    memcached_malloc_fn malloc;
    memcached_realloc_fn realloc;
    void *context;
};

/* 16 bytes. */
struct memcached_sasl_st {
    OMCACHE_LMC_SASL_CALLBACK_T *callbacks;
    bool is_allocated;
};

/* 696 bytes; callers may allocate it themselves (memcached_create(&memc)). */
struct memcached_st {
    struct {
        bool is_purging : 1;
        bool is_processing_input : 1;
        bool is_time_for_rebuild : 1;
        bool is_parsing : 1;
    } state; /* @0 */
    /* @1..2, LSB first; binary_protocol is bit 1 of byte 1 (read directly by
     * memcslap), reply is bit 5 (set after create). */
    struct {
        bool auto_eject_hosts : 1;
        bool binary_protocol : 1;
        bool buffer_requests : 1;
        bool hash_with_namespace : 1;
        bool no_block : 1;
        bool reply : 1;
        bool randomize_replica_read : 1;
        bool support_cas : 1;
        bool tcp_nodelay : 1;
        bool use_sort_hosts : 1;
        bool use_udp : 1;
        bool verify_key : 1;
        bool tcp_keepalive : 1;
        bool is_aes : 1;
        bool is_fetching_version : 1;
        bool not_used : 1;
    } flags;
    memcached_server_distribution_t distribution; /* @4 */
    hashkit_st hashkit;                           /* @8 */
    struct {
        unsigned int version;
    } server_info;                                /* @56 */
    uint32_t number_of_hosts;                     /* @60 */
    memcached_instance_st *servers;               /* @64 */
    memcached_instance_st *last_disconnected_server; /* @72 */
    int32_t snd_timeout;                          /* @80 */
    int32_t rcv_timeout;
    uint32_t server_failure_limit;
    uint32_t server_timeout_limit;
    uint32_t io_msg_watermark;                    /* @96 */
    uint32_t io_bytes_watermark;
    uint32_t io_key_prefetch;
    uint32_t tcp_keepidle;
    int32_t poll_timeout;                         /* @112 */
    int32_t connect_timeout;
    int32_t retry_timeout;
    int32_t dead_timeout;
    int send_size;                                /* @128 */
    int recv_size;
    void *user_data;                              /* @136 */
    uint64_t query_id;                            /* @144 */
    uint32_t number_of_replicas;                  /* @152 */
    memcached_result_st result;                   /* @160 */
    struct {
        bool weighted_;
        uint32_t continuum_count;
        uint32_t continuum_points_counter;
        time_t next_distribution_rebuild;
        struct memcached_continuum_item_st *continuum;
    } ketama;                                     /* @512 */
    struct memcached_virtual_bucket_t *virtual_bucket; /* @544 */
    struct memcached_allocator_t allocators;      /* @552 */
    memcached_clone_fn on_clone;                  /* @592 */
    memcached_cleanup_fn on_cleanup;
    memcached_trigger_key_fn get_key_failure;
    memcached_trigger_delete_key_fn delete_trigger;
    memcached_callback_st *callbacks;             /* @624 */
    struct memcached_sasl_st sasl;                /* @632 */
    struct memcached_error_t *error_messages;     /* @648 */
    struct memcached_array_st *_namespace;        /* @656 */
    /* read and written directly by Debian's libmemcachedutil.so.2 */
    struct {
        uint32_t initial_pool_size;               /* @664 */
        uint32_t max_pool_size;                   /* @668 */
        int32_t version;                          /* @672 */
        struct memcached_array_st *filename;      /* @680 */
    } configure;
    struct {
        bool is_allocated : 1;
    } options;                                    /* @688 */
};

/* 1168 bytes: one entry of a server list (memcached_servers_parse(),
 * memcached_server_list_append*()); element 0's number_of_hosts holds the
 * count of the list. */
struct memcached_server_st {
    struct {
        bool is_allocated : 1;
        bool is_initialized : 1;
        bool is_shutting_down : 1;
        bool is_dead : 1;
    } options;                                    /* @0 */
    uint32_t number_of_hosts;                     /* @4 */
    uint32_t cursor_active;                       /* @8 */
    in_port_t port;                               /* @12 */
    uint32_t io_bytes_sent;                       /* @16 */
    uint32_t request_id;
    uint32_t server_failure_counter;
    uint64_t server_failure_counter_query_id;     /* @32 */
    uint32_t server_timeout_counter;
    uint64_t server_timeout_counter_query_id;     /* @48 */
    uint32_t weight;                              /* @56 */
    uint32_t version;
    enum memcached_server_state_t state;          /* @64 */
    struct {
        uint32_t read;
        uint32_t write;
        uint32_t timeouts;
        size_t _bytes_read;
    } io_wait_count;                              /* @72 */
    uint8_t major_version;                        /* @96 */
    uint8_t micro_version;
    uint8_t minor_version;
    memcached_connection_t type;                  /* @100 */
    time_t next_retry;                            /* @104 */
    struct memcached_st *root;                    /* @112 */
    uint64_t limit_maxbytes;                      /* @120 */
    struct memcached_error_t *error_messages;     /* @128 */
    char hostname[MEMCACHED_NI_MAXHOST];          /* @136 */
};

/* C++98 -pedantic rejects `long long` (-Wlong-long); the real type is kept
 * and the diagnostic silenced around this one struct. */
#if defined(__cplusplus) && __cplusplus < 201103L && defined(__GNUC__)
#define OMCACHE_LMC_QUIET_LONG_LONG 1
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wlong-long"
#endif

/* 224 bytes; memcached_stat() returns an array of these, one per server. */
struct memcached_stat_st {
    unsigned long connection_structures;          /* @0 */
    unsigned long curr_connections;
    unsigned long curr_items;
    pid_t pid;                                    /* @24 */
    unsigned long pointer_size;                   /* @32 */
    unsigned long rusage_system_microseconds;
    unsigned long rusage_system_seconds;
    unsigned long rusage_user_microseconds;
    unsigned long rusage_user_seconds;
    unsigned long threads;
    unsigned long time;
    unsigned long total_connections;
    unsigned long total_items;
    unsigned long uptime;                         /* @104 */
    unsigned long long bytes;                  /* @112 */
    unsigned long long bytes_read;
    unsigned long long bytes_written;
    unsigned long long cmd_get;
    unsigned long long cmd_set;
    unsigned long long evictions;
    unsigned long long get_hits;
    unsigned long long get_misses;
    unsigned long long limit_maxbytes;         /* @176 */
    char version[MEMCACHED_VERSION_STRING_LENGTH]; /* @184 */
    void *__future;                               /* @208 */
    memcached_st *root;                           /* @216 */
};

#ifdef OMCACHE_LMC_QUIET_LONG_LONG
#pragma GCC diagnostic pop
#undef OMCACHE_LMC_QUIET_LONG_LONG
#endif

/* 56 bytes; returned by memcached_analyze(). */
struct memcached_analysis_st {
    memcached_st *root;
    uint32_t average_item_size;
    uint32_t longest_uptime;
    uint32_t least_free_server;
    uint32_t most_consumed_server;
    uint32_t oldest_server;
    double pool_hit_ratio;
    uint64_t most_used_bytes;
    uint64_t least_remaining_bytes;
};

/* 16 bytes: a counted string. */
struct memcached_string_t {
    const char *c_str;
    size_t size;
};

/* Unlike the real header's, memcached_size() and memcached_c_str() carry no
 * trailing ';', so they also work inside an expression. */
#define memcached_size(X) (X).size
#define memcached_c_str(X) (X).c_str
#define memcached_string_param(X) (X).c_str, (X).size
#ifdef __cplusplus
#define memcached_string_printf(X) int((X).size), (X).c_str
#else
#define memcached_string_printf(X) (int)((X).size), (X).c_str
#endif

/* ---- deprecated type names (still used by pylibmc, php, pgmemcache) ---- */

typedef memcached_return_t memcached_return;
typedef memcached_server_distribution_t memcached_server_distribution;
typedef memcached_behavior_t memcached_behavior;
typedef memcached_callback_t memcached_callback;
typedef memcached_hash_t memcached_hash;
typedef memcached_connection_t memcached_connection;
typedef memcached_clone_fn memcached_clone_func;
typedef memcached_cleanup_fn memcached_cleanup_func;
typedef memcached_execute_fn memcached_execute_function;
typedef memcached_server_fn memcached_server_function;
typedef memcached_trigger_key_fn memcached_trigger_key;
typedef memcached_trigger_delete_key_fn memcached_trigger_delete_key;
typedef memcached_dump_fn memcached_dump_func;
typedef memcached_instance_st *memcached_server_instance_st;

/* ======================================================================== */
/* Functions: the 138 exports of libmemcached.so.11.                        */
/* ======================================================================== */

/* ---- handle ---- */

memcached_st *memcached_create(memcached_st *ptr);
memcached_st *memcached(const char *string, size_t string_length);
void memcached_free(memcached_st *ptr);
memcached_return_t memcached_reset(memcached_st *ptr);
void memcached_reset_last_disconnected_server(memcached_st *ptr);
memcached_st *memcached_clone(memcached_st *clone, const memcached_st *ptr);
void *memcached_get_user_data(const memcached_st *ptr);
void *memcached_set_user_data(memcached_st *ptr, void *data);
memcached_return_t memcached_push(memcached_st *destination, const memcached_st *source);
const memcached_instance_st *memcached_server_instance_by_position(const memcached_st *ptr,
                                                                   uint32_t server_key);
uint32_t memcached_server_count(const memcached_st *ptr);
uint64_t memcached_query_id(const memcached_st *ptr);
void memcached_servers_reset(memcached_st *ptr);

memcached_return_t libmemcached_check_configuration(const char *option_string, size_t length,
                                                    char *error_buffer, size_t error_buffer_size);

/* ---- allocators ---- */

memcached_return_t memcached_set_memory_allocators(memcached_st *ptr,
                                                   memcached_malloc_fn mem_malloc,
                                                   memcached_free_fn mem_free,
                                                   memcached_realloc_fn mem_realloc,
                                                   memcached_calloc_fn mem_calloc, void *context);
void memcached_get_memory_allocators(const memcached_st *ptr, memcached_malloc_fn *mem_malloc,
                                     memcached_free_fn *mem_free, memcached_realloc_fn *mem_realloc,
                                     memcached_calloc_fn *mem_calloc);
void *memcached_get_memory_allocators_context(const memcached_st *ptr);

/* ---- behaviors and callbacks ---- */

memcached_return_t memcached_behavior_set(memcached_st *ptr, const memcached_behavior_t flag,
                                          uint64_t data);
uint64_t memcached_behavior_get(memcached_st *ptr, const memcached_behavior_t flag);
memcached_return_t memcached_behavior_set_distribution(memcached_st *ptr,
                                                       memcached_server_distribution_t type);
memcached_server_distribution_t memcached_behavior_get_distribution(memcached_st *ptr);
memcached_return_t memcached_behavior_set_key_hash(memcached_st *ptr, memcached_hash_t type);
memcached_hash_t memcached_behavior_get_key_hash(memcached_st *ptr);
memcached_return_t memcached_behavior_set_distribution_hash(memcached_st *ptr,
                                                            memcached_hash_t type);
memcached_hash_t memcached_behavior_get_distribution_hash(memcached_st *ptr);
const char *libmemcached_string_behavior(const memcached_behavior_t flag);
const char *libmemcached_string_distribution(const memcached_server_distribution_t flag);
memcached_return_t memcached_bucket_set(memcached_st *self, const uint32_t *host_map,
                                        const uint32_t *forward_map, const uint32_t buckets,
                                        const uint32_t replicas);

memcached_return_t memcached_callback_set(memcached_st *ptr, const memcached_callback_t flag,
                                          const void *data);
void *memcached_callback_get(memcached_st *ptr, const memcached_callback_t flag,
                             memcached_return_t *error);

/* ---- storage ---- */

memcached_return_t memcached_set(memcached_st *ptr, const char *key, size_t key_length,
                                 const char *value, size_t value_length, time_t expiration,
                                 uint32_t flags);
memcached_return_t memcached_add(memcached_st *ptr, const char *key, size_t key_length,
                                 const char *value, size_t value_length, time_t expiration,
                                 uint32_t flags);
memcached_return_t memcached_replace(memcached_st *ptr, const char *key, size_t key_length,
                                     const char *value, size_t value_length, time_t expiration,
                                     uint32_t flags);
memcached_return_t memcached_append(memcached_st *ptr, const char *key, size_t key_length,
                                    const char *value, size_t value_length, time_t expiration,
                                    uint32_t flags);
memcached_return_t memcached_prepend(memcached_st *ptr, const char *key, size_t key_length,
                                     const char *value, size_t value_length, time_t expiration,
                                     uint32_t flags);
memcached_return_t memcached_cas(memcached_st *ptr, const char *key, size_t key_length,
                                 const char *value, size_t value_length, time_t expiration,
                                 uint32_t flags, uint64_t cas);
memcached_return_t memcached_set_by_key(memcached_st *ptr, const char *group_key,
                                        size_t group_key_length, const char *key,
                                        size_t key_length, const char *value,
                                        size_t value_length, time_t expiration, uint32_t flags);
memcached_return_t memcached_add_by_key(memcached_st *ptr, const char *group_key,
                                        size_t group_key_length, const char *key,
                                        size_t key_length, const char *value,
                                        size_t value_length, time_t expiration, uint32_t flags);
memcached_return_t memcached_replace_by_key(memcached_st *ptr, const char *group_key,
                                            size_t group_key_length, const char *key,
                                            size_t key_length, const char *value,
                                            size_t value_length, time_t expiration,
                                            uint32_t flags);
memcached_return_t memcached_prepend_by_key(memcached_st *ptr, const char *group_key,
                                            size_t group_key_length, const char *key,
                                            size_t key_length, const char *value,
                                            size_t value_length, time_t expiration,
                                            uint32_t flags);
memcached_return_t memcached_append_by_key(memcached_st *ptr, const char *group_key,
                                           size_t group_key_length, const char *key,
                                           size_t key_length, const char *value,
                                           size_t value_length, time_t expiration,
                                           uint32_t flags);
memcached_return_t memcached_cas_by_key(memcached_st *ptr, const char *group_key,
                                        size_t group_key_length, const char *key,
                                        size_t key_length, const char *value,
                                        size_t value_length, time_t expiration, uint32_t flags,
                                        uint64_t cas);

/* ---- counters ---- */

memcached_return_t memcached_increment(memcached_st *ptr, const char *key, size_t key_length,
                                       uint32_t offset, uint64_t *value);
memcached_return_t memcached_decrement(memcached_st *ptr, const char *key, size_t key_length,
                                       uint32_t offset, uint64_t *value);
memcached_return_t memcached_increment_by_key(memcached_st *ptr, const char *group_key,
                                              size_t group_key_length, const char *key,
                                              size_t key_length, uint64_t offset,
                                              uint64_t *value);
memcached_return_t memcached_decrement_by_key(memcached_st *ptr, const char *group_key,
                                              size_t group_key_length, const char *key,
                                              size_t key_length, uint64_t offset,
                                              uint64_t *value);
memcached_return_t memcached_increment_with_initial(memcached_st *ptr, const char *key,
                                                    size_t key_length, uint64_t offset,
                                                    uint64_t initial, time_t expiration,
                                                    uint64_t *value);
memcached_return_t memcached_decrement_with_initial(memcached_st *ptr, const char *key,
                                                    size_t key_length, uint64_t offset,
                                                    uint64_t initial, time_t expiration,
                                                    uint64_t *value);
memcached_return_t memcached_increment_with_initial_by_key(memcached_st *ptr,
                                                           const char *group_key,
                                                           size_t group_key_length,
                                                           const char *key, size_t key_length,
                                                           uint64_t offset, uint64_t initial,
                                                           time_t expiration, uint64_t *value);
memcached_return_t memcached_decrement_with_initial_by_key(memcached_st *ptr,
                                                           const char *group_key,
                                                           size_t group_key_length,
                                                           const char *key, size_t key_length,
                                                           uint64_t offset, uint64_t initial,
                                                           time_t expiration, uint64_t *value);

/* ---- delete, touch, exist, flush ---- */

memcached_return_t memcached_delete(memcached_st *ptr, const char *key, size_t key_length,
                                    time_t expiration);
memcached_return_t memcached_delete_by_key(memcached_st *ptr, const char *group_key,
                                           size_t group_key_length, const char *key,
                                           size_t key_length, time_t expiration);
memcached_return_t memcached_touch(memcached_st *ptr, const char *key, size_t key_length,
                                   time_t expiration);
memcached_return_t memcached_touch_by_key(memcached_st *ptr, const char *group_key,
                                          size_t group_key_length, const char *key,
                                          size_t key_length, time_t expiration);
memcached_return_t memcached_exist(memcached_st *memc, const char *key, size_t key_length);
memcached_return_t memcached_exist_by_key(memcached_st *memc, const char *group_key,
                                          size_t group_key_length, const char *key,
                                          size_t key_length);
memcached_return_t memcached_flush(memcached_st *ptr, time_t expiration);
memcached_return_t memcached_flush_buffers(memcached_st *mem);

/* ---- retrieval ---- */

char *memcached_get(memcached_st *ptr, const char *key, size_t key_length, size_t *value_length,
                    uint32_t *flags, memcached_return_t *error);
char *memcached_get_by_key(memcached_st *ptr, const char *group_key, size_t group_key_length,
                           const char *key, size_t key_length, size_t *value_length,
                           uint32_t *flags, memcached_return_t *error);
memcached_return_t memcached_mget(memcached_st *ptr, const char *const *keys,
                                  const size_t *key_length, size_t number_of_keys);
memcached_return_t memcached_mget_by_key(memcached_st *ptr, const char *group_key,
                                         size_t group_key_length, const char *const *keys,
                                         const size_t *key_length, const size_t number_of_keys);
char *memcached_fetch(memcached_st *ptr, char *key, size_t *key_length, size_t *value_length,
                      uint32_t *flags, memcached_return_t *error);
memcached_result_st *memcached_fetch_result(memcached_st *ptr, memcached_result_st *result,
                                            memcached_return_t *error);
memcached_return_t memcached_mget_execute(memcached_st *ptr, const char *const *keys,
                                          const size_t *key_length, const size_t number_of_keys,
                                          memcached_execute_fn *callback, void *context,
                                          const uint32_t number_of_callbacks);
memcached_return_t memcached_mget_execute_by_key(memcached_st *ptr, const char *group_key,
                                                 size_t group_key_length, const char *const *keys,
                                                 const size_t *key_length, size_t number_of_keys,
                                                 memcached_execute_fn *callback, void *context,
                                                 const uint32_t number_of_callbacks);
memcached_return_t memcached_fetch_execute(memcached_st *ptr, memcached_execute_fn *callback,
                                           void *context, uint32_t number_of_callbacks);

/* ---- results ---- */

memcached_result_st *memcached_result_create(const memcached_st *ptr, memcached_result_st *result);
void memcached_result_free(memcached_result_st *result);
void memcached_result_reset(memcached_result_st *ptr);
const char *memcached_result_key_value(const memcached_result_st *self);
size_t memcached_result_key_length(const memcached_result_st *self);
const char *memcached_result_value(const memcached_result_st *self);
char *memcached_result_take_value(memcached_result_st *self);
size_t memcached_result_length(const memcached_result_st *self);
uint32_t memcached_result_flags(const memcached_result_st *self);
uint64_t memcached_result_cas(const memcached_result_st *self);
memcached_return_t memcached_result_set_value(memcached_result_st *ptr, const char *value,
                                              size_t length);
void memcached_result_set_flags(memcached_result_st *self, uint32_t flags);
void memcached_result_set_expiration(memcached_result_st *self, time_t expiration);

/* ---- dump, stats, analyze ---- */

memcached_return_t memcached_dump(memcached_st *ptr, memcached_dump_fn *function, void *context,
                                  uint32_t number_of_callbacks);

void memcached_stat_free(const memcached_st *ptr, memcached_stat_st *stat);
memcached_stat_st *memcached_stat(memcached_st *ptr, char *args, memcached_return_t *error);
memcached_return_t memcached_stat_servername(memcached_stat_st *memc_stat, char *args,
                                             const char *hostname, in_port_t port);
char *memcached_stat_get_value(const memcached_st *ptr, memcached_stat_st *memc_stat,
                               const char *key, memcached_return_t *error);
char **memcached_stat_get_keys(memcached_st *ptr, memcached_stat_st *memc_stat,
                               memcached_return_t *error);
memcached_return_t memcached_stat_execute(memcached_st *memc, const char *args,
                                          memcached_stat_fn func, void *context);

memcached_analysis_st *memcached_analyze(memcached_st *memc, memcached_stat_st *memc_stat,
                                         memcached_return_t *error);
void memcached_analyze_free(memcached_analysis_st *analysis);

/* ---- errors ---- */

const char *memcached_strerror(const memcached_st *ptr, memcached_return_t rc);
const char *memcached_error(const memcached_st *ptr);
const char *memcached_last_error_message(const memcached_st *ptr);
void memcached_error_print(const memcached_st *ptr);
memcached_return_t memcached_last_error(const memcached_st *ptr);
int memcached_last_error_errno(const memcached_st *ptr);
const char *memcached_server_error(const memcached_instance_st *ptr);
memcached_return_t memcached_server_error_return(const memcached_instance_st *ptr);

/* ---- hashing ---- */

uint32_t memcached_generate_hash_value(const char *key, size_t key_length,
                                       memcached_hash_t hash_algorithm);
const hashkit_st *memcached_get_hashkit(const memcached_st *ptr);
memcached_return_t memcached_set_hashkit(memcached_st *ptr, hashkit_st *hashk);
uint32_t memcached_generate_hash(const memcached_st *ptr, const char *key, size_t key_length);
void memcached_autoeject(memcached_st *ptr);
const char *libmemcached_string_hash(memcached_hash_t type);

/* ---- servers ---- */

memcached_return_t memcached_server_cursor(const memcached_st *ptr,
                                           const memcached_server_fn *callback, void *context,
                                           uint32_t number_of_callbacks);
const memcached_instance_st *memcached_server_by_key(memcached_st *ptr, const char *key,
                                                     size_t key_length, memcached_return_t *error);
void memcached_server_error_reset(memcached_server_st *ptr);
void memcached_server_free(memcached_server_st *ptr);
const memcached_instance_st *memcached_server_get_last_disconnect(const memcached_st *ptr);
memcached_return_t memcached_server_add_udp(memcached_st *ptr, const char *hostname,
                                            in_port_t port);
memcached_return_t memcached_server_add_unix_socket(memcached_st *ptr, const char *filename);
memcached_return_t memcached_server_add(memcached_st *ptr, const char *hostname, in_port_t port);
memcached_return_t memcached_server_add_udp_with_weight(memcached_st *ptr, const char *hostname,
                                                        in_port_t port, uint32_t weight);
memcached_return_t memcached_server_add_unix_socket_with_weight(memcached_st *ptr,
                                                                const char *filename,
                                                                uint32_t weight);
memcached_return_t memcached_server_add_with_weight(memcached_st *ptr, const char *hostname,
                                                    in_port_t port, uint32_t weight);
uint32_t memcached_server_response_count(const memcached_instance_st *self);
const char *memcached_server_name(const memcached_instance_st *self);
in_port_t memcached_server_port(const memcached_instance_st *self);
in_port_t memcached_server_srcport(const memcached_instance_st *self);
void memcached_instance_next_retry(const memcached_instance_st *self, const time_t absolute_time);
const char *memcached_server_type(const memcached_instance_st *ptr);
uint8_t memcached_server_major_version(const memcached_instance_st *ptr);
uint8_t memcached_server_minor_version(const memcached_instance_st *ptr);
uint8_t memcached_server_micro_version(const memcached_instance_st *ptr);

/* ---- server lists ---- */

memcached_server_list_st memcached_servers_parse(const char *server_strings);
void memcached_server_list_free(memcached_server_list_st ptr);
memcached_return_t memcached_server_push(memcached_st *ptr, const memcached_server_list_st list);
memcached_server_list_st memcached_server_list_append(memcached_server_list_st ptr,
                                                      const char *hostname, in_port_t port,
                                                      memcached_return_t *error);
memcached_server_list_st memcached_server_list_append_with_weight(memcached_server_list_st ptr,
                                                                  const char *hostname,
                                                                  in_port_t port, uint32_t weight,
                                                                  memcached_return_t *error);
uint32_t memcached_server_list_count(const memcached_server_list_st ptr);

/* ---- connections, versions ---- */

void memcached_quit(memcached_st *ptr);
memcached_return_t memcached_verbosity(memcached_st *ptr, uint32_t verbosity);
memcached_return_t memcached_version(memcached_st *ptr);
const char *memcached_lib_version(void);

/* ---- encoding, SASL ---- */

memcached_return_t memcached_set_encoding_key(memcached_st *ptr, const char *str, size_t length);

void memcached_set_sasl_callbacks(memcached_st *ptr,
                                  const OMCACHE_LMC_SASL_CALLBACK_T *callbacks);
memcached_return_t memcached_set_sasl_auth_data(memcached_st *ptr, const char *username,
                                                const char *password);
memcached_return_t memcached_destroy_sasl_auth_data(memcached_st *ptr);
OMCACHE_LMC_SASL_CALLBACK_T *memcached_get_sasl_callbacks(memcached_st *ptr);

#ifdef __cplusplus
}
#endif

#endif /* OMCACHE_LIBMEMCACHED_H */
