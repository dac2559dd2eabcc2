# Test tiers. Every suite is a command that prints TAP on stdout
# ("ok N - what", "not ok N - what", "ok N # SKIP why"); tests/run runs them
# all and prints one totals line. Fragments add suites with
# TEST_SUITES += path and the files the suites need with TEST_DEPS += files.

TEST_SUITES :=
TEST_DEPS :=
