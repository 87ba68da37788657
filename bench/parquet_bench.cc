// Parquet encode/decode throughput of message-envelope rows, next to
// pyarrow (Arrow C++) writing and reading the same rows with the same codec
// in the same run. Prints figures; asserts nothing.
//
//   build/bench/parquet_bench --rows N [--codec zstd|snappy|none] [--level L] [--keep PATH] [--nested]
//
// --nested replaces the payload with the typed column issue 15 decodes it
// into: struct<event, seq, items: list<struct<sku, qty, price>>>.
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "frazil/parquet/compression.h"
#include "frazil/parquet/file_reader.h"
#include "frazil/parquet/file_writer.h"

using namespace frazil::parquet;
using Clock = std::chrono::steady_clock;

namespace {

FieldSchema Field(std::string name, int32_t id, bool required, FieldSchema::Shape shape,
                  ValueType t = ValueType::kInt64, std::vector<FieldSchema> children = {}) {
  FieldSchema f{std::move(name), id, required, shape, {t}};
  f.children = std::move(children);
  return f;
}

FileSchema EnvelopeSchema(bool nested) {
  FileSchema s;
  s.fields.push_back({"offset", 1, true, FieldSchema::Shape::kPrimitive, {ValueType::kInt64}});
  s.fields.push_back({"publish_time", 2, true, FieldSchema::Shape::kPrimitive, {ValueType::kTimestampTz}});
  s.fields.push_back({"producer_name", 3, false, FieldSchema::Shape::kPrimitive, {ValueType::kString}});
  s.fields.push_back({"routing_key", 4, false, FieldSchema::Shape::kPrimitive, {ValueType::kString}});
  FieldSchema attrs{"attributes", 5, false, FieldSchema::Shape::kMap, {ValueType::kString}};
  attrs.key_id = 8;
  attrs.value_id = 9;
  s.fields.push_back(attrs);
  if (!nested) {
    s.fields.push_back({"payload", 6, false, FieldSchema::Shape::kPrimitive, {ValueType::kBinary}});
    return s;
  }
  using S = FieldSchema::Shape;
  FieldSchema item = Field("element", 13, false, S::kStruct, ValueType::kInt64,
                           {Field("sku", 14, true, S::kPrimitive, ValueType::kString),
                            Field("qty", 15, false, S::kPrimitive, ValueType::kInt32),
                            Field("price", 16, false, S::kPrimitive, ValueType::kDouble)});
  s.fields.push_back(Field("payload", 6, false, S::kStruct, ValueType::kInt64,
                           {Field("event", 10, false, S::kPrimitive, ValueType::kString),
                            Field("seq", 11, true, S::kPrimitive, ValueType::kInt64),
                            Field("items", 12, false, S::kList, ValueType::kInt64, {item})}));
  return s;
}

// A 1 KiB JSON-ish event: repeated field names, random ids and numbers, so it
// compresses partly, as real payloads do.
std::string Payload(std::mt19937_64& rng, uint64_t i) {
  static const char* words[] = {"order",    "payment", "shipment", "refund",
                                "customer", "invoice", "cart",     "item"};
  std::string p =
      "{\"event\":\"" + std::string(words[rng() % 8]) + "\",\"seq\":" + std::to_string(i) + ",\"items\":[";
  char buf[64];
  while (p.size() < 1000) {
    std::snprintf(buf, sizeof buf, "{\"sku\":\"%08llx\",\"qty\":%llu,\"price\":%llu.%02llu},",
                  static_cast<unsigned long long>(rng() & 0xffffffff),
                  static_cast<unsigned long long>(rng() % 10), static_cast<unsigned long long>(rng() % 500),
                  static_cast<unsigned long long>(rng() % 100));
    p += buf;
  }
  p.resize(1021);
  p += "]}\n";
  return p;
}

struct Input {
  std::vector<RowBatch> batches;
  uint64_t bytes = 0;  // raw value bytes
  size_t rows = 0;
};

// The payload's fields as a typed column: about as many value bytes per row
// as the JSON text holds.
void AddTypedPayload(std::mt19937_64& rng, uint64_t i, ColumnData* col, uint64_t* bytes) {
  static const char* words[] = {"order",    "payment", "shipment", "refund",
                                "customer", "invoice", "cart",     "item"};
  if (col->children.empty()) {
    col->children.resize(3);
    col->children[2].offsets.push_back(0);
    col->children[2].children.resize(1);
    col->children[2].children[0].children.resize(3);
  }
  col->children[0].values.bytes.push_back(words[rng() % 8]);
  col->children[1].values.ints.push_back(static_cast<int64_t>(i));
  ColumnData& items = col->children[2];
  ColumnData& item = items.children[0];
  const size_t n = 10 + rng() % 10;
  char sku[9];
  for (size_t k = 0; k < n; ++k) {
    std::snprintf(sku, sizeof sku, "%08llx", static_cast<unsigned long long>(rng() & 0xffffffff));
    item.children[0].values.bytes.push_back(sku);
    item.children[1].values.ints.push_back(static_cast<int64_t>(rng() % 10));
    item.children[2].values.doubles.push_back(static_cast<double>(rng() % 50000) / 100);
  }
  items.offsets.push_back(items.offsets.back() + static_cast<int32_t>(n));
  *bytes += col->children[0].values.bytes.back().size() + 8 + n * (8 + 4 + 8);
}

Input MakeRows(size_t n, bool nested) {
  std::mt19937_64 rng(12345);
  Input in;
  const size_t per_batch = 4096;
  const int64_t base = 1'763'000'000'000'000;
  for (size_t start = 0; start < n; start += per_batch) {
    size_t m = std::min(per_batch, n - start);
    RowBatch b;
    b.num_rows = m;
    b.columns.resize(6);
    b.columns[4].offsets.push_back(0);
    for (size_t k = 0; k < m; ++k) {
      uint64_t i = start + k;
      b.columns[0].values.ints.push_back(static_cast<int64_t>(i));
      b.columns[1].values.ints.push_back(base + static_cast<int64_t>(i * 100 + rng() % 50));
      b.columns[2].values.bytes.push_back("producer-" + std::to_string(rng() % 8));
      bool keyed = rng() % 10 != 0;
      b.columns[3].values.bytes.push_back(keyed ? "customer-" + std::to_string(rng() % 1000) : "");
      b.columns[3].values.is_null.push_back(!keyed);
      char trace[17];
      std::snprintf(trace, sizeof trace, "%016llx", static_cast<unsigned long long>(rng()));
      const std::pair<std::string, std::string> attrs[3] = {{"content-type", "application/json"},
                                                            {"trace-id", trace},
                                                            {"source", "svc-" + std::to_string(rng() % 5)}};
      for (const auto& [k, v] : attrs) {
        b.columns[4].keys.bytes.push_back(k);
        b.columns[4].values.bytes.push_back(v);
        in.bytes += k.size() + v.size();
      }
      b.columns[4].offsets.push_back(static_cast<int32_t>(b.columns[4].keys.bytes.size()));
      in.bytes += 16 + b.columns[2].values.bytes.back().size() + b.columns[3].values.bytes.back().size();
      if (nested) {
        AddTypedPayload(rng, i, &b.columns[5], &in.bytes);
      } else {
        b.columns[5].values.bytes.push_back(Payload(rng, i));
        in.bytes += b.columns[5].values.bytes.back().size();
      }
    }
    in.rows += m;
    in.batches.push_back(std::move(b));
  }
  return in;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string JsonNumber(const std::string& json, const std::string& key) {
  auto p = json.find("\"" + key + "\":");
  if (p == std::string::npos) return "0";
  p += key.size() + 3;
  auto e = json.find_first_of(",}", p);
  return json.substr(p, e - p);
}

}  // namespace

int main(int argc, char** argv) {
  // Keep freed memory in the process, as `frazil serve` does (and as
  // pyarrow's jemalloc pool does): otherwise glibc hands every large buffer
  // back to the kernel and each run pays the page faults again.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  size_t rows = 200000;
  std::string codec_name = "zstd", keep;
  int level = 1;
  bool nested = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rows" && i + 1 < argc)
      rows = std::stoul(argv[++i]);
    else if (a == "--codec" && i + 1 < argc)
      codec_name = argv[++i];
    else if (a == "--level" && i + 1 < argc)
      level = std::stoi(argv[++i]);
    else if (a == "--keep" && i + 1 < argc)
      keep = argv[++i];
    else if (a == "--nested")
      nested = true;
    else {
      std::fprintf(
          stderr,
          "usage: parquet_bench --rows N [--codec zstd|snappy|none] [--level L] [--keep PATH] [--nested]\n");
      return 2;
    }
  }
  auto codec = ParseCodec(codec_name);
  if (!codec.ok()) {
    std::fprintf(stderr, "%s\n", codec.status().ToString().c_str());
    return 2;
  }
  const std::string path = keep.empty() ? "parquet-bench-" + std::to_string(::getpid()) + ".parquet" : keep;
  std::filesystem::remove(path);
  Input in = MakeRows(rows, nested);
  const double mb = static_cast<double>(in.bytes) / 1e6;

  WriterOptions opts;
  opts.codec = *codec;
  opts.compression_level = level;
  // Best of three, as for pyarrow: each run writes a new file.
  double write_s = 1e9;
  frazil::Result<WriteResult> res = frazil::Status::Internal("not written");
  for (int rep = 0; rep < 3; ++rep) {
    std::filesystem::remove(path);
    auto t0 = Clock::now();
    // pyarrow does not fsync; neither does this timing.
    auto sink = OpenFileSink(path, /*sync=*/false);
    if (!sink.ok()) return std::fprintf(stderr, "%s\n", sink.status().ToString().c_str()), 1;
    auto w = FileWriter::Open(EnvelopeSchema(nested), opts, std::move(sink).value());
    if (!w.ok()) return std::fprintf(stderr, "%s\n", w.status().ToString().c_str()), 1;
    for (const auto& b : in.batches) {
      auto st = (*w)->Write(b);
      if (!st.ok()) return std::fprintf(stderr, "%s\n", st.ToString().c_str()), 1;
    }
    res = (*w)->Close();
    if (!res.ok()) return std::fprintf(stderr, "%s\n", res.status().ToString().c_str()), 1;
    write_s = std::min(write_s, Seconds(t0, Clock::now()));
  }

  double read_s = 1e9;
  const int read_reps = std::getenv("PARQUET_BENCH_NO_READ") ? 0 : 3;
  for (int rep = 0; rep < read_reps; ++rep) {
    auto r0 = Clock::now();
    auto r = FileReader::Open(std::move(OpenInputFile(path)).value());
    if (!r.ok()) return std::fprintf(stderr, "%s\n", r.status().ToString().c_str()), 1;
    size_t got = 0;
    for (size_t g = 0; g < (*r)->num_row_groups(); ++g) {
      auto batch = (*r)->ReadRowGroup(g);
      if (!batch.ok()) return std::fprintf(stderr, "%s\n", batch.status().ToString().c_str()), 1;
      got += batch->num_rows;
    }
    read_s = std::min(read_s, Seconds(r0, Clock::now()));
    if (got != in.rows) return std::fprintf(stderr, "read %zu rows, wrote %zu\n", got, in.rows), 1;
  }

  const char* py = std::getenv("FRAZIL_PYTHON");
  std::string cmd = std::string(py ? py : FRAZIL_SOURCE_DIR "/.venv/bin/python") +
                    " " FRAZIL_SOURCE_DIR "/bench/parquet_bench_pyarrow.py --file " + path + " --codec " +
                    codec_name + " --level " + std::to_string(level);
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    if (::pclose(p) != 0) out.clear();
  }
  if (keep.empty()) std::filesystem::remove(path);

  std::printf(
      "parquet_bench: %zu envelope rows (%s), %.1f MB of values, codec %s level %d\n\n", in.rows,
      nested ? "payloads as struct<event, seq, items: list<struct<sku, qty, price>>>" : "1 KiB payloads", mb,
      codec_name.c_str(), level);
  std::printf("| %-34s | %10s | %12s |\n", "case", "MB/s", "file bytes");
  std::printf("|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(12, '-').c_str(),
              std::string(14, '-').c_str());
  std::printf("| %-34s | %10.1f | %12llu |\n", "frazil encode", mb / write_s,
              static_cast<unsigned long long>(res->file_size));
  std::printf("| %-34s | %10.1f | %12s |\n", "frazil decode", mb / read_s, "");
  if (out.empty()) {
    std::printf("\n(pyarrow reference not run: %s failed)\n", cmd.c_str());
    return 0;
  }
  const double pw = std::stod(JsonNumber(out, "write_seconds"));
  const double psize = std::stod(JsonNumber(out, "size"));
  const double pr1 = std::stod(JsonNumber(out, "read_own_seconds_1thread"));
  const double prt = std::stod(JsonNumber(out, "read_own_seconds_threads"));
  const double pf1 = std::stod(JsonNumber(out, "read_frazil_seconds_1thread"));
  std::printf("| %-34s | %10.1f | %12.0f |\n", "pyarrow encode", mb / pw, psize);
  std::printf("| %-34s | %10.1f | %12s |\n", "pyarrow decode (own file, 1 thread)", mb / pr1, "");
  std::printf("| %-34s | %10.1f | %12s |\n", "pyarrow decode (own file, threads)", mb / prt, "");
  std::printf("| %-34s | %10.1f | %12s |\n", "pyarrow decode (frazil file, 1 thr)", mb / pf1, "");
  const double enc = pw / write_s, size = static_cast<double>(res->file_size) / psize, dec = pr1 / read_s;
  std::printf("\nencode: frazil = %.2fx pyarrow (target >= 1x): %s\n", enc, enc >= 1 ? "PASS" : "MISS");
  std::printf("size: frazil = %.3fx pyarrow (target <= 1.05x): %s\n", size, size <= 1.05 ? "PASS" : "MISS");
  std::printf("decode: frazil = %.2fx pyarrow 1 thread (target >= 1x): %s; %.2fx pyarrow with threads\n", dec,
              dec >= 1 ? "PASS" : "MISS", prt / read_s);
  return 0;
}
