#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "flopcast/scenarios/scenario.hpp"

namespace flopcast::cli {

// Each returns the process exit code; input problems are thrown as InputError/ModelError for main to report.
int run_scenarios(const std::vector<std::string>& files, bool json, const Catalogs& catalogs, std::ostream& out);
int catalog_chips(bool json, const Catalogs& catalogs, std::ostream& out);
int catalog_models(bool json, const Catalogs& catalogs, std::ostream& out);
int catalog_show(const std::string& id, bool json, const Catalogs& catalogs, std::ostream& out);

}  // namespace flopcast::cli
