#pragma once
// Child processes (the simulation engine, sweep workers) that never outlive the process that forked them.

#include <sys/types.h>

namespace flopcast {

// Called in a child right after fork(): the kernel kills it when `parent` dies (kill -9 or -TERM of flopcast
// included), and it exits at once if `parent` is already gone.
void die_with_parent(pid_t parent);

}  // namespace flopcast
