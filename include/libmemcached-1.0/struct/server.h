/* <libmemcached-1.0/struct/server.h>: the libmemcached API of omcache (all of it, whichever real sub-header is named). */
#include "../../omcache_libmemcached.h"
