// libFuzzer target: the Hugging Face config.json importer. Seeds: tests/fuzz/corpus/hf_config and tests/data/hf.
#include "flopcast/core/files.hpp"
#include "flopcast/models/hf_import.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace flopcast;
  return fuzz::expect_clean_outcome([&] {
    const auto json = parse_json_text(fuzz::as_text(data, size), "config.json");
    const ModelArch model = import_hf_config(json, "config.json");
    (void)model_to_json(model).dump();  // what `flopcast import-hf` prints
  });
}
