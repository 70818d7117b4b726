#include <stdio.h>
int main(void) { fputs("vigil: not built yet\n", stderr); return 2; }
