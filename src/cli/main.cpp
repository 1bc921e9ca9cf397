#include <cstdio>

int main() { std::puts("glasshouse: under construction"); return 0; }
