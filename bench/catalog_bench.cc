// Table commits and scan planning, per catalog type.
//
//   build/bench/catalog_bench [--catalog sql,rest,glue] [--commits N] [--snapshots N] [--dir DIR]
//                             [--no-pyiceberg]
//
// 1. Commit latency, for each catalog of --catalog (default sql) in turn:
//    N fast appends (one data file entry each, no data written) to one
//    table, one after another, each a full commit through the retry loop
//    (manifest, manifest list, then the catalog's commit: for sql a new
//    metadata file and a conditional UPDATE; for rest a POST of the
//    requirements and updates, the server writing the metadata file; for
//    glue a new metadata file and UpdateTable); p50/p99 and commits/s.
//    Then, against the same catalog server, PyIceberg commits the same
//    workload (the same number of appends of one data file entry) to
//    another table, for reference (bench/catalog_bench_pyiceberg.py).
//    sql: the embedded SQLite catalog at DIR/sql/catalog.db; rest: Apache
//    Iceberg's REST catalog server (build/tools/frazil-rest-catalog, from
//    scripts/setup-rest-catalog.sh) on a free loopback port; glue: moto
//    (.venv/bin/moto_server) as the Glue endpoint. Warehouses are local.
// 2. With sql among the catalogs (and --snapshots > 0): planning on a
//    table with --snapshots snapshots, one data file each (offsets i*100 ..
//    i*100+99): an incremental scan over the last 100 snapshots, and an
//    offset-range lookup of 100 offsets in the current snapshot.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "frazil/catalog/glue_catalog.h"
#include "frazil/catalog/rest_catalog.h"
#include "frazil/catalog/sql_catalog.h"
#include "frazil/catalog/table_commit.h"
#include "frazil/common/random_id.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/scan.h"
#include "frazil/objstore/object_store_file_io.h"
#include "moto_server.h"
#include "rest_server.h"

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

// A catalog of one type, with the server it talks to (none for sql), and
// the arguments that point bench/catalog_bench_pyiceberg.py at the same.
struct BenchCatalog {
  std::unique_ptr<testing::IcebergFixtureServer> rest;
  std::unique_ptr<testing::MotoServerProcess> moto;
  std::unique_ptr<catalog::Catalog> cat;
  std::string pyiceberg_args;
};

BenchCatalog OpenCatalog(const std::string& type, const std::string& dir) {
  BenchCatalog b;
  const std::string warehouse = "file://" + dir + "/warehouse";
  std::filesystem::create_directories(dir);
  if (type == "sql") {
    catalog::SqlCatalogOptions o;
    o.db_path = dir + "/catalog.db";
    o.warehouse = warehouse;
    b.cat = Must(catalog::SqlCatalog::Open(o, objstore::NewLocalFileIO()), "open SQL catalog");
    b.pyiceberg_args = "--catalog sql --uri sqlite:///" + o.db_path + " --warehouse " + warehouse;
  } else if (type == "rest") {
    b.rest = std::make_unique<testing::IcebergFixtureServer>(dir + "/warehouse");
    if (!b.rest->error().empty()) {
      std::fprintf(stderr, "REST catalog server: %s\n", b.rest->error().c_str());
      std::exit(1);
    }
    catalog::RestCatalogOptions o;
    o.uri = b.rest->process().uri();
    b.cat = Must(catalog::RestCatalog::Open(o, objstore::NewLocalFileIO()), "open REST catalog");
    b.pyiceberg_args = "--catalog rest --uri " + o.uri;
  } else if (type == "glue") {
    b.moto = std::make_unique<testing::MotoServerProcess>();
    if (b.moto->endpoint().empty()) {
      std::fprintf(stderr, "moto: %s\n", b.moto->error().c_str());
      std::exit(1);
    }
    catalog::GlueCatalogOptions o;
    o.client.region = "us-east-1";
    o.client.endpoint = b.moto->endpoint();
    o.client.credentials = {"testing", "testing", ""};
    o.warehouse = warehouse;
    b.cat = Must(catalog::GlueCatalog::Open(o, objstore::NewLocalFileIO()), "open Glue catalog");
    b.pyiceberg_args = "--catalog glue --uri " + o.client.endpoint + " --warehouse " + warehouse;
  } else {
    std::fprintf(stderr, "unknown catalog type %s (sql, rest or glue)\n", type.c_str());
    std::exit(2);
  }
  return b;
}

// N fast appends of one data file entry each to a new table, one after
// another, each through the retry loop from the previous commit's result.
void CommitLatency(const std::string& type, catalog::Catalog* cat, int commits) {
  catalog::TableIdentifier commit_id{{"bench"}, "commits"};
  auto table = Must(cat->CreateTable(commit_id, Request()), "create table");
  std::vector<double> lat;
  auto start = Clock::now();
  for (int i = 0; i < commits; ++i) {
    iceberg::FastAppend append(cat->io());
    append.AddFile(OffsetFile(table.metadata.location, i * 100, i * 100 + 99));
    append.SetSummary("frazil.offsets", std::to_string(i * 100) + "-" + std::to_string(i * 100 + 99));
    auto t0 = Clock::now();
    table = Must(catalog::CommitWithRetry(cat, commit_id, &append, table), "commit");
    lat.push_back(Ms(Clock::now() - t0));
  }
  double secs = Ms(Clock::now() - start) / 1000;
  std::printf("%s: Frazil, %d fast appends on one table: p50 %.2f ms, p99 %.2f ms, %.0f commits/s\n", type.c_str(),
              commits, Percentile(lat, 0.5), Percentile(lat, 0.99), commits / secs);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int commits = 500, snapshots = 10000;
  bool pyiceberg = true;
  std::string dir = "/tmp/frazil-catalog-bench", types = "sql";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--commits" && i + 1 < argc) commits = std::atoi(argv[++i]);
    else if (a == "--snapshots" && i + 1 < argc) snapshots = std::atoi(argv[++i]);
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--catalog" && i + 1 < argc) types = argv[++i];
    else if (a == "--no-pyiceberg") pyiceberg = false;
    else {
      std::fprintf(stderr,
                   "usage: catalog_bench [--catalog sql,rest,glue] [--commits N] [--snapshots N] [--dir DIR] "
                   "[--no-pyiceberg]\n");
      return 2;
    }
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::unique_ptr<catalog::Catalog> sql;  // kept for planning
  for (size_t pos = 0; pos <= types.size();) {
    size_t comma = std::min(types.find(',', pos), types.size());
    std::string type = types.substr(pos, comma - pos);
    pos = comma + 1;
    if (type.empty()) continue;
    // 1. Commit latency: ours, then PyIceberg's on the same server.
    BenchCatalog b = OpenCatalog(type, dir + "/" + type);
    if (!b.cat->CreateNamespace({"bench"}, {}).ok()) return 1;
    CommitLatency(type, b.cat.get(), commits);
    if (pyiceberg) {
      std::string cmd = std::string(FRAZIL_SOURCE_DIR) + "/.venv/bin/python " + FRAZIL_SOURCE_DIR +
                        "/bench/catalog_bench_pyiceberg.py " + b.pyiceberg_args + " --commits " +
                        std::to_string(commits);
      if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "%s: pyiceberg reference failed\n", type.c_str());
    }
    if (type == "sql") sql = std::move(b.cat);
  }
  if (!sql || snapshots <= 0) return 0;
  catalog::Catalog* cat = sql.get();

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
