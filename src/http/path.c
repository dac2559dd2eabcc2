/*
 * Request paths as the names of a static site's files: what a server that
 * maps paths to stored files (examples/website, the haze website
 * template) must decode, refuse and redirect alike.
 */
#include <string.h>

#include "haze/http.h"
#include "http/http_int.h"

int hz_http_path_name(const char *path, const char *index, char *name,
		      size_t cap, bool *dir)
{
	size_t ilen = strlen(index), n = 0, seg = 0, room;

	*dir = false;
	if (path[0] != '/')
		return -HZ_EINVAL;
	if (cap < ilen + 2)
		return -HZ_ENOSPC;
	/* Writes stay below cap; the name itself, once its trailing '/'
	 * or "." is dropped, must leave room for "/" index NUL. */
	room = cap - ilen - 2;
	for (const char *p = path + 1;; p++) {
		char c = *p;
		bool end = c == '\0' || c == '?' || c == '#';

		if (end || c == '/') {
			size_t len = n - seg;

			if (len == 2 && name[seg] == '.' &&
			    name[seg + 1] == '.')
				return -HZ_EINVAL;
			if (len == 0 || (len == 1 && name[seg] == '.')) {
				n = seg; /* an empty or "." segment: dropped */
			} else if (!end) {
				if (n + 1 >= cap)
					return -HZ_ENOSPC;
				name[n++] = '/';
			}
			seg = n;
			if (end) {
				*dir = p[-1] == '/';
				break;
			}
			continue;
		}
		if (c == '%') {
			int hi = http_hex_value((uint8_t)p[1]);
			int lo = hi < 0 ? -1 : http_hex_value((uint8_t)p[2]);

			if (lo < 0)
				return -HZ_EINVAL;
			c = (char)(hi << 4 | lo);
			p += 2;
			if (c == '/')
				return -HZ_EINVAL; /* not a separator */
		}
		if ((unsigned char)c < 0x20 || c == 0x7f || c == '\\')
			return -HZ_EINVAL;
		if (n + 1 >= cap)
			return -HZ_ENOSPC;
		name[n++] = c;
	}
	if (n > 0 && name[n - 1] == '/')
		n--; /* "a/." */
	if (n > room)
		return -HZ_ENOSPC;
	if (n == 0 || *dir) {
		if (n > 0)
			name[n++] = '/';
		memcpy(name + n, index, ilen + 1);
	} else {
		name[n] = '\0';
	}
	return 0;
}

int hz_http_dir_location(const char *name, const char *query, char *out,
			 size_t cap)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t n = 0, qlen = strlen(query);

	if (cap < 3)
		return -HZ_ENOSPC;
	out[n++] = '/';
	for (const unsigned char *k = (const unsigned char *)name; *k != 0;
	     k++) {
		bool plain =
		    (*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		    (*k >= '0' && *k <= '9') || strchr("-._~/", *k) != NULL;

		if (n + (plain ? 1 : 3) + 2 > cap)
			return -HZ_ENOSPC;
		if (plain) {
			out[n++] = (char)*k;
		} else {
			out[n++] = '%';
			out[n++] = digits[*k >> 4];
			out[n++] = digits[*k & 15];
		}
	}
	out[n++] = '/';
	if (n + qlen < cap) { /* a query too long is left out, not cut */
		memcpy(out + n, query, qlen);
		n += qlen;
	}
	out[n] = '\0';
	return 0;
}
