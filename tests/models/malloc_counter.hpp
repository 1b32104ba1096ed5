// tests/models/malloc_counter.hpp: counts heap allocations of the calling thread, for tests
// that state "this kernel does not allocate". Link malloc_counter.cpp into the test binary
// (it interposes malloc, calloc and realloc over glibc's).
#pragma once

namespace signdyn::test {

/// Number of malloc/calloc/realloc calls made so far by the calling thread.
long malloc_calls();

}  // namespace signdyn::test
