/* An application's own libz.so.1 (as some products bundle one): same
 * soname as the system's, but built without symbol versions, so a library
 * that needs zlib's versioned symbols (libdw needs ZLIB_1.2.2.3) cannot
 * bind to it once the application's copy is loaded. */
const char *zlibVersion(void)
{
	return "bundled-stub";
}
