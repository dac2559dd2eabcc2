# HTTP/1.1 (src/http, include/haze/http.h, docs/http.md): the sans-I/O
# parser, serialisation, the server on any FLOW and the small client.
#
# A library of its own, declared in mk/layers.mk (HZ_LIBS, USES_http);
# its unit tests (tests/unit/test_http*.c) and its fuzz harness
# (fuzz/fuzz_http.c, corpus fuzz/corpus/http) are found by the generic
# rules of mk/tests.mk and mk/fuzz.mk, so nothing more is needed here
# yet. Applications that serve HTTP link it like any other library.
