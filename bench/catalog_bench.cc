// Table commits and scan planning on the embedded SQLite catalog.
//
//   build/bench/catalog_bench [--commits N] [--snapshots N] [--dir DIR] [--no-pyiceberg]
//
// 1. Commit latency: N fast appends (one data file each) to one table,
//    one after another, each a full commit (manifest, manifest list,
//    metadata file, conditional UPDATE); p50/p99 and commits/s. In the same
//    run, PyIceberg's SqlCatalog commits the same kind of append to a table
//    in the same catalog, for reference.
// 2. Planning on a table with --snapshots snapshots, one data file each
//    (offsets i*100 .. i*100+99): an incremental scan over the last 100
//    snapshots, and an offset-range lookup of 100 offsets in the current
//    snapshot.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "frazil/catalog/sql_catalog.h"
#include "frazil/catalog/table_commit.h"
#include "frazil/common/random_id.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/scan.h"
#include "frazil/objstore/object_store_file_io.h"

namespace {

using namespace frazil;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

iceberg::DataFile OffsetFile(const std::string& location, int64_t lo, int64_t hi) {
  iceberg::DataFile f;
  f.file_path = location + "/data/" + RandomUuid() + ".parquet";
  f.record_count = hi - lo + 1;
  f.file_size_in_bytes = 1 << 20;
  auto le = [](int64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); };
  f.value_counts[1] = f.null_value_counts[1] = 0;
  f.value_counts[1] = f.record_count;
  f.lower_bounds[1] = le(lo);
  f.upper_bounds[1] = le(hi);
  f.column_sizes[1] = 1000;
  f.split_offsets = {4};
  return f;
}

catalog::CreateTableRequest Request() {
  catalog::CreateTableRequest req;
  req.schema.fields.push_back({1, "offset", true, iceberg::Primitive(iceberg::TypeId::kLong), ""});
  req.schema.fields.push_back({2, "payload", false, iceberg::Primitive(iceberg::TypeId::kBinary), ""});
  return req;
}

}  // namespace

int main(int argc, char** argv) {
  int commits = 500, snapshots = 10000;
  bool pyiceberg = true;
  std::string dir = "/tmp/frazil-catalog-bench";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--commits" && i + 1 < argc) commits = std::atoi(argv[++i]);
    else if (a == "--snapshots" && i + 1 < argc) snapshots = std::atoi(argv[++i]);
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--no-pyiceberg") pyiceberg = false;
    else {
      std::fprintf(stderr, "usage: catalog_bench [--commits N] [--snapshots N] [--dir DIR] [--no-pyiceberg]\n");
      return 2;
    }
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  catalog::SqlCatalogOptions o;
  o.db_path = dir + "/catalog.db";
  o.warehouse = "file://" + dir + "/warehouse";
  auto cat = Must(catalog::SqlCatalog::Open(o, objstore::NewLocalFileIO()), "open catalog");
  if (!cat->CreateNamespace({"bench"}, {}).ok()) return 1;

  // 1. Commit latency.
  catalog::TableIdentifier commit_id{{"bench"}, "commits"};
  auto table = Must(cat->CreateTable(commit_id, Request()), "create table");
  std::vector<double> lat;
  auto start = Clock::now();
  for (int i = 0; i < commits; ++i) {
    iceberg::FastAppend append(cat->io());
    append.AddFile(OffsetFile(table.metadata.location, i * 100, i * 100 + 99));
    append.SetSummary("frazil.offsets", std::to_string(i * 100) + "-" + std::to_string(i * 100 + 99));
    auto t0 = Clock::now();
    table = Must(catalog::CommitWithRetry(cat.get(), commit_id, &append, table), "commit");
    lat.push_back(Ms(Clock::now() - t0));
  }
  double secs = Ms(Clock::now() - start) / 1000;
  std::printf("commits: %d fast appends on one table: p50 %.2f ms, p99 %.2f ms, %.0f commits/s\n", commits,
              Percentile(lat, 0.5), Percentile(lat, 0.99), commits / secs);
  if (pyiceberg) {
    std::string cmd = std::string(FRAZIL_SOURCE_DIR) + "/.venv/bin/python " + FRAZIL_SOURCE_DIR +
                      "/bench/catalog_bench_pyiceberg.py " + dir + " " + std::to_string(std::min(commits, 200));
    std::fflush(stdout);
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "pyiceberg reference failed\n");
  }

  // 2. Planning on a long history. The snapshots are produced by the same
  // snapshot producer, chained in memory, and committed once: writing
  // 10,000 growing metadata files would measure the disk, not planning.
  catalog::TableIdentifier plan_id{{"bench"}, "history"};
  auto history = Must(cat->CreateTable(plan_id, Request()), "create table");
  iceberg::TableMetadata m = history.metadata;
  auto build_start = Clock::now();
  for (int i = 0; i < snapshots; ++i) {
    iceberg::FastAppend append(cat->io());
    append.AddFile(OffsetFile(m.location, int64_t{i} * 100, int64_t{i} * 100 + 99));
    m = Must(append.Apply(m), "apply");
  }
  history = Must(cat->CommitTable(history, m), "commit history");
  std::printf("history: %d snapshots built in %.1f s\n", snapshots, Ms(Clock::now() - build_start) / 1000);

  auto loaded = Must(cat->LoadTable(plan_id), "load");
  const auto& meta = loaded.metadata;
  auto ancestors = iceberg::Ancestors(meta, *meta.current_snapshot_id);
  int64_t from = ancestors[std::min<size_t>(100, ancestors.size() - 1)];
  std::vector<double> inc, lookup;
  size_t inc_files = 0, lookup_files = 0;
  for (int rep = 0; rep < 20; ++rep) {
    auto t0 = Clock::now();
    auto tasks = Must(iceberg::PlanAppends(cat->io(), meta, from, *meta.current_snapshot_id), "plan appends");
    inc.push_back(Ms(Clock::now() - t0));
    inc_files = tasks.size();
    int64_t lo = (static_cast<int64_t>(rep) * 487 % snapshots) * 100 + 50;
    iceberg::RowFilter filter;
    filter.And({1, lo, lo + 99});
    t0 = Clock::now();
    auto hits = Must(iceberg::PlanFiles(cat->io(), meta, *meta.CurrentSnapshot(), filter), "plan files");
    lookup.push_back(Ms(Clock::now() - t0));
    lookup_files = hits.size();
  }
  auto load_t0 = Clock::now();
  (void)Must(cat->LoadTable(plan_id), "load");
  double load_ms = Ms(Clock::now() - load_t0);
  std::printf("planning on %d snapshots / %d files: incremental scan of the last 100 snapshots (%zu files) p50 %.1f ms;"
              " offset-range lookup of 100 offsets (%zu files) p50 %.1f ms; loading the metadata %.1f ms\n",
              snapshots, snapshots, inc_files, Percentile(inc, 0.5), lookup_files, Percentile(lookup, 0.5), load_ms);
  return 0;
}
