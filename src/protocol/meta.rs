//! The meta protocol (memcached >= 1.6): to be written.
