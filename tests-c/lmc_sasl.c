/* lmc_sasl.c - SASL PLAIN through libmemcached 1.1.4's API, run by lmc-sasl.sh on Debian's
 * library and on ours: memcached_set_sasl_auth_data (it turns the binary protocol on), the
 * operations of an authenticated handle, a wrong password (and what the next operations get),
 * the protocol turned back to ASCII, clones, memcached_destroy_sasl_auth_data, credentials
 * against a server without SASL, memcached_quit and reconnects, the callbacks getters.
 * Usage: lmc_sasl SASL_PORT PLAIN_PORT USER PASSWORD (a memcached -S that accepts USER/PASSWORD
 * with mech_list plain, and a memcached without SASL). */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static memcached_st *handle(in_port_t port)
{
    memcached_st *m = memcached_create(NULL);
    memcached_server_add(m, "127.0.0.1", port);
    /* Short waits: a failed server is retried after 1 s. */
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 1);
    return m;
}

static void show(const char *what, memcached_return_t rc)
{
    printf("%-40s rc %2d %s\n", what, (int)rc, memcached_strerror(NULL, rc));
}

/* The code and the handle's last error message. */
static void showm(memcached_st *m, const char *what, memcached_return_t rc)
{
    show(what, rc);
    printf("  message %s\n", memcached_last_error_message(m));
}

static void ops(const char *who, memcached_st *m)
{
    char what[128];
    size_t len = 0;
    uint32_t flags = 0;
    uint64_t v = 0;
    memcached_return_t rc;
#define S(op) (snprintf(what, sizeof what, "%s %s", who, op), what)
    show(S("set"), memcached_set(m, "sasl-k", 6, "value", 5, 0, 7));
    char *val = memcached_get(m, "sasl-k", 6, &len, &flags, &rc);
    show(S("get"), rc);
    printf("  value %.*s flags %u\n", val ? (int)len : 4, val ? val : "NULL", flags);
    free(val);
    show(S("add existing"), memcached_add(m, "sasl-k", 6, "v", 1, 0, 0));
    show(S("append"), memcached_append(m, "sasl-k", 6, "+", 1, 0, 0));
    show(S("delete"), memcached_delete(m, "sasl-k", 6, 0));
    show(S("delete miss"), memcached_delete(m, "sasl-k", 6, 0));
    show(S("incr with initial"), memcached_increment_with_initial(m, "sasl-n", 6, 2, 40, 0, &v));
    show(S("incr"), memcached_increment(m, "sasl-n", 6, 2, &v));
    printf("  counter %llu\n", (unsigned long long)v);
    show(S("touch"), memcached_touch(m, "sasl-n", 6, 100));
    show(S("exist"), memcached_exist(m, "sasl-n", 6));
    const char *keys[2] = {"sasl-n", "sasl-missing"};
    size_t lens[2] = {6, 12};
    show(S("mget"), memcached_mget(m, keys, lens, 2));
    memcached_result_st *r;
    while ((r = memcached_fetch_result(m, NULL, &rc))) {
        printf("  fetched %.*s = %.*s\n", (int)memcached_result_key_length(r),
               memcached_result_key_value(r), (int)memcached_result_length(r),
               memcached_result_value(r));
        memcached_result_free(r);
    }
    show(S("fetch end"), rc);
    memcached_stat_st *st = memcached_stat(m, NULL, &rc);
    show(S("stat"), rc);
    memcached_stat_free(m, st);
    show(S("version"), memcached_version(m));
    show(S("flush"), memcached_flush(m, 0));
#undef S
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: lmc_sasl SASL_PORT PLAIN_PORT USER PASSWORD\n");
        return 2;
    }
    in_port_t sasl_port = (in_port_t)atoi(argv[1]), plain_port = (in_port_t)atoi(argv[2]);
    const char *user = argv[3], *pass = argv[4];
    memcached_return_t rc;
    size_t len;
    uint32_t flags;

    /* The authenticated handle. */
    memcached_st *m = handle(sasl_port);
    printf("binary before %llu\n",
           (unsigned long long)memcached_behavior_get(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL));
    printf("callbacks before: %s\n", memcached_get_sasl_callbacks(m) ? "set" : "NULL");
    show("set_sasl_auth_data", memcached_set_sasl_auth_data(m, user, pass));
    printf("binary after %llu\n",
           (unsigned long long)memcached_behavior_get(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL));
    printf("callbacks after: %s\n", memcached_get_sasl_callbacks(m) ? "set" : "NULL");
    ops("auth", m);

    /* A clone authenticates with the same credentials; the original keeps working after
     * its connections are closed. */
    memcached_st *c = memcached_clone(NULL, m);
    printf("clone callbacks: %s\n", memcached_get_sasl_callbacks(c) ? "set" : "NULL");
    show("clone set", memcached_set(c, "clone-k", 7, "cv", 2, 0, 0));
    free(memcached_get(m, "clone-k", 7, &len, &flags, &rc));
    show("original get of clone's key", rc);
    memcached_free(c);
    memcached_quit(m);
    show("set after quit", memcached_set(m, "q", 1, "1", 1, 0, 0));
    /* Replacing the credentials. */
    show("set_sasl_auth_data again", memcached_set_sasl_auth_data(m, user, pass));
    show("set after new data", memcached_set(m, "q", 1, "2", 1, 0, 0));

    /* Back to ASCII with credentials set. */
    show("binary off", memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 0));
    showm(m, "ascii set", memcached_set(m, "a", 1, "1", 1, 0, 0));
    free(memcached_get(m, "a", 1, &len, &flags, &rc));
    show("ascii get", rc);
    show("ascii set again", memcached_set(m, "a", 1, "1", 1, 0, 0));
    show("binary on", memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1));
    show("binary set", memcached_set(m, "a", 1, "1", 1, 0, 0));

    /* Destroyed credentials: the server refuses unauthenticated requests. */
    show("destroy_sasl_auth_data", memcached_destroy_sasl_auth_data(m));
    printf("callbacks after destroy: %s\n", memcached_get_sasl_callbacks(m) ? "set" : "NULL");
    show("destroy again", memcached_destroy_sasl_auth_data(m));
    memcached_quit(m);
    show("set without credentials", memcached_set(m, "a", 1, "1", 1, 0, 0));
    memcached_free(m);

    /* A wrong password, then what the next operations get. */
    m = handle(sasl_port);
    show("set_sasl_auth_data wrong", memcached_set_sasl_auth_data(m, user, "wrong-password"));
    showm(m, "set 1", memcached_set(m, "w", 1, "1", 1, 0, 0));
    showm(m, "set 2", memcached_set(m, "w", 1, "1", 1, 0, 0));
    free(memcached_get(m, "w", 1, &len, &flags, &rc));
    show("get 3", rc);
    sleep(2);
    show("set after retry timeout", memcached_set(m, "w", 1, "1", 1, 0, 0));
    show("set after that", memcached_set(m, "w", 1, "1", 1, 0, 0));
    memcached_free(m);

    /* An unknown user. */
    m = handle(sasl_port);
    show("set_sasl_auth_data unknown user", memcached_set_sasl_auth_data(m, "nobody-here", pass));
    showm(m, "set unknown user", memcached_set(m, "w", 1, "1", 1, 0, 0));
    memcached_free(m);

    /* No credentials at all against the SASL server, binary. */
    m = handle(sasl_port);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    /* 1.1.4 returns the server's refusal without recording it as the last error. */
    showm(m, "no credentials binary set", memcached_set(m, "w", 1, "1", 1, 0, 0));
    printf("  last error %d\n", (int)memcached_last_error(m));
    free(memcached_get(m, "w", 1, &len, &flags, &rc));
    showm(m, "no credentials binary get", rc);
    show("no credentials binary set 2", memcached_set(m, "w", 1, "1", 1, 0, 0));
    memcached_free(m);

    /* Credentials against a server without SASL. */
    m = handle(plain_port);
    show("set_sasl_auth_data (server without SASL)", memcached_set_sasl_auth_data(m, user, pass));
    showm(m, "no-SASL server set", memcached_set(m, "p", 1, "1", 1, 0, 0));
    free(memcached_get(m, "p", 1, &len, &flags, &rc));
    show("no-SASL server get", rc);
    memcached_free(m);

    /* Bad arguments. */
    m = memcached_create(NULL);
    show("set_sasl_auth_data NULL user", memcached_set_sasl_auth_data(m, NULL, pass));
    show("set_sasl_auth_data NULL password", memcached_set_sasl_auth_data(m, user, NULL));
    printf("binary after NULL args %llu\n",
           (unsigned long long)memcached_behavior_get(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL));
    show("set_sasl_auth_data NULL handle", memcached_set_sasl_auth_data(NULL, user, pass));
    show("destroy NULL handle", memcached_destroy_sasl_auth_data(NULL));
    show("destroy without data", memcached_destroy_sasl_auth_data(m));
    printf("get callbacks NULL handle: %s\n", memcached_get_sasl_callbacks(NULL) ? "set" : "NULL");
    memcached_set_sasl_callbacks(NULL, NULL);
    memcached_set_sasl_callbacks(m, NULL);
    printf("callbacks after set NULL: %s\n", memcached_get_sasl_callbacks(m) ? "set" : "NULL");
    /* Credentials on a handle that is then freed without destroy (no leak). */
    show("set_sasl_auth_data then free", memcached_set_sasl_auth_data(m, user, pass));
    memcached_free(m);

    /* A handle on the stack and its clone. (Cloning into uninitialised caller memory makes
     * the real 1.1.4 read it: it crashes.) */
    memcached_st on_stack;
    memcached_create(&on_stack);
    memcached_server_add(&on_stack, "127.0.0.1", sasl_port);
    show("stack set_sasl_auth_data", memcached_set_sasl_auth_data(&on_stack, user, pass));
    memcached_st *stack_clone = memcached_clone(NULL, &on_stack);
    show("stack clone set", memcached_set(stack_clone, "s", 1, "1", 1, 0, 0));
    memcached_free(stack_clone);
    memcached_free(&on_stack);
    return 0;
}
