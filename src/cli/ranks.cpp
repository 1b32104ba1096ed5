// Private: process groups (see ranks.hpp). With SIGNDYN_WITH_MPI the group is MPI_COMM_WORLD
// once MpiSession has initialised MPI; without it every process is a group of one.
#include "ranks.hpp"

#include <cstdlib>

#ifdef SIGNDYN_WITH_MPI
#include <mpi.h>
#endif

namespace signdyn::cli {
namespace {

ProcessGroup g_world;  // set by MpiSession; {0, 1} otherwise

}  // namespace

ProcessGroup world() {
  return g_world;
}

#ifdef SIGNDYN_WITH_MPI

namespace {

// True when an MPI launcher started this process (Open MPI, MPICH/Hydra, PMIx).
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (const char* v = std::getenv(name); v && *v) return true;
  return false;
}

}  // namespace

bool built_with_mpi() {
  return true;
}

int max_over_ranks(const ProcessGroup& group, int code) {
  if (group.size == 1) return code;
  int worst = code;
  MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return worst;
}

MpiSession::MpiSession(int* argc, char*** argv) {
  if (!launched_by_mpi()) return;
  int provided = 0;
  // Only the main thread calls MPI; OpenMP threads work between the calls.
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  initialised_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_world.size);
}

MpiSession::~MpiSession() {
  if (!initialised_) return;
  g_world = ProcessGroup{};
  MPI_Finalize();
}

#else

bool built_with_mpi() {
  return false;
}

int max_over_ranks(const ProcessGroup& group, int code) {
  return code;
}

MpiSession::MpiSession(int* argc, char*** argv) {}  // every process runs on its own

MpiSession::~MpiSession() = default;

#endif

}  // namespace signdyn::cli
