// Interposes glibc's malloc family to count allocations per thread (see malloc_counter.hpp).
#include "models/malloc_counter.hpp"

#include <cstddef>

extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* ptr, std::size_t size);
}

namespace {
thread_local long calls = 0;  // initial-exec TLS in the executable: no allocation to reach it
}

extern "C" {
void* malloc(std::size_t size) {
  ++calls;
  return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) {
  ++calls;
  return __libc_calloc(count, size);
}
void* realloc(void* ptr, std::size_t size) {
  ++calls;
  return __libc_realloc(ptr, size);
}
}

namespace signdyn::test {
long malloc_calls() {
  return calls;
}
}  // namespace signdyn::test
