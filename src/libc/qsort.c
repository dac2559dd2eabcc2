/*
 * qsort and bsearch. qsort is a heapsort: O(n log n) in every case, in
 * place, without recursion, so no input can make it slow or deepen the
 * small stack of a fiber. It is not stable; C does not ask it to be.
 */
#include <stdlib.h>

typedef int (*cmp_fn)(const void *, const void *);

static void swap(unsigned char *a, unsigned char *b, size_t size)
{
	while (size-- > 0) {
		unsigned char t = *a;

		*a++ = *b;
		*b++ = t;
	}
}

/* Moves element @root down until it is no smaller than its children. */
static void sift_down(unsigned char *base, size_t root, size_t n, size_t size,
		      cmp_fn cmp)
{
	for (;;) {
		size_t child = 2 * root + 1;

		if (child >= n)
			return;
		if (child + 1 < n &&
		    cmp(base + child * size, base + (child + 1) * size) < 0)
			child++;
		if (cmp(base + root * size, base + child * size) >= 0)
			return;
		swap(base + root * size, base + child * size, size);
		root = child;
	}
}

/* Sorts @n elements of @size bytes into the ascending order of @cmp. */
void qsort(void *base, size_t n, size_t size, cmp_fn cmp)
{
	unsigned char *b = base;
	size_t i;

	if (n < 2 || size == 0)
		return;
	for (i = n / 2; i-- > 0;)
		sift_down(b, i, n, size, cmp);
	for (i = n - 1; i > 0; i--) {
		swap(b, b + i * size, size);
		sift_down(b, 0, i, size, cmp);
	}
}

/* Finds @key in @n sorted elements of @size bytes, or returns NULL. */
void *bsearch(const void *key, const void *base, size_t n, size_t size,
	      cmp_fn cmp)
{
	const unsigned char *lo = base;

	while (n > 0) {
		const unsigned char *mid = lo + (n / 2) * size;
		int c = cmp(key, mid);

		if (c == 0)
			return (void *)mid;
		if (c > 0) {
			lo = mid + size;
			n -= n / 2 + 1;
		} else {
			n /= 2;
		}
	}
	return NULL;
}
