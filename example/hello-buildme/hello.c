/* hello-buildme: the example package that buildme's demo and tests build. */
#include <stdio.h>

int main(void)
{
  puts("Hello from a package built by buildme.");
  return 0;
}
