/*
 * Words for BearSSL's numbers: engine errors, alerts (RFC 5246 names),
 * X.509 validation failures and cipher suites, so that every TLS failure
 * reads as what happened ("certificate rejected: expired") rather than a
 * code.
 */
#include <stddef.h>
#include <string.h>

#include "haze/hostname.h"
#include "tls/tls_int.h"

const char *tls_alert_name(unsigned alert)
{
	switch (alert) {
	case BR_ALERT_CLOSE_NOTIFY:
		return "close_notify";
	case BR_ALERT_UNEXPECTED_MESSAGE:
		return "unexpected_message";
	case BR_ALERT_BAD_RECORD_MAC:
		return "bad_record_mac";
	case BR_ALERT_RECORD_OVERFLOW:
		return "record_overflow";
	case BR_ALERT_DECOMPRESSION_FAILURE:
		return "decompression_failure";
	case BR_ALERT_HANDSHAKE_FAILURE:
		return "handshake_failure";
	case BR_ALERT_BAD_CERTIFICATE:
		return "bad_certificate";
	case BR_ALERT_UNSUPPORTED_CERTIFICATE:
		return "unsupported_certificate";
	case BR_ALERT_CERTIFICATE_REVOKED:
		return "certificate_revoked";
	case BR_ALERT_CERTIFICATE_EXPIRED:
		return "certificate_expired";
	case BR_ALERT_CERTIFICATE_UNKNOWN:
		return "certificate_unknown";
	case BR_ALERT_ILLEGAL_PARAMETER:
		return "illegal_parameter";
	case BR_ALERT_UNKNOWN_CA:
		return "unknown_ca";
	case BR_ALERT_ACCESS_DENIED:
		return "access_denied";
	case BR_ALERT_DECODE_ERROR:
		return "decode_error";
	case BR_ALERT_DECRYPT_ERROR:
		return "decrypt_error";
	case BR_ALERT_PROTOCOL_VERSION:
		return "protocol_version";
	case BR_ALERT_INSUFFICIENT_SECURITY:
		return "insufficient_security";
	case BR_ALERT_INTERNAL_ERROR:
		return "internal_error";
	case BR_ALERT_USER_CANCELED:
		return "user_canceled";
	case BR_ALERT_NO_RENEGOTIATION:
		return "no_renegotiation";
	case BR_ALERT_UNSUPPORTED_EXTENSION:
		return "unsupported_extension";
	case BR_ALERT_NO_APPLICATION_PROTOCOL:
		return "no_application_protocol";
	case 86:
		return "inappropriate_fallback";
	case 109:
		return "missing_extension";
	case 112:
		return "unrecognized_name";
	case 116:
		return "certificate_required";
	default:
		return "unknown alert";
	}
}

/* The X.509 validation failures, as the step that failed. */
static const char *x509_text(int err)
{
	switch (err) {
	case BR_ERR_X509_EXPIRED:
		return "certificate rejected: expired or not yet valid";
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "certificate rejected: wrong host name (it does not "
		       "name the server asked for)";
	case BR_ERR_X509_NOT_TRUSTED:
		return "certificate rejected: untrusted issuer (no trust "
		       "anchor signed the chain)";
	case BR_ERR_X509_TIME_UNKNOWN:
		return "certificate rejected: no validation time";
	case BR_ERR_X509_BAD_SIGNATURE:
		return "certificate rejected: bad signature in the chain";
	case BR_ERR_X509_DN_MISMATCH:
		return "certificate rejected: chain out of order (issuer and "
		       "subject names do not match)";
	case BR_ERR_X509_NOT_CA:
		return "certificate rejected: an issuer is not a CA";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
		return "certificate rejected: key usage forbids TLS server use";
	case BR_ERR_X509_WEAK_PUBLIC_KEY:
		return "certificate rejected: public key too weak";
	case BR_ERR_X509_CRITICAL_EXTENSION:
		return "certificate rejected: unsupported critical extension";
	case BR_ERR_X509_EMPTY_CHAIN:
		return "certificate rejected: the peer sent no certificate";
	case BR_ERR_X509_UNSUPPORTED:
		return "certificate rejected: unsupported algorithm or key";
	case BR_ERR_X509_LIMIT_EXCEEDED:
		return "certificate rejected: chain or name too large";
	case BR_ERR_X509_WRONG_KEY_TYPE:
		return "certificate rejected: key type does not match the "
		       "cipher suite";
	case BR_ERR_X509_BAD_TIME:
		return "certificate rejected: malformed validity dates";
	case BR_ERR_X509_BAD_DN:
		return "certificate rejected: malformed name";
	default:
		return "certificate rejected: malformed certificate";
	}
}

const char *tls_br_error_text(int err)
{
	if (err >= BR_ERR_X509_OK && err < BR_ERR_X509_OK + 64)
		return x509_text(err);
	switch (err) {
	case BR_ERR_OK:
		return "no error";
	case BR_ERR_BAD_PARAM:
		return "bad parameter given to the engine";
	case BR_ERR_BAD_STATE:
		return "engine used in the wrong state";
	case BR_ERR_UNSUPPORTED_VERSION:
		return "the peer wants a protocol version other than TLS 1.2";
	case BR_ERR_BAD_VERSION:
		return "record with the wrong protocol version";
	case BR_ERR_BAD_LENGTH:
		return "record with an impossible length";
	case BR_ERR_TOO_LARGE:
		return "record too large";
	case BR_ERR_BAD_MAC:
		return "record failed authentication (bad MAC or tag)";
	case BR_ERR_NO_RANDOM:
		return "no random bytes to seed the engine";
	case BR_ERR_UNKNOWN_TYPE:
		return "record of an unknown type";
	case BR_ERR_UNEXPECTED:
		return "unexpected message";
	case BR_ERR_BAD_CCS:
		return "malformed ChangeCipherSpec";
	case BR_ERR_BAD_ALERT:
		return "malformed alert";
	case BR_ERR_BAD_HANDSHAKE:
		return "malformed handshake message";
	case BR_ERR_OVERSIZED_ID:
		return "oversized session ID";
	case BR_ERR_BAD_CIPHER_SUITE:
		return "no cipher suite in common (TLS 1.2 ECDHE with "
		       "AES-GCM or ChaCha20-Poly1305 only)";
	case BR_ERR_BAD_COMPRESSION:
		return "no compression method in common";
	case BR_ERR_BAD_FRAGLEN:
		return "maximum fragment length not supported";
	case BR_ERR_BAD_SECRENEG:
		return "secure renegotiation failure";
	case BR_ERR_EXTRA_EXTENSION:
		return "unsolicited extension";
	case BR_ERR_BAD_SNI:
		return "malformed server name (SNI)";
	case BR_ERR_BAD_HELLO_DONE:
		return "malformed ServerHelloDone";
	case BR_ERR_LIMIT_EXCEEDED:
		return "a handshake limit was exceeded";
	case BR_ERR_BAD_FINISHED:
		return "Finished message did not verify";
	case BR_ERR_RESUME_MISMATCH:
		return "session resumption mismatch";
	case BR_ERR_INVALID_ALGORITHM:
		return "unsupported or invalid algorithm";
	case BR_ERR_BAD_SIGNATURE:
		return "bad signature on the key exchange";
	case BR_ERR_WRONG_KEY_USAGE:
		return "key usage does not allow this cipher suite";
	case BR_ERR_NO_CLIENT_AUTH:
		return "the client sent no certificate";
	case BR_ERR_IO:
		return "I/O failure";
	default:
		return "unknown failure";
	}
}

static const struct {
	uint16_t id;
	const char *name;
} suites[] = {
    {BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
     "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
    {BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
     "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
    {BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
     "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
    {BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
     "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
    {BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
     "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
    {BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
     "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
};

const char *tls_suite_name(uint16_t suite)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].id == suite)
			return suites[i].name;
	return NULL;
}

bool tls_name_matches(const char *pattern, const char *name)
{
	size_t plen = strlen(pattern), nlen = strlen(name);
	const char *dot;

	if (plen == 0 || nlen == 0)
		return false;
	if (pattern[0] != '*' || plen < 3 || pattern[1] != '.')
		return hz_hostname_equal(pattern, name);
	/* "*.example.org": exactly one non-empty label in front. */
	dot = strchr(name, '.');
	if (dot == NULL || dot == name)
		return false;
	return hz_hostname_equal(dot, pattern + 1);
}
