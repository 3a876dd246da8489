#include <cstdio>
int main() { std::puts("ctflow: under construction"); return 0; }
