//! The classic text protocol: to be written.
