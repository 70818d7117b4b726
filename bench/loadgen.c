#include <stdio.h>
int main(void) { fputs("vigil-loadgen: not built yet\n", stderr); return 2; }
