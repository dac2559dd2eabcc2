/*
 * Guest test for gdb (tests/gdb/run.py, tests/tender/test_gdb.c): a
 * global with a known value to print and read byte by byte, hz_main to
 * break in and step through, and a known exit status.
 */
#include <haze/haze.h>

/* 0x2a4d7a48: gdb prints 709720648, x/4xb shows 0x48 0x7a 0x4d 0x2a. */
volatile unsigned debuggee_answer = 0x2a4d7a48u;

int hz_main(int argc, char **argv)
{
	hz_printf("debuggee: %u\n", debuggee_answer);
	debuggee_answer += (unsigned)argc;
	return 7;
}
