#include <string.h>

#include "valid.h"

int
valid_lowerhex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;	/* also stops at an early NUL */
	return s[len] == '\0';
}

int
valid_relpath(const char *p, size_t max)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t n = strlen(p), i, seg = 0;

	if (n == 0 || n > max || p[0] == '/' || p[n - 1] == '/')
		return 0;
	for (i = 0; i <= n; i++) {
		if (i < n && (u[i] < 0x20 || u[i] == 0x7f))
			return 0;
		if (i < n && p[i] != '/')
			continue;
		if (i == seg || (i - seg == 2 && p[seg] == '.' &&
		    p[seg + 1] == '.'))
			return 0;
		seg = i + 1;
	}
	return 1;
}

int
valid_env_name(const char *k)
{
	size_t i, n = strlen(k);

	if (n == 0 || n > 128 || (k[0] >= '0' && k[0] <= '9') ||
	    strcmp(k, "VIGIL_CHECKPOINT_FD") == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' &&
		    k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') ||
		    k[i] == '_'))
			return 0;
	return 1;
}
