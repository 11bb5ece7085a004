/* <libhashkit-1.0/configure.h>: the libhashkit API of omcache (all of it, whichever real sub-header is named). */
#include "../omcache_libhashkit.h"
