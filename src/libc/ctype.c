/*
 * ctype.h for the C locale: ASCII classes by comparison, no table. An
 * argument outside EOF and 0..255 is not in any class.
 */
#include <ctype.h>

/* True for A-Z and a-z. */
int isalpha(int c)
{
	return isupper(c) || islower(c);
}

/* True for 0-9. */
int isdigit(int c)
{
	return c >= '0' && c <= '9';
}

/* True for letters and digits. */
int isalnum(int c)
{
	return isalpha(c) || isdigit(c);
}

/* True for space and tab. */
int isblank(int c)
{
	return c == ' ' || c == '\t';
}

/* True for the control characters 0-31 and 127. */
int iscntrl(int c)
{
	return (c >= 0 && c < 0x20) || c == 0x7f;
}

/* True for the printing characters other than space. */
int isgraph(int c)
{
	return c > ' ' && c < 0x7f;
}

/* True for a-z. */
int islower(int c)
{
	return c >= 'a' && c <= 'z';
}

/* True for the printing characters, space included. */
int isprint(int c)
{
	return c >= ' ' && c < 0x7f;
}

/* True for the printing characters that are not letters, digits or space. */
int ispunct(int c)
{
	return isgraph(c) && !isalnum(c);
}

/* True for space, \t, \n, \v, \f and \r. */
int isspace(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* True for A-Z. */
int isupper(int c)
{
	return c >= 'A' && c <= 'Z';
}

/* True for 0-9, a-f and A-F. */
int isxdigit(int c)
{
	return isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Maps A-Z to a-z; returns anything else unchanged. */
int tolower(int c)
{
	return isupper(c) ? c - 'A' + 'a' : c;
}

/* Maps a-z to A-Z; returns anything else unchanged. */
int toupper(int c)
{
	return islower(c) ? c - 'a' + 'A' : c;
}
