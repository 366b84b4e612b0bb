//! Integration tests: start the real `meridian` binary and talk to it over real sockets.
