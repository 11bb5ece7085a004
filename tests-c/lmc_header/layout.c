/*
 * The libmemcached 1.1.4 ABI as a program sees it through a set of headers:
 * sizeof / alignof / offsetof / field size and basic type of every public
 * struct field (the list of the spec's layout.txt), the bit position of
 * every bit-field flag, the value of every enum member (enums.txt), of the
 * version / limit / default macros, and what the inline helpers
 * (memcached_success/failed/fatal/continue, hashkit_success/failed) answer
 * for every return code.
 *
 * tests-c/lmc-header-check.sh compiles this file twice, against Debian's
 * headers and against include/ (only -I differs), runs both and diffs the
 * outputs.  It calls no library function, so it links without libmemcached.
 * C11 (_Generic, _Alignof).
 */
#include <libmemcached/memcached.h>
#include <libmemcached/util.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define TN(x) _Generic((x), \
    _Bool: "bool", char: "char", signed char: "schar", unsigned char: "uchar", \
    short: "short", unsigned short: "ushort", int: "int", unsigned int: "uint", \
    long: "long", unsigned long: "ulong", long long: "llong", \
    unsigned long long: "ullong", float: "float", double: "double", \
    char *: "char*", const char *: "const-char*", void *: "void*", \
    default: "other")

#define T(type) \
    printf("type  %-30s sizeof=%zu alignof=%zu\n", #type, sizeof(type), (size_t)_Alignof(type))
#define F(type, field) \
    printf("field %-30s %-36s off=%4zu size=%4zu type=%s\n", #type, #field, \
           offsetof(type, field), sizeof(((type *)0)->field), TN(((type *)0)->field))

/* Set one bit-field in a zeroed object; print which bytes changed. */
#define BIT(type, field) \
    do { \
        type obj_; \
        const unsigned char *b_ = (const unsigned char *)&obj_; \
        size_t i_; \
        memset(&obj_, 0, sizeof obj_); \
        obj_.field = 1; \
        printf("bit   %-30s %-36s", #type, #field); \
        for (i_ = 0; i_ < sizeof obj_; i_++) \
            if (b_[i_]) \
                printf(" byte%zu=0x%02x", i_, b_[i_]); \
        printf("\n"); \
    } while (0)

#define E(name) printf("enum  %-46s = %ld\n", #name, (long)(name))
#define MI(name) printf("macro %-46s = %lld\n", #name, (long long)(name))
#define MS(name) printf("macro %-46s = \"%s\"\n", #name, name)

static void types_and_fields(void)
{
    T(memcached_st);
    F(memcached_st, state);
    F(memcached_st, flags);
    F(memcached_st, distribution);
    F(memcached_st, hashkit);
    F(memcached_st, server_info);
    F(memcached_st, number_of_hosts);
    F(memcached_st, servers);
    F(memcached_st, last_disconnected_server);
    F(memcached_st, snd_timeout);
    F(memcached_st, rcv_timeout);
    F(memcached_st, server_failure_limit);
    F(memcached_st, server_timeout_limit);
    F(memcached_st, io_msg_watermark);
    F(memcached_st, io_bytes_watermark);
    F(memcached_st, io_key_prefetch);
    F(memcached_st, tcp_keepidle);
    F(memcached_st, poll_timeout);
    F(memcached_st, connect_timeout);
    F(memcached_st, retry_timeout);
    F(memcached_st, dead_timeout);
    F(memcached_st, send_size);
    F(memcached_st, recv_size);
    F(memcached_st, user_data);
    F(memcached_st, query_id);
    F(memcached_st, number_of_replicas);
    F(memcached_st, result);
    F(memcached_st, ketama);
    F(memcached_st, ketama.weighted_);
    F(memcached_st, ketama.continuum_count);
    F(memcached_st, ketama.continuum_points_counter);
    F(memcached_st, ketama.next_distribution_rebuild);
    F(memcached_st, ketama.continuum);
    F(memcached_st, virtual_bucket);
    F(memcached_st, allocators);
    F(memcached_st, on_clone);
    F(memcached_st, on_cleanup);
    F(memcached_st, get_key_failure);
    F(memcached_st, delete_trigger);
    F(memcached_st, callbacks);
    F(memcached_st, sasl);
    F(memcached_st, error_messages);
    F(memcached_st, _namespace);
    F(memcached_st, configure);
    F(memcached_st, options);
    T(hashkit_st);
    F(hashkit_st, base_hash);
    F(hashkit_st, distribution_hash);
    F(hashkit_st, flags);
    F(hashkit_st, options);
    F(hashkit_st, _key);
    T(memcached_result_st);
    F(memcached_result_st, item_flags);
    F(memcached_result_st, item_expiration);
    F(memcached_result_st, key_length);
    F(memcached_result_st, item_cas);
    F(memcached_result_st, root);
    F(memcached_result_st, value);
    F(memcached_result_st, numeric_value);
    F(memcached_result_st, count);
    F(memcached_result_st, item_key);
    F(memcached_result_st, options);
    T(memcached_string_st);
    F(memcached_string_st, end);
    F(memcached_string_st, string);
    F(memcached_string_st, current_size);
    F(memcached_string_st, root);
    F(memcached_string_st, options);
    T(memcached_server_st);
    F(memcached_server_st, options);
    F(memcached_server_st, number_of_hosts);
    F(memcached_server_st, cursor_active);
    F(memcached_server_st, port);
    F(memcached_server_st, io_bytes_sent);
    F(memcached_server_st, request_id);
    F(memcached_server_st, server_failure_counter);
    F(memcached_server_st, server_failure_counter_query_id);
    F(memcached_server_st, server_timeout_counter);
    F(memcached_server_st, server_timeout_counter_query_id);
    F(memcached_server_st, weight);
    F(memcached_server_st, version);
    F(memcached_server_st, state);
    F(memcached_server_st, io_wait_count);
    F(memcached_server_st, major_version);
    F(memcached_server_st, micro_version);
    F(memcached_server_st, minor_version);
    F(memcached_server_st, type);
    F(memcached_server_st, next_retry);
    F(memcached_server_st, root);
    F(memcached_server_st, limit_maxbytes);
    F(memcached_server_st, error_messages);
    F(memcached_server_st, hostname);
    T(memcached_stat_st);
    F(memcached_stat_st, connection_structures);
    F(memcached_stat_st, curr_connections);
    F(memcached_stat_st, curr_items);
    F(memcached_stat_st, pid);
    F(memcached_stat_st, pointer_size);
    F(memcached_stat_st, rusage_system_microseconds);
    F(memcached_stat_st, rusage_system_seconds);
    F(memcached_stat_st, rusage_user_microseconds);
    F(memcached_stat_st, rusage_user_seconds);
    F(memcached_stat_st, threads);
    F(memcached_stat_st, time);
    F(memcached_stat_st, total_connections);
    F(memcached_stat_st, total_items);
    F(memcached_stat_st, uptime);
    F(memcached_stat_st, bytes);
    F(memcached_stat_st, bytes_read);
    F(memcached_stat_st, bytes_written);
    F(memcached_stat_st, cmd_get);
    F(memcached_stat_st, cmd_set);
    F(memcached_stat_st, evictions);
    F(memcached_stat_st, get_hits);
    F(memcached_stat_st, get_misses);
    F(memcached_stat_st, limit_maxbytes);
    F(memcached_stat_st, version);
    F(memcached_stat_st, __future);
    F(memcached_stat_st, root);
    T(memcached_analysis_st);
    F(memcached_analysis_st, root);
    F(memcached_analysis_st, average_item_size);
    F(memcached_analysis_st, longest_uptime);
    F(memcached_analysis_st, least_free_server);
    F(memcached_analysis_st, most_consumed_server);
    F(memcached_analysis_st, oldest_server);
    F(memcached_analysis_st, pool_hit_ratio);
    F(memcached_analysis_st, most_used_bytes);
    F(memcached_analysis_st, least_remaining_bytes);
    T(struct memcached_allocator_t);
    F(struct memcached_allocator_t, calloc);
    F(struct memcached_allocator_t, free);
    F(struct memcached_allocator_t, malloc);
    F(struct memcached_allocator_t, realloc);
    F(struct memcached_allocator_t, context);
    T(memcached_callback_st);
    T(struct memcached_sasl_st);
    T(struct memcached_string_t);
    T(memcached_return_t);
    T(memcached_behavior_t);
    T(in_port_t);
    T(time_t);
    T(memcached_hash_t);
    T(memcached_server_distribution_t);
    T(memcached_callback_t);
    T(memcached_connection_t);
    T(enum memcached_server_state_t);
    T(hashkit_return_t);
    T(hashkit_hash_algorithm_t);
    T(hashkit_distribution_t);
    T(memcached_server_list_st);
    T(memcached_socket_t);
    T(pid_t);
    F(memcached_st, state);
    F(memcached_st, ketama.weighted_);
    F(memcached_st, configure.initial_pool_size);
    F(memcached_st, configure.max_pool_size);
    F(memcached_st, configure.version);
    F(memcached_st, configure.filename);
    F(memcached_st, sasl.callbacks);
    F(memcached_st, sasl.is_allocated);
    F(memcached_st, allocators.calloc);
    F(memcached_st, allocators.context);
    F(memcached_st, hashkit.base_hash.function);
    F(memcached_st, hashkit.distribution_hash.context);
    F(memcached_st, result.item_key);
    F(memcached_st, server_info.version);
    F(memcached_server_st, io_wait_count.read);
    F(memcached_server_st, io_wait_count.write);
    F(memcached_server_st, io_wait_count.timeouts);
    F(memcached_server_st, io_wait_count._bytes_read);
    F(memcached_result_st, value.string);
    F(memcached_callback_st, callback);
    F(memcached_callback_st, context);
    F(memcached_callback_st, number_of_callback);
    F(struct memcached_sasl_st, callbacks);
    F(struct memcached_sasl_st, is_allocated);
    F(memcached_string_t, c_str);
    F(memcached_string_t, size);
}

static void bitfields(void)
{
    BIT(memcached_st, state.is_purging);
    BIT(memcached_st, state.is_processing_input);
    BIT(memcached_st, state.is_time_for_rebuild);
    BIT(memcached_st, state.is_parsing);
    BIT(memcached_st, flags.auto_eject_hosts);
    BIT(memcached_st, flags.binary_protocol);
    BIT(memcached_st, flags.buffer_requests);
    BIT(memcached_st, flags.hash_with_namespace);
    BIT(memcached_st, flags.no_block);
    BIT(memcached_st, flags.reply);
    BIT(memcached_st, flags.randomize_replica_read);
    BIT(memcached_st, flags.support_cas);
    BIT(memcached_st, flags.tcp_nodelay);
    BIT(memcached_st, flags.use_sort_hosts);
    BIT(memcached_st, flags.use_udp);
    BIT(memcached_st, flags.verify_key);
    BIT(memcached_st, flags.tcp_keepalive);
    BIT(memcached_st, flags.is_aes);
    BIT(memcached_st, flags.is_fetching_version);
    BIT(memcached_st, flags.not_used);
    BIT(memcached_st, options.is_allocated);
    BIT(memcached_result_st, options.is_allocated);
    BIT(memcached_result_st, options.is_initialized);
    BIT(memcached_string_st, options.is_allocated);
    BIT(memcached_string_st, options.is_initialized);
    BIT(memcached_server_st, options.is_allocated);
    BIT(memcached_server_st, options.is_initialized);
    BIT(memcached_server_st, options.is_shutting_down);
    BIT(memcached_server_st, options.is_dead);
    BIT(hashkit_st, flags.is_base_same_distributed);
    BIT(hashkit_st, options.is_allocated);
}

static void enums(void)
{
    /* memcached_return_t */
    E(MEMCACHED_SUCCESS);
    E(MEMCACHED_FAILURE);
    E(MEMCACHED_HOST_LOOKUP_FAILURE);
    E(MEMCACHED_CONNECTION_FAILURE);
    E(MEMCACHED_CONNECTION_BIND_FAILURE);
    E(MEMCACHED_WRITE_FAILURE);
    E(MEMCACHED_READ_FAILURE);
    E(MEMCACHED_UNKNOWN_READ_FAILURE);
    E(MEMCACHED_PROTOCOL_ERROR);
    E(MEMCACHED_CLIENT_ERROR);
    E(MEMCACHED_SERVER_ERROR);
    E(MEMCACHED_ERROR);
    E(MEMCACHED_DATA_EXISTS);
    E(MEMCACHED_DATA_DOES_NOT_EXIST);
    E(MEMCACHED_NOTSTORED);
    E(MEMCACHED_STORED);
    E(MEMCACHED_NOTFOUND);
    E(MEMCACHED_MEMORY_ALLOCATION_FAILURE);
    E(MEMCACHED_PARTIAL_READ);
    E(MEMCACHED_SOME_ERRORS);
    E(MEMCACHED_NO_SERVERS);
    E(MEMCACHED_END);
    E(MEMCACHED_DELETED);
    E(MEMCACHED_VALUE);
    E(MEMCACHED_STAT);
    E(MEMCACHED_ITEM);
    E(MEMCACHED_ERRNO);
    E(MEMCACHED_FAIL_UNIX_SOCKET);
    E(MEMCACHED_NOT_SUPPORTED);
    E(MEMCACHED_NO_KEY_PROVIDED);
    E(MEMCACHED_FETCH_NOTFINISHED);
    E(MEMCACHED_TIMEOUT);
    E(MEMCACHED_BUFFERED);
    E(MEMCACHED_BAD_KEY_PROVIDED);
    E(MEMCACHED_INVALID_HOST_PROTOCOL);
    E(MEMCACHED_SERVER_MARKED_DEAD);
    E(MEMCACHED_UNKNOWN_STAT_KEY);
    E(MEMCACHED_E2BIG);
    E(MEMCACHED_INVALID_ARGUMENTS);
    E(MEMCACHED_KEY_TOO_BIG);
    E(MEMCACHED_AUTH_PROBLEM);
    E(MEMCACHED_AUTH_FAILURE);
    E(MEMCACHED_AUTH_CONTINUE);
    E(MEMCACHED_PARSE_ERROR);
    E(MEMCACHED_PARSE_USER_ERROR);
    E(MEMCACHED_DEPRECATED);
    E(MEMCACHED_IN_PROGRESS);
    E(MEMCACHED_SERVER_TEMPORARILY_DISABLED);
    E(MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE);
    E(MEMCACHED_MAXIMUM_RETURN);
    E(MEMCACHED_CONNECTION_SOCKET_CREATE_FAILURE);
    /* memcached_behavior_t */
    E(MEMCACHED_BEHAVIOR_NO_BLOCK);
    E(MEMCACHED_BEHAVIOR_TCP_NODELAY);
    E(MEMCACHED_BEHAVIOR_HASH);
    E(MEMCACHED_BEHAVIOR_KETAMA);
    E(MEMCACHED_BEHAVIOR_SOCKET_SEND_SIZE);
    E(MEMCACHED_BEHAVIOR_SOCKET_RECV_SIZE);
    E(MEMCACHED_BEHAVIOR_CACHE_LOOKUPS);
    E(MEMCACHED_BEHAVIOR_SUPPORT_CAS);
    E(MEMCACHED_BEHAVIOR_POLL_TIMEOUT);
    E(MEMCACHED_BEHAVIOR_DISTRIBUTION);
    E(MEMCACHED_BEHAVIOR_BUFFER_REQUESTS);
    E(MEMCACHED_BEHAVIOR_USER_DATA);
    E(MEMCACHED_BEHAVIOR_SORT_HOSTS);
    E(MEMCACHED_BEHAVIOR_VERIFY_KEY);
    E(MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT);
    E(MEMCACHED_BEHAVIOR_RETRY_TIMEOUT);
    E(MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED);
    E(MEMCACHED_BEHAVIOR_KETAMA_HASH);
    E(MEMCACHED_BEHAVIOR_BINARY_PROTOCOL);
    E(MEMCACHED_BEHAVIOR_SND_TIMEOUT);
    E(MEMCACHED_BEHAVIOR_RCV_TIMEOUT);
    E(MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT);
    E(MEMCACHED_BEHAVIOR_IO_MSG_WATERMARK);
    E(MEMCACHED_BEHAVIOR_IO_BYTES_WATERMARK);
    E(MEMCACHED_BEHAVIOR_IO_KEY_PREFETCH);
    E(MEMCACHED_BEHAVIOR_HASH_WITH_PREFIX_KEY);
    E(MEMCACHED_BEHAVIOR_NOREPLY);
    E(MEMCACHED_BEHAVIOR_USE_UDP);
    E(MEMCACHED_BEHAVIOR_AUTO_EJECT_HOSTS);
    E(MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS);
    E(MEMCACHED_BEHAVIOR_RANDOMIZE_REPLICA_READ);
    E(MEMCACHED_BEHAVIOR_CORK);
    E(MEMCACHED_BEHAVIOR_TCP_KEEPALIVE);
    E(MEMCACHED_BEHAVIOR_TCP_KEEPIDLE);
    E(MEMCACHED_BEHAVIOR_LOAD_FROM_FILE);
    E(MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS);
    E(MEMCACHED_BEHAVIOR_DEAD_TIMEOUT);
    E(MEMCACHED_BEHAVIOR_SERVER_TIMEOUT_LIMIT);
    E(MEMCACHED_BEHAVIOR_MAX);
    /* memcached_hash_t */
    E(MEMCACHED_HASH_DEFAULT);
    E(MEMCACHED_HASH_MD5);
    E(MEMCACHED_HASH_CRC);
    E(MEMCACHED_HASH_FNV1_64);
    E(MEMCACHED_HASH_FNV1A_64);
    E(MEMCACHED_HASH_FNV1_32);
    E(MEMCACHED_HASH_FNV1A_32);
    E(MEMCACHED_HASH_HSIEH);
    E(MEMCACHED_HASH_MURMUR);
    E(MEMCACHED_HASH_JENKINS);
    E(MEMCACHED_HASH_MURMUR3);
    E(MEMCACHED_HASH_CUSTOM);
    E(MEMCACHED_HASH_MAX);
    /* memcached_server_distribution_t */
    E(MEMCACHED_DISTRIBUTION_MODULA);
    E(MEMCACHED_DISTRIBUTION_CONSISTENT);
    E(MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
    E(MEMCACHED_DISTRIBUTION_RANDOM);
    E(MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA_SPY);
    E(MEMCACHED_DISTRIBUTION_CONSISTENT_WEIGHTED);
    E(MEMCACHED_DISTRIBUTION_VIRTUAL_BUCKET);
    E(MEMCACHED_DISTRIBUTION_CONSISTENT_MAX);
    /* memcached_callback_t */
    E(MEMCACHED_CALLBACK_PREFIX_KEY);
    E(MEMCACHED_CALLBACK_USER_DATA);
    E(MEMCACHED_CALLBACK_CLEANUP_FUNCTION);
    E(MEMCACHED_CALLBACK_CLONE_FUNCTION);
    E(MEMCACHED_CALLBACK_GET_FAILURE);
    E(MEMCACHED_CALLBACK_DELETE_TRIGGER);
    E(MEMCACHED_CALLBACK_MAX);
    E(MEMCACHED_CALLBACK_NAMESPACE);
    /* memcached_connection_t */
    E(MEMCACHED_CONNECTION_TCP);
    E(MEMCACHED_CONNECTION_UDP);
    E(MEMCACHED_CONNECTION_UNIX_SOCKET);
    /* memcached_server_state_t */
    E(MEMCACHED_SERVER_STATE_NEW);
    E(MEMCACHED_SERVER_STATE_ADDRINFO);
    E(MEMCACHED_SERVER_STATE_IN_PROGRESS);
    E(MEMCACHED_SERVER_STATE_CONNECTED);
    E(MEMCACHED_SERVER_STATE_IN_TIMEOUT);
    E(MEMCACHED_SERVER_STATE_DISABLED);
    /* hashkit_return_t */
    E(HASHKIT_SUCCESS);
    E(HASHKIT_FAILURE);
    E(HASHKIT_MEMORY_ALLOCATION_FAILURE);
    E(HASHKIT_INVALID_HASH);
    E(HASHKIT_INVALID_ARGUMENT);
    E(HASHKIT_MAXIMUM_RETURN);
    /* hashkit_hash_algorithm_t */
    E(HASHKIT_HASH_DEFAULT);
    E(HASHKIT_HASH_MD5);
    E(HASHKIT_HASH_CRC);
    E(HASHKIT_HASH_FNV1_64);
    E(HASHKIT_HASH_FNV1A_64);
    E(HASHKIT_HASH_FNV1_32);
    E(HASHKIT_HASH_FNV1A_32);
    E(HASHKIT_HASH_HSIEH);
    E(HASHKIT_HASH_MURMUR);
    E(HASHKIT_HASH_JENKINS);
    E(HASHKIT_HASH_MURMUR3);
    E(HASHKIT_HASH_CUSTOM);
    E(HASHKIT_HASH_MAX);
    /* hashkit_distribution_t */
    E(HASHKIT_DISTRIBUTION_MODULA);
    E(HASHKIT_DISTRIBUTION_RANDOM);
    E(HASHKIT_DISTRIBUTION_KETAMA);
    E(HASHKIT_DISTRIBUTION_MAX);
}

static void macros(void)
{
    MS(LIBMEMCACHED_VERSION_STRING);
    MI(LIBMEMCACHED_VERSION_HEX);
    MI(LIBMEMCACHED_WITH_SASL_SUPPORT);
    MI(LIBMEMCACHED_ENABLE_DEPRECATED);
    MI(LIBMEMCACHED_AWESOME);
    MS(LIBHASHKIT_VERSION_STRING);
    MI(LIBHASHKIT_VERSION_HEX);
    MI(MEMCACHED_MAX_BUFFER);
    MI(MEMCACHED_MAX_KEY);
    MI(MEMCACHED_MAX_NAMESPACE);
    MI(MEMCACHED_MAX_HOST_SORT_LENGTH);
    MI(MEMCACHED_MAX_INTEGER_DISPLAY_LENGTH);
    MI(MEMCACHED_VERSION_STRING_LENGTH);
    MI(MEMCACHED_MAXIMUM_INTEGER_DISPLAY_LENGTH);
    MI(MEMCACHED_PREFIX_KEY_MAX_SIZE);
    MI(MEMCACHED_DEFAULT_PORT);
    MS(MEMCACHED_DEFAULT_PORT_STRING);
    MI(MEMCACHED_POINTS_PER_SERVER);
    MI(MEMCACHED_POINTS_PER_SERVER_KETAMA);
    MI(MEMCACHED_CONTINUUM_SIZE);
    MI(MEMCACHED_STRIDE);
    MI(MEMCACHED_DEFAULT_TIMEOUT);
    MI(MEMCACHED_DEFAULT_CONNECT_TIMEOUT);
    MI(MEMCACHED_CONTINUUM_ADDITION);
    MI(MEMCACHED_EXPIRATION_NOT_ADD);
    MI(MEMCACHED_SERVER_FAILURE_LIMIT);
    MI(MEMCACHED_SERVER_FAILURE_RETRY_TIMEOUT);
    MI(MEMCACHED_SERVER_FAILURE_DEAD_TIMEOUT);
    MI(MEMCACHED_SERVER_TIMEOUT_LIMIT);
    MI(MEMCACHED_NI_MAXHOST);
    MI(MEMCACHED_NI_MAXSERV);
    /* the type of the expiration constant matters in comparisons */
    printf("macro %-46s = %s\n", "type(MEMCACHED_EXPIRATION_NOT_ADD)", TN(MEMCACHED_EXPIRATION_NOT_ADD));
    printf("macro %-46s = %s\n", "type(LIBMEMCACHED_VERSION_HEX)", TN(LIBMEMCACHED_VERSION_HEX));
#if LIBMEMCACHED_VERSION_HEX >= 0x01001004
    printf("macro LIBMEMCACHED_VERSION_HEX usable in #if\n");
#endif
}

static void helpers(void)
{
    int rc;
    for (rc = -2; rc <= MEMCACHED_MAXIMUM_RETURN + 8; rc++) {
        memcached_return_t r = (memcached_return_t)rc;
        printf("helper rc=%3d success=%d failed=%d fatal=%d continue=%d\n", rc,
               (int)memcached_success(r), (int)memcached_failed(r), (int)memcached_fatal(r),
               (int)memcached_continue(r));
    }
    for (rc = -1; rc <= HASHKIT_MAXIMUM_RETURN + 2; rc++) {
        hashkit_return_t r = (hashkit_return_t)rc;
        printf("helper hashkit rc=%2d success=%d failed=%d\n", rc, (int)hashkit_success(r),
               (int)hashkit_failed(r));
    }
}

int main(void)
{
    types_and_fields();
    bitfields();
    enums();
    macros();
    helpers();
    return 0;
}
