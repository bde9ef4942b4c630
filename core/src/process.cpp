#include "flopcast/core/process.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace flopcast {

void die_with_parent(pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died between fork() and prctl(): the child was then re-parented already.
  if (::getppid() != parent) ::_exit(1);
}

}  // namespace flopcast
