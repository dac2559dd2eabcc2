/* Error codes and detailed error messages (see haze/error.h). */
#include <stdio.h>

#include "haze/error.h"

static const struct {
	const char *name;
	const char *text;
} errors[HZ_ERROR_COUNT_] = {
    [HZ_OK] = {"HZ_OK", "success"},
    [HZ_EAGAIN] = {"HZ_EAGAIN", "try again"},
    [HZ_ECLOSED] = {"HZ_ECLOSED", "closed"},
    [HZ_ETIMEDOUT] = {"HZ_ETIMEDOUT", "timed out"},
    [HZ_ECONNREFUSED] = {"HZ_ECONNREFUSED", "connection refused"},
    [HZ_ECONNRESET] = {"HZ_ECONNRESET", "connection reset by peer"},
    [HZ_ETLS] = {"HZ_ETLS", "TLS failure"},
    [HZ_ENOMEM] = {"HZ_ENOMEM", "out of memory"},
    [HZ_EINVAL] = {"HZ_EINVAL", "invalid argument"},
    [HZ_ENOENT] = {"HZ_ENOENT", "no such entry"},
    [HZ_EEXIST] = {"HZ_EEXIST", "already exists"},
    [HZ_EIO] = {"HZ_EIO", "I/O error"},
    [HZ_ENOTSUP] = {"HZ_ENOTSUP", "not supported"},
    [HZ_ENOSPC] = {"HZ_ENOSPC", "no space left"},
    [HZ_EMSGSIZE] = {"HZ_EMSGSIZE", "message too large"},
    [HZ_EPROTO] = {"HZ_EPROTO", "protocol error"},
    [HZ_ECANCELED] = {"HZ_ECANCELED", "canceled"},
    [HZ_ECONNABORTED] = {"HZ_ECONNABORTED", "connection given up"},
};

static int index_of(int code)
{
	if (code < 0)
		code = code < -HZ_ERROR_COUNT_ ? HZ_ERROR_COUNT_ : -code;
	return code < HZ_ERROR_COUNT_ ? code : -1;
}

const char *hz_strerror(int code)
{
	int i = index_of(code);

	return i >= 0 ? errors[i].text : "unknown error";
}

const char *hz_errname(int code)
{
	int i = index_of(code);

	return i >= 0 ? errors[i].name : "HZ_E?";
}

int hz_errmsg_vset(struct hz_errmsg *m, int code, const char *fmt, va_list ap)
{
	m->code = code;
	vsnprintf(m->text, sizeof(m->text), fmt, ap);
	return code;
}

int hz_errmsg_set(struct hz_errmsg *m, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = hz_errmsg_vset(m, code, fmt, ap);
	va_end(ap);
	return code;
}

const char *hz_errmsg_text(const struct hz_errmsg *m)
{
	if (m->code == 0)
		return "no error";
	return m->text[0] != '\0' ? m->text : hz_strerror(m->code);
}

void hz_errmsg_clear(struct hz_errmsg *m)
{
	m->code = 0;
	m->text[0] = '\0';
}
