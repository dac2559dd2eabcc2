# The website (examples/website) judged whole: Linux clients on the unix
# target's socket and direct stacks and under haze-kvm, headless Chromium,
# abuse with other clients served meanwhile, and `make run` on a fresh
# clone (tests/website/, docs/testing.md, docs/http.md "Tests").
#
# The kvm image and the tender are in TEST_DEPS through mk/kvm.mk; the
# test CA and certificates through mk/tls.mk's rule for $(TLS_CERTS).

TEST_SUITES += tests/website/interop_socket.sh \
	tests/website/interop_direct.sh tests/website/interop_kvm.sh \
	tests/website/browser.sh tests/website/abuse.sh \
	tests/website/memory.sh tests/website/laggards.sh \
	tests/website/make_run.sh tests/website/startup.sh
TEST_DEPS += $(O)/unix/examples/website/website $(TLS_CERTS)/ca.pem
