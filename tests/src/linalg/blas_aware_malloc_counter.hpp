// tests/src/linalg/blas_aware_malloc_counter.hpp: counts heap allocations of the calling thread,
// split by caller: made from inside OpenBLAS (or libgfortran, which its LAPACK uses) or not.
// OpenBLAS 0.3.21's small-matrix DGEMM kernels (SkylakeX/Cooperlake) malloc packing buffers
// of a few hundred bytes at some shapes, also when LAPACK calls them; that is outside signdyn.
// Link blas_aware_malloc_counter.cpp into the test binary (it interposes malloc/calloc/realloc).
#pragma once

namespace signdyn::test {

struct MallocCounts {
  long own = 0;       // callers outside OpenBLAS / libgfortran (signdyn, Eigen, libstdc++, ...)
  long external = 0;  // callers inside OpenBLAS / libgfortran
};

/// Allocation counts of the calling thread so far (the library ranges are found on first use).
MallocCounts malloc_counts();

}  // namespace signdyn::test
