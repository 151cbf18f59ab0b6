/* Shared helpers for the cmocka unit tests. */
#ifndef SPANPROF_TEST_UTIL_H
#define SPANPROF_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#endif
