#pragma once
// Shared by the libFuzzer targets. A target feeds its bytes to one reader; bad input must end in InputError or
// ModelError (what the CLI reports as a user's mistake, exit code 2). Any other exception escapes to libFuzzer, which
// reports it as a crash, as it does a sanitizer finding: each is a bug to fix, never an expected outcome.

#include <cstddef>
#include <cstdint>
#include <string>

#include "flopcast/core/errors.hpp"
#include "flopcast/scenarios/scenario.hpp"

namespace flopcast::fuzz {

inline std::string as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Loaded once per process: the catalog is shipped data, not fuzzed input.
inline const Catalogs& catalogs() {
  static const Catalogs loaded = load_catalogs();
  return loaded;
}

template <typename Body>
int expect_clean_outcome(Body&& body) {
  try {
    body();
  } catch (const InputError&) {
  } catch (const ModelError&) {
  }
  return 0;
}

}  // namespace flopcast::fuzz
