/*
 * Host names compared as DNS and TLS compare them (haze/hostname.h):
 * ASCII letters without case, every other byte exactly, and the whole of
 * both names.
 */
#include "tests/unit/harness.h"

#include "haze/hostname.h"

static void letters_compare_without_case(void **state)
{
	(void)state;
	assert_true(hz_hostname_equal("example.org", "example.org"));
	assert_true(hz_hostname_equal("Example.ORG", "eXAMPLE.org"));
	assert_true(hz_hostname_equal("", ""));
}

static void other_bytes_and_lengths_must_match(void **state)
{
	(void)state;
	assert_false(hz_hostname_equal("example.org", "example.org."));
	assert_false(hz_hostname_equal("example.or", "example.org"));
	assert_false(hz_hostname_equal("a-b.org", "a_b.org"));
	assert_false(hz_hostname_equal("", "a"));
	/* Only ASCII letters fold: '@' and '`' sit beside 'A' and 'a'. */
	assert_false(hz_hostname_equal("@", "`"));
	assert_false(hz_hostname_equal("[", "{"));
	/* Bytes above 127 compare as they are. */
	assert_false(hz_hostname_equal("\xc3\x89", "\xc3\xa9"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(letters_compare_without_case),
	    HARNESS_TEST(other_bytes_and_lengths_must_match),
	};

	return HARNESS_RUN("hostname", tests);
}
