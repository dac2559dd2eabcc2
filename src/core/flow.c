/*
 * What every FLOW shares, whatever implements it: bytes left over by a
 * reader that took part of a view (a copying read, TLS's record reader)
 * wait in the flow's `unread` view and come first.
 */
#include <string.h>

#include "haze/assert.h"
#include "haze/flow.h"

int hz_flow_read(struct hz_flow *f, struct hz_view *out, uint64_t deadline)
{
	if (f->unread.pb != NULL) {
		*out = f->unread;
		f->unread = (struct hz_view){0};
		return (int)out->len;
	}
	return f->ops->read(f, out, deadline);
}

ssize_t hz_flow_write(struct hz_flow *f, const void *buf, size_t len,
		      uint64_t deadline)
{
	struct hz_iov iov = {buf, len};

	return hz_flow_writev(f, &iov, 1, deadline);
}

ssize_t hz_flow_read_copy(struct hz_flow *f, void *buf, size_t cap,
			  uint64_t deadline)
{
	struct hz_view v;
	size_t n;
	int r;

	if (cap == 0)
		return 0;
	r = hz_flow_read(f, &v, deadline);
	if (r <= 0)
		return r;
	n = v.len < cap ? v.len : cap;
	memcpy(buf, hz_view_data(&v), n);
	hz_flow_unread(f, &v, n);
	return (ssize_t)n;
}

void hz_flow_unread(struct hz_flow *f, struct hz_view *v, size_t used)
{
	if (used < v->len && hz_view_pull(v, used) == 0) {
		HZ_ASSERT(f->unread.pb == NULL); /* only after a read of it */
		f->unread = *v;
		*v = (struct hz_view){0};
	}
	hz_view_release(v);
}

void hz_flow_close(struct hz_flow *f)
{
	/* Bytes a copying read left over die with the flow. */
	hz_view_release(&f->unread);
	f->ops->close(f);
}

void hz_flow_abort(struct hz_flow *f)
{
	hz_view_release(&f->unread);
	if (f->ops->abort != NULL)
		f->ops->abort(f);
	else
		f->ops->close(f);
}

void hz_flow_free(struct hz_flow *f)
{
	hz_view_release(&f->unread);
	f->ops->free(f);
}
