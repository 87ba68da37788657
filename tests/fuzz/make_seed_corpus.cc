// Writes the fuzzer's seed corpus: a few small real segments, with the
// segment header stripped (the harness puts one back) and some damaged.
// Regenerate: build-fuzz/make_wal_seed_corpus tests/fuzz/corpus/wal_segment
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "frazil/wal/record_format.h"

using namespace frazil::wal;

static void Save(const std::string& dir, const std::string& name, const std::vector<uint8_t>& d) {
  std::ofstream f(dir + "/" + name, std::ios::binary);
  f.write(reinterpret_cast<const char*>(d.data()), static_cast<std::streamsize>(d.size()));
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::string dir = argv[1];
  // The harness prepends a header with base offset 0, so records start at 0.
  for (int variant = 0; variant < 3; ++variant) {
    std::vector<uint8_t> recs;
    for (uint64_t i = 0; i < static_cast<uint64_t>(3 + variant * 3); ++i) {
      std::string p(static_cast<size_t>(variant * 10 + i), static_cast<char>('a' + i));
      AppendRecord(i, std::vector<uint8_t>(p.begin(), p.end()), &recs);
    }
    Save(dir, "records-" + std::to_string(variant), recs);
    auto torn = recs;
    torn.resize(torn.size() - 5);
    Save(dir, "torn-" + std::to_string(variant), torn);
    auto flipped = recs;
    flipped[25] ^= 0xff;
    Save(dir, "middle-" + std::to_string(variant), flipped);
  }
  std::vector<uint8_t> full(kSegmentHeaderSize);
  EncodeSegmentHeader(SegmentHeader{0}, full.data());
  AppendRecord(0, std::vector<uint8_t>{'x'}, &full);
  Save(dir, "whole-segment", full);
  return 0;
}
