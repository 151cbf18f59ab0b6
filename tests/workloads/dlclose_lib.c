/* A library that dlclose_burn loads, burns CPU in, and unloads again. */
#include "burn.h"

NOIPA void dlclose_lib_burn(double secs)
{
	burn_cpu(secs);
}
