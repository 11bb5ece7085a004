/*
 * A program written against the libmemcached 1.1.4 API the way real clients
 * use it (tools, pylibmc, php-memcached, pgmemcache, Perl, libmemcachedutil
 * users).  tests-c/lmc-header-check.sh only compiles it (-c, nothing is
 * linked or run): as C99 / C11 / C++98 / C++11 / C++17 with
 * -pedantic -Wall -Wextra -Werror, against include/ and, as a control that
 * the program itself is plain libmemcached code, against Debian's headers
 * (whose C++ needs C++11).  The same source is also compiled as C++, so it
 * stays in the common subset of both languages.
 *
 * -DWITH_SASL_BEFORE / -DWITH_SASL_AFTER include <sasl/sasl.h> before /
 * after the libmemcached headers and pass a sasl_callback_t array.
 * -DTIME_H_FIRST includes <time.h> first: Debian's <libmemcachedutil-1.0/
 * pool.h> needs it (without it, its memcached_pool_fetch() prototype declares
 * a `struct timespec` of its own that no caller can pass); ours forward-
 * declares struct timespec, so <time.h> may come later.
 */
#define _POSIX_C_SOURCE 200809L /* struct timespec under -std=c99 */
#ifdef TIME_H_FIRST
#include <time.h>
#endif
#ifdef WITH_SASL_BEFORE
#include <sasl/sasl.h>
#endif

#include <libmemcached/memcached.h>
#include <libmemcached/util.h>

#ifdef WITH_SASL_AFTER
#include <sasl/sasl.h>
#endif

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Size facts compiled in by real clients (stack handles, result arrays). */
typedef char check_memcached_st[sizeof(memcached_st) == 696 ? 1 : -1];
typedef char check_result_st[sizeof(memcached_result_st) == 352 ? 1 : -1];
typedef char check_server_st[sizeof(memcached_server_st) == 1168 ? 1 : -1];
typedef char check_stat_st[sizeof(memcached_stat_st) == 224 ? 1 : -1];
typedef char check_analysis_st[sizeof(memcached_analysis_st) == 56 ? 1 : -1];
typedef char check_hashkit_st[sizeof(hashkit_st) == 48 ? 1 : -1];
typedef char check_string_st[sizeof(memcached_string_st) == 40 ? 1 : -1];
typedef char check_allocator[sizeof(struct memcached_allocator_t) == 40 ? 1 : -1];

#if !defined(LIBMEMCACHED_VERSION_HEX) || LIBMEMCACHED_VERSION_HEX < 0x01000003
#error "LIBMEMCACHED_VERSION_HEX must be usable in #if (pylibmc, php-memcached)"
#endif

/* callbacks with the library's function types */
static memcached_return_t server_cb(const memcached_st *ptr, const memcached_instance_st *server,
                                    void *context)
{
    (void)ptr;
    (void)context;
    printf("%s:%u\n", memcached_server_name(server), (unsigned)memcached_server_port(server));
    return MEMCACHED_SUCCESS;
}

static memcached_return_t execute_cb(const memcached_st *ptr, memcached_result_st *result,
                                     void *context)
{
    (void)ptr;
    *(size_t *)context += memcached_result_length(result);
    return MEMCACHED_SUCCESS;
}

static memcached_return_t dump_cb(const memcached_st *ptr, const char *key, size_t key_length,
                                  void *context)
{
    (void)ptr;
    (void)key;
    (void)key_length;
    (void)context;
    return MEMCACHED_SUCCESS;
}

static memcached_return_t stat_cb(const memcached_instance_st *server, const char *key,
                                  size_t key_length, const char *value, size_t value_length,
                                  void *context)
{
    (void)server;
    (void)context;
    printf("%.*s=%.*s\n", (int)key_length, key, (int)value_length, value);
    return MEMCACHED_SUCCESS;
}

static memcached_return_t clone_cb(memcached_st *destination, const memcached_st *source)
{
    (void)destination;
    (void)source;
    return MEMCACHED_SUCCESS;
}

static memcached_return_t cleanup_cb(const memcached_st *ptr)
{
    (void)ptr;
    return MEMCACHED_SUCCESS;
}

static memcached_return_t get_failure_cb(const memcached_st *ptr, const char *key,
                                         size_t key_length, memcached_result_st *result)
{
    (void)ptr;
    (void)key;
    (void)key_length;
    (void)result;
    return MEMCACHED_NOTFOUND;
}

static memcached_return_t delete_trigger_cb(const memcached_st *ptr, const char *key,
                                            size_t key_length)
{
    (void)ptr;
    (void)key;
    (void)key_length;
    return MEMCACHED_SUCCESS;
}

static void *my_malloc(const memcached_st *ptr, const size_t size, void *context)
{
    (void)ptr;
    (void)context;
    return malloc(size);
}

static void my_free(const memcached_st *ptr, void *mem, void *context)
{
    (void)ptr;
    (void)context;
    free(mem);
}

static void *my_realloc(const memcached_st *ptr, void *mem, const size_t size, void *context)
{
    (void)ptr;
    (void)context;
    return realloc(mem, size);
}

static void *my_calloc(const memcached_st *ptr, size_t nelem, const size_t elsize, void *context)
{
    (void)ptr;
    (void)context;
    return calloc(nelem, elsize);
}

static uint32_t my_hash(const char *key, size_t key_length, void *context)
{
    (void)context;
    return libhashkit_one_at_a_time(key, key_length);
}

/* the deprecated spellings still used by pylibmc / php / pgmemcache */
static memcached_return old_names(memcached_st *memc)
{
    memcached_server_function fns[1];
    memcached_server_instance_st inst;
    memcached_behavior b = MEMCACHED_BEHAVIOR_TCP_NODELAY;
    memcached_hash h = MEMCACHED_HASH_MD5;
    memcached_server_distribution d = MEMCACHED_DISTRIBUTION_CONSISTENT;
    memcached_callback c = MEMCACHED_CALLBACK_NAMESPACE;
    memcached_connection conn = MEMCACHED_CONNECTION_TCP;
    memcached_execute_function ef = execute_cb;
    memcached_dump_func df = dump_cb;
    memcached_clone_func cf = clone_cb;
    memcached_cleanup_func clf = cleanup_cb;
    memcached_trigger_key tk = get_failure_cb;
    memcached_trigger_delete_key tdk = delete_trigger_cb;

    (void)ef;
    (void)df;
    (void)cf;
    (void)clf;
    (void)tk;
    (void)tdk;
    (void)c;
    (void)conn;
    fns[0] = server_cb;
    inst = (memcached_server_instance_st)memcached_server_instance_by_position(memc, 0);
    (void)inst;
    memcached_behavior_set(memc, b, 1);
    memcached_behavior_set_key_hash(memc, h);
    memcached_behavior_set_distribution(memc, d);
    return memcached_server_cursor(memc, fns, NULL, 1);
}

static int use_everything(void)
{
    memcached_st stack_memc; /* caller-allocated handle, like the tools */
    memcached_st *memc = memcached_create(&stack_memc);
    memcached_st *clone = memcached_clone(NULL, memc);
    memcached_st *cfg = memcached("--SERVER=localhost:11211 --BINARY-PROTOCOL", 42);
    memcached_return_t rc = MEMCACHED_SUCCESS;
    memcached_server_list_st servers;
    memcached_result_st results[4]; /* stride 352, like pylibmc */
    memcached_result_st *res;
    memcached_stat_st *stats;
    memcached_stat_st one_stat; /* pgmemcache */
    memcached_analysis_st *analysis;
    memcached_execute_fn execute[1];
    memcached_dump_fn dumpers[1];
    memcached_server_fn cursor[1];
    const memcached_instance_st *instance;
    const char *keys[2];
    size_t key_lengths[2];
    char key_buf[MEMCACHED_MAX_KEY];
    size_t key_length = 0, value_length = 0, total = 0;
    uint32_t flags = 0;
    uint64_t value = 0;
    char *v;
    char **stat_keys;
    char err_buf[256];
    memcached_string_t ns = {"ns:", 3};
    hashkit_st kit;
    memcached_pool_st *pool;
    struct timespec wait;
    memcached_malloc_fn gm;
    memcached_free_fn gf;
    memcached_realloc_fn gr;
    memcached_calloc_fn gc;
    uint32_t host_map[4] = {0, 0, 0, 0};

    if (memc == NULL || clone == NULL)
        return 1;

    /* what the tools do on every run */
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 0);
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 0);
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
    memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    memcached_behavior_set_key_hash(memc, MEMCACHED_HASH_DEFAULT);
    servers = memcached_servers_parse("localhost:11211, 127.0.0.1:11212 2");
    if (servers != NULL && memcached_server_list_count(servers) > 0)
        printf("%s:%u weight %u\n", servers[0].hostname, (unsigned)servers[0].port,
               (unsigned)servers[0].weight);
    rc = memcached_server_push(memc, servers);
    memcached_server_list_free(servers);
    servers = memcached_server_list_append(NULL, "localhost", MEMCACHED_DEFAULT_PORT, &rc);
    servers = memcached_server_list_append_with_weight(servers, "localhost", 11212, 3, &rc);
    memcached_server_free(servers);
    memcached_server_add(memc, "localhost", 0);
    memcached_server_add_with_weight(memc, "localhost", 11213, 2);
    memcached_server_add_unix_socket(memc, "/tmp/memcached.sock");
    memcached_server_add_unix_socket_with_weight(memc, "/tmp/memcached.sock", 1);
    memcached_server_add_udp(memc, "localhost", 11214);
    memcached_server_add_udp_with_weight(memc, "localhost", 11214, 1);
    memcached_set_sasl_auth_data(memc, "user", "pass");
    memcached_destroy_sasl_auth_data(memc);
    if (memc->flags.binary_protocol) /* memcslap's memcached_is_binary() */
        printf("binary\n");

    /* storage */
    rc = memcached_set(memc, "k", 1, "v", 1, (time_t)0, 0);
    if (memcached_failed(rc))
        fprintf(stderr, "%s / %s\n", memcached_strerror(NULL, rc),
                memcached_last_error_message(memc));
    memcached_add(memc, "k", 1, "v", 1, 0, 0);
    memcached_replace(memc, "k", 1, "v", 1, 0, 0);
    memcached_append(memc, "k", 1, "v", 1, 0, 0);
    memcached_prepend(memc, "k", 1, "v", 1, 0, 0);
    memcached_cas(memc, "k", 1, "v", 1, 0, 0, 42);
    memcached_set_by_key(memc, "g", 1, "k", 1, "v", 1, 0, 0);
    memcached_add_by_key(memc, "g", 1, "k", 1, "v", 1, 0, 0);
    memcached_replace_by_key(memc, "g", 1, "k", 1, "v", 1, 0, 0);
    memcached_append_by_key(memc, "g", 1, "k", 1, "v", 1, 0, 0);
    memcached_prepend_by_key(memc, "g", 1, "k", 1, "v", 1, 0, 0);
    memcached_cas_by_key(memc, "g", 1, "k", 1, "v", 1, 0, 0, 42);
    memcached_increment(memc, "n", 1, 1, &value);
    memcached_decrement(memc, "n", 1, 1, &value);
    memcached_increment_by_key(memc, "g", 1, "n", 1, 1, &value);
    memcached_decrement_by_key(memc, "g", 1, "n", 1, 1, &value);
    memcached_increment_with_initial(memc, "n", 1, 1, 0, 0, &value);
    memcached_decrement_with_initial(memc, "n", 1, 1, 0, 0, &value);
    memcached_increment_with_initial_by_key(memc, "g", 1, "n", 1, 1, 0, 0, &value);
    memcached_decrement_with_initial_by_key(memc, "g", 1, "n", 1, 1, 0, 0, &value);
    memcached_delete(memc, "k", 1, 0);
    memcached_delete_by_key(memc, "g", 1, "k", 1, 0);
    memcached_touch(memc, "k", 1, 10);
    memcached_touch_by_key(memc, "g", 1, "k", 1, 10);
    memcached_exist(memc, "k", 1);
    memcached_exist_by_key(memc, "g", 1, "k", 1);

    /* retrieval */
    v = memcached_get(memc, "k", 1, &value_length, &flags, &rc);
    free(v);
    v = memcached_get_by_key(memc, "g", 1, "k", 1, &value_length, &flags, &rc);
    free(v);
    keys[0] = "a";
    keys[1] = "b";
    key_lengths[0] = key_lengths[1] = 1;
    memcached_mget(memc, keys, key_lengths, 2);
    while ((v = memcached_fetch(memc, key_buf, &key_length, &value_length, &flags, &rc)) != NULL)
        free(v);
    memcached_mget_by_key(memc, "g", 1, keys, key_lengths, 2);
    res = memcached_result_create(memc, &results[0]);
    while ((res = memcached_fetch_result(memc, &results[1], &rc)) != NULL) {
        printf("%.*s %.*s %u %" PRIu64 "\n", (int)memcached_result_key_length(res),
               memcached_result_key_value(res), (int)memcached_result_length(res),
               memcached_result_value(res), (unsigned)memcached_result_flags(res),
               memcached_result_cas(res));
    }
    memcached_result_set_value(&results[0], "x", 1);
    memcached_result_set_flags(&results[0], 3);
    memcached_result_set_expiration(&results[0], 100);
    free(memcached_result_take_value(&results[0]));
    memcached_result_reset(&results[0]);
    memcached_result_free(&results[0]);
    execute[0] = execute_cb;
    memcached_mget_execute(memc, keys, key_lengths, 2, execute, &total, 1);
    memcached_mget_execute_by_key(memc, "g", 1, keys, key_lengths, 2, execute, &total, 1);
    memcached_fetch_execute(memc, execute, &total, 1);

    /* servers */
    cursor[0] = server_cb;
    memcached_server_cursor(memc, cursor, NULL, 1);
    instance = memcached_server_by_key(memc, "k", 1, &rc);
    if (instance != NULL)
        printf("%s %u %u.%u.%u %s %u %s %d\n", memcached_server_name(instance),
               (unsigned)memcached_server_port(instance),
               (unsigned)memcached_server_major_version(instance),
               (unsigned)memcached_server_minor_version(instance),
               (unsigned)memcached_server_micro_version(instance),
               memcached_server_type(instance), (unsigned)memcached_server_srcport(instance),
               memcached_server_error(instance) ? memcached_server_error(instance) : "",
               (int)memcached_server_error_return(instance));
    instance = memcached_server_get_last_disconnect(memc);
    if (instance != NULL) {
        memcached_instance_next_retry(instance, time(NULL));
        printf("%u\n", (unsigned)memcached_server_response_count(instance));
    }
    printf("%u servers, query %" PRIu64 "\n", (unsigned)memcached_server_count(memc),
           memcached_query_id(memc));
    memcached_server_error_reset(NULL);
    memcached_autoeject(memc);
    memcached_reset_last_disconnected_server(memc);

    /* behaviors, callbacks, user data, allocators, hashing */
    printf("%" PRIu64 " %s %s %s\n",
           memcached_behavior_get(memc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL),
           libmemcached_string_behavior(MEMCACHED_BEHAVIOR_KETAMA),
           libmemcached_string_distribution(memcached_behavior_get_distribution(memc)),
           libmemcached_string_hash(memcached_behavior_get_key_hash(memc)));
    memcached_behavior_set_distribution_hash(memc, MEMCACHED_HASH_MD5);
    (void)memcached_behavior_get_distribution_hash(memc);
    memcached_bucket_set(memc, host_map, NULL, 4, 0);
    memcached_callback_set(memc, MEMCACHED_CALLBACK_NAMESPACE, "ns:");
    memcached_callback_set(memc, MEMCACHED_CALLBACK_USER_DATA, memc);
    memcached_callback_set(memc, MEMCACHED_CALLBACK_CLONE_FUNCTION, (const void *)0);
    (void)memcached_callback_get(memc, MEMCACHED_CALLBACK_PREFIX_KEY, &rc);
    memcached_set_user_data(memc, memcached_get_user_data(memc));
    memcached_set_memory_allocators(memc, my_malloc, my_free, my_realloc, my_calloc, NULL);
    memcached_get_memory_allocators(memc, &gm, &gf, &gr, &gc);
    (void)memcached_get_memory_allocators_context(memc);
    printf("%u %u\n", (unsigned)memcached_generate_hash(memc, "k", 1),
           (unsigned)memcached_generate_hash_value("k", 1, MEMCACHED_HASH_CRC));
    if (hashkit_create(&kit) != NULL) {
        hashkit_set_custom_function(&kit, my_hash, NULL);
        memcached_set_hashkit(memc, &kit);
        hashkit_free(&kit);
    }
    (void)memcached_get_hashkit(memc);
    memcached_set_encoding_key(memc, "0123456789abcdef0123456789abcdef", 32);
    {
        /* statement form only: the real macro ends in ';' */
        size_t ns_size = memcached_size(ns);
        printf("%.*s %d\n", memcached_string_printf(ns), (int)ns_size);
    }

    /* stats, dump, analyze, versions, errors */
    stats = memcached_stat(memc, NULL, &rc);
    if (stats != NULL) {
        /* (%llu would do in C; C++98 has no long long) */
        printf("pid %d, %lu items, %" PRIu64 " bytes\n", (int)stats[0].pid,
               stats[0].curr_items, (uint64_t)stats[0].bytes);
        stat_keys = memcached_stat_get_keys(memc, stats, &rc);
        if (stat_keys != NULL) {
            v = memcached_stat_get_value(memc, stats, stat_keys[0], &rc);
            free(v);
            free(stat_keys);
        }
        analysis = memcached_analyze(memc, stats, &rc);
        if (analysis != NULL)
            printf("%f\n", analysis->pool_hit_ratio);
        memcached_analyze_free(analysis);
        memcached_stat_free(NULL, stats);
    }
    memcached_stat_servername(&one_stat, NULL, "localhost", 11211);
    memcached_stat_execute(memc, "items", stat_cb, NULL);
    dumpers[0] = dump_cb;
    memcached_dump(memc, dumpers, NULL, 1);
    memcached_version(memc);
    memcached_verbosity(memc, 1);
    memcached_flush(memc, 0);
    memcached_flush_buffers(memc);
    printf("%s %s %d %d\n", memcached_lib_version(), memcached_error(memc),
           (int)memcached_last_error(memc), memcached_last_error_errno(memc));
    memcached_error_print(memc);
    rc = libmemcached_check_configuration("--SERVER=localhost", 18, err_buf, sizeof err_buf);
    if (memcached_fatal(rc) || memcached_continue(rc) || !memcached_success(rc))
        printf("%s\n", err_buf);
    memcached_push(clone, memc);
    old_names(memc);

    /* SASL callbacks: sasl_callback_t only with <sasl/sasl.h> */
#if defined(WITH_SASL_BEFORE) || defined(WITH_SASL_AFTER)
    {
        static sasl_callback_t sasl_callbacks[] = {{SASL_CB_LIST_END, NULL, NULL}};
        sasl_callback_t *got;
        memcached_set_sasl_callbacks(memc, sasl_callbacks);
        got = memcached_get_sasl_callbacks(memc);
        (void)got;
    }
#endif

    /* libmemcachedutil */
    pool = memcached_pool("--SERVER=localhost --POOL-MIN=1 --POOL-MAX=4", 43);
    if (pool != NULL) {
        memcached_st *m = memcached_pool_pop(pool, false, &rc);
        memcached_pool_push(pool, m);
        wait.tv_sec = 1;
        wait.tv_nsec = 0;
        m = memcached_pool_fetch(pool, &wait, &rc);
        memcached_pool_release(pool, m);
        memcached_pool_behavior_set(pool, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
        memcached_pool_behavior_get(pool, MEMCACHED_BEHAVIOR_TCP_NODELAY, &value);
        memcached_free(memcached_pool_destroy(pool));
    }
    pool = memcached_pool_create(memc, 1, 2);
    memcached_pool_destroy(pool);
    if (libmemcached_util_ping("localhost", 11211, &rc) &&
        libmemcached_util_ping2("localhost", 11211, "u", "p", &rc) &&
        libmemcached_util_flush("localhost", 11211, &rc) &&
        libmemcached_util_version_check(memc, 1, 4, 0))
        printf("%d %d\n", (int)libmemcached_util_getpid("localhost", 11211, &rc),
               (int)libmemcached_util_getpid2("localhost", 11211, "u", "p", &rc));

    memcached_quit(memc);
    memcached_servers_reset(memc);
    memcached_reset(clone);
    memcached_free(cfg);
    memcached_free(clone);
    memcached_free(memc);
    return 0;
}

int main(void)
{
    return use_everything();
}
