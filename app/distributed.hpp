#pragma once
// Runs launched by mpirun (OpenMPI): this process's rank, the number of ranks, and the few messages a distributed
// sweep needs. Without MPI at build time, or when not launched by mpirun, the process is rank 0 of 1 and nothing
// here talks to anyone.

#include <cstdint>
#include <string>

namespace flopcast::cli {

class Ranks {
 public:
  Ranks(int& argc, char**& argv);  // MPI_Init when launched by mpirun
  ~Ranks();                        // MPI_Finalize
  Ranks(const Ranks&) = delete;
  Ranks& operator=(const Ranks&) = delete;
};

int rank();
int ranks();

// Rank 0's value of `value` on every rank.
std::int64_t broadcast(std::int64_t value);
// One text message to rank 0, and its receipt from `source` (in the order the sender sent them).
void send_to_root(const std::string& text);
std::string receive_from(int source);
// Ends every rank at once (after rank 0 met an error the others cannot see).
[[noreturn]] void abort_all(int code);

}  // namespace flopcast::cli
