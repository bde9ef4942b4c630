#pragma once
// The benchmarks' shared entry point: -h or --help prints the program's usage, and an error (a missing data file, a
// scenario that does not load) is printed with the program's name and exit code 1 instead of escaping main.

#include <exception>
#include <string_view>

#include <fmt/format.h>

template <class Body>
int bench_main(int argc, char** argv, std::string_view usage, Body&& body) {
  if (argc > 1 && (std::string_view(argv[1]) == "-h" || std::string_view(argv[1]) == "--help")) {
    fmt::print("{}\n", usage);
    return 0;
  }
  try {
    return body();
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: {}\n", argv[0], e.what());
    return 1;
  }
}
