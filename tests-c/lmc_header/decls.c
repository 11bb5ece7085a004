/* The whole declared API, for gcc -aux-info (tests-c/lmc-header-check.sh). */
#include <libmemcached/memcached.h>
#include <libmemcached/util.h>
