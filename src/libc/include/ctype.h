/*
 * ctype.h for Haze's freestanding libc: the C locale only. Each function
 * takes an int that is EOF or an unsigned char value; anything else gives
 * false (or is returned unchanged by toupper/tolower) rather than reading
 * out of a table.
 */
#ifndef _HZ_LIBC_CTYPE_H
#define _HZ_LIBC_CTYPE_H

int isalnum(int c);
int isalpha(int c);
int isblank(int c);
int iscntrl(int c);
int isdigit(int c);
int isgraph(int c);
int islower(int c);
int isprint(int c);
int ispunct(int c);
int isspace(int c);
int isupper(int c);
int isxdigit(int c);
int tolower(int c);
int toupper(int c);

#endif
