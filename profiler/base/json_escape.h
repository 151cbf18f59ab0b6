/* JSON string output for the line-oriented files and --json CLI output. */
#ifndef SPANPROF_JSON_ESCAPE_H
#define SPANPROF_JSON_ESCAPE_H

#include <stdio.h>

/* Write s (NULL = "") as a JSON string literal, quotes included. Control
 * characters become \uXXXX; bytes that are not valid UTF-8 (a name cut in
 * the middle of a character, say) become U+FFFD so the output stays valid. */
void sp_json_escape(FILE *f, const char *s);

#endif
