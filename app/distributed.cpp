#include "distributed.hpp"

#include <cstdlib>
#include <vector>

#ifdef FLOPCAST_MPI
#include <mpi.h>
#endif

namespace flopcast::cli {

namespace {

bool g_mpi = false;
int g_rank = 0;
int g_ranks = 1;

// OpenMPI, PMIx and Slurm's PMI set these in every process they start.
bool launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr ||
         std::getenv("PMI_SIZE") != nullptr;
}

}  // namespace

Ranks::Ranks(int& argc, char**& argv) {
#ifdef FLOPCAST_MPI
  if (!launched_by_mpirun()) return;
  MPI_Init(&argc, &argv);
  g_mpi = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_ranks);
#else
  (void)argc;
  (void)argv;
#endif
}

Ranks::~Ranks() {
#ifdef FLOPCAST_MPI
  if (g_mpi) MPI_Finalize();
#endif
}

int rank() { return g_rank; }
int ranks() { return g_ranks; }

std::int64_t broadcast(std::int64_t value) {
#ifdef FLOPCAST_MPI
  if (g_mpi) MPI_Bcast(&value, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
#endif
  return value;
}

void send_to_root(const std::string& text) {
#ifdef FLOPCAST_MPI
  if (g_mpi) MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, 0, 0, MPI_COMM_WORLD);
#else
  (void)text;
#endif
}

std::string receive_from(int source) {
#ifdef FLOPCAST_MPI
  if (g_mpi) {
    MPI_Status status;
    MPI_Probe(source, 0, MPI_COMM_WORLD, &status);
    int size = 0;
    MPI_Get_count(&status, MPI_CHAR, &size);
    std::string text(static_cast<std::size_t>(size), '\0');
    MPI_Recv(text.data(), size, MPI_CHAR, source, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return text;
  }
#else
  (void)source;
#endif
  return {};
}

void abort_all(int code) {
#ifdef FLOPCAST_MPI
  if (g_mpi) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

}  // namespace flopcast::cli
