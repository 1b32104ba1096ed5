// Private: the processes one command runs on — this process alone, or the ranks of an MPI job
// (build option SIGNDYN_MPI). Only `signdyn sweep` splits its work across ranks.
#pragma once

namespace signdyn::cli {

/// The processes sharing one command: this one is `rank` of `size` (size 1 outside MPI).
struct ProcessGroup {
  int rank = 0;
  int size = 1;
};

/// The MPI job this process belongs to while an MpiSession is alive, otherwise {0, 1}.
ProcessGroup world();

/// The largest `code` over the ranks of `group` (collective: every rank calls it); `code`
/// itself when the group is this process alone.
int max_over_ranks(const ProcessGroup& group, int code);

/// True when this build can run across MPI ranks (configured with SIGNDYN_MPI=ON).
bool built_with_mpi();

/// Initialises MPI for its lifetime when the process was started by an MPI launcher (mpirun
/// sets OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK) in a build with MPI; otherwise does
/// nothing, so a plain process behaves exactly like a build without MPI.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

 private:
  bool initialised_ = false;
};

}  // namespace signdyn::cli
