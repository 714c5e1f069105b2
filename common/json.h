/* Just enough JSON output: escaped strings. Objects are written by hand. */
#pragma once
#include <stdio.h>

/* Write s as a JSON string literal, quotes included. */
void pv_json_str(FILE *f, const char *s);
