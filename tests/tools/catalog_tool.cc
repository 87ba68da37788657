// Test driver for tables and the SQL catalog, so Python tests can check
// Frazil against PyIceberg on the same SQLite file and warehouse. Prints
// JSON on stdout; errors go to stderr with exit status 1.
//
//   catalog_tool --db FILE --warehouse URI [--catalog NAME] COMMAND ARGS...
//
//   create-namespace NS [k=v...]        list-namespaces [PARENT]
//   namespace-properties NS             drop-namespace NS
//   create-table ID SCHEMA.json [SPEC.json|-] [k=v...]
//   list-tables NS    load ID    drop-table ID [--purge]    rename-table FROM TO
//   append ID ROWS.json [--summary k=v]... [--property k=v]...
//   append-loop ID --commits N [--threads T] [--start S] [--rows R] [--writer NAME]
//   scan ID [--snapshot N | --ref NAME | --as-of MS] [--range FID:MIN:MAX]... [--rows]
//   appends ID [--from N] --to N [--range FID:MIN:MAX]... [--rows]
//   snapshots ID    tag ID NAME SNAPSHOT_ID
//   delete-where ID --range FID:MIN:MAX...    delete-file ID PATH    compact ID
//   expire ID [--older-than MS] [--retain-last N]
//   remove-orphans ID --older-than MS [--dry-run]
//   topic-commit ID --wal DIR [--max-rows N]   # commit a topic WAL with TopicWriter
//   add-deletes ID DELETES.json   # register delete files (as Spark's or Flink's row deltas do)
//     DELETES.json: [{"path", "content": "position"|"equality", "record_count",
//                     "partition": [...], "equality_ids": [...], "spec_id"}]
//   Scans with --rows apply row-level deletes; files list the deletes planned for them.
//
// Row values: numbers for int, long, date, timestamps (micros); strings for
// string and (as hex) for binary, fixed and uuid; objects for maps; arrays
// for lists; null for null.
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "frazil/catalog/sql_catalog.h"
#include "frazil/catalog/table_commit.h"
#include "frazil/common/random_id.h"
#include "frazil/iceberg/maintenance.h"
#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/iceberg/row_deletes.h"
#include "frazil/iceberg/scan.h"
#include "frazil/iceberg/snapshot_producer.h"
#include "frazil/objstore/object_store_file_io.h"
#include "frazil/storage/topic_writer.h"
#include "frazil/wal/write_ahead_log.h"
#include "hex.h"

using frazil::tools::Hex;
using frazil::tools::Unhex;

namespace {

using namespace frazil;
using iceberg::TypeId;
using nlohmann::json;

[[noreturn]] void Fail(const std::string& m) {
  std::cerr << "catalog_tool: " << m << "\n";
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) Fail(std::string(what) + ": " + r.status().ToString());
  return std::move(r).value();
}

void Must(const Status& s, const char* what) {
  if (!s.ok()) Fail(std::string(what) + ": " + s.ToString());
}

json ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) Fail("cannot read " + path);
  return json::parse(in);
}

bool IsBytes(TypeId id) { return id == TypeId::kBinary || id == TypeId::kFixed || id == TypeId::kUuid; }
bool IsFloat(TypeId id) { return id == TypeId::kFloat || id == TypeId::kDouble; }

void AppendValue(const iceberg::Type& t, parquet::ValueType vt, const json& v, parquet::ValueVector* out) {
  if (v.is_null()) {
    if (out->is_null.empty()) out->is_null.assign(out->size(vt), 0);
    out->is_null.push_back(1);
    out->AppendDefault(vt);
    return;
  }
  if (!out->is_null.empty()) out->is_null.push_back(0);
  if (t.id == TypeId::kString) {
    out->bytes.push_back(v.get<std::string>());
  } else if (IsBytes(t.id)) {
    out->bytes.push_back(Unhex(v.get<std::string>()));
  } else if (IsFloat(t.id)) {
    out->doubles.push_back(v.get<double>());
  } else if (t.id == TypeId::kDecimal) {
    out->decimals.push_back(static_cast<__int128>(std::stoll(v.get<std::string>())));
  } else if (t.id == TypeId::kBoolean) {
    out->ints.push_back(v.get<bool>() ? 1 : 0);
  } else {
    out->ints.push_back(v.get<int64_t>());
  }
}

json ValueJson(const iceberg::Type& t, parquet::ValueType vt, const parquet::ValueVector& vals, size_t i) {
  (void)vt;
  if (vals.IsNull(i)) return nullptr;
  if (t.id == TypeId::kString) return std::string(vals.bytes[i]);
  if (IsBytes(t.id)) return Hex(vals.bytes[i]);
  if (IsFloat(t.id)) return vals.doubles[i];
  if (t.id == TypeId::kDecimal) return std::to_string(static_cast<int64_t>(vals.decimals[i]));
  if (t.id == TypeId::kBoolean) return vals.ints[i] != 0;
  return vals.ints[i];
}

// Rows (JSON objects by column name) as one batch of `schema`'s columns.
parquet::RowBatch RowsToBatch(const iceberg::Schema& schema, const parquet::FileSchema& fs,
                              const json& rows) {
  parquet::RowBatch b;
  b.num_rows = rows.size();
  for (size_t c = 0; c < schema.fields.size(); ++c) {
    const auto& f = schema.fields[c];
    const auto& pf = fs.fields[c];
    parquet::ColumnData col;
    if (pf.shape == parquet::FieldSchema::Shape::kPrimitive) {
      for (const auto& row : rows)
        AppendValue(*f.type, pf.value.type, row.value(f.name, json()), &col.values);
    } else {
      const auto& elem = f.type->id == TypeId::kList ? *f.type->children[0].type : *f.type->children[1].type;
      col.offsets.push_back(0);
      for (const auto& row : rows) {
        json v = row.value(f.name, json());
        col.is_null.push_back(v.is_null() ? 1 : 0);
        if (pf.shape == parquet::FieldSchema::Shape::kList && v.is_array()) {
          for (const auto& e : v) AppendValue(elem, pf.value.type, e, &col.values);
        } else if (v.is_object()) {
          for (auto it = v.begin(); it != v.end(); ++it) {
            col.keys.bytes.push_back(it.key());
            AppendValue(elem, pf.value.type, it.value(), &col.values);
          }
        }
        col.offsets.push_back(static_cast<int32_t>(col.values.size(pf.value.type)));
      }
    }
    b.columns.push_back(std::move(col));
  }
  return b;
}

void BatchToRows(const iceberg::Schema& schema, const std::vector<parquet::FieldSchema>& fields,
                 const std::vector<int32_t>& ids, const parquet::RowBatch& b, json* out) {
  for (size_t r = 0; r < b.num_rows; ++r) {
    json row = json::object();
    for (size_t c = 0; c < ids.size(); ++c) {
      const auto* f = schema.FindField(ids[c]);
      const auto& pf = fields[c];
      const auto& col = b.columns[c];
      if (pf.shape == parquet::FieldSchema::Shape::kPrimitive) {
        row[f->name] = ValueJson(*f->type, pf.value.type, col.values, r);
        continue;
      }
      if (!col.is_null.empty() && col.is_null[r]) {
        row[f->name] = nullptr;
        continue;
      }
      const auto& elem =
          f->type->id == TypeId::kList ? *f->type->children[0].type : *f->type->children[1].type;
      if (pf.shape == parquet::FieldSchema::Shape::kList) {
        json a = json::array();
        for (auto i = static_cast<size_t>(col.offsets[r]); i < static_cast<size_t>(col.offsets[r + 1]); ++i)
          a.push_back(ValueJson(elem, pf.value.type, col.values, i));
        row[f->name] = a;
      } else {
        json m = json::object();
        for (auto i = static_cast<size_t>(col.offsets[r]); i < static_cast<size_t>(col.offsets[r + 1]); ++i)
          m[std::string(col.keys.bytes[i])] = ValueJson(elem, pf.value.type, col.values, i);
        row[f->name] = m;
      }
    }
    out->push_back(row);
  }
}

// Adds delete files, as a row delta of another engine does (operation
// "delete"): the current manifests carried, one new delete manifest.
class AddDeleteFiles : public iceberg::SnapshotProducer {
 public:
  using SnapshotProducer::SnapshotProducer;
  std::vector<iceberg::DataFile> files;

 protected:
  std::string Operation() const override { return "delete"; }
  Result<std::vector<iceberg::ManifestFile>> NewManifests(
      const iceberg::TableMetadata& base, const std::vector<iceberg::ManifestFile>& current) override {
    FRAZIL_ASSIGN_OR_RETURN(auto out, WriteAddedManifests(base, files));
    out.insert(out.end(), current.begin(), current.end());
    return out;
  }
};

json PartitionJson(const iceberg::DataFile& f) {
  json p = json::array();
  for (const auto& v : f.partition) {
    if (!v)
      p.push_back(nullptr);
    else if (!v->s.empty())
      p.push_back(v->s);
    else
      p.push_back(v->l);
  }
  return p;
}

struct Env {
  std::unique_ptr<catalog::SqlCatalog> catalog;
};

std::unique_ptr<catalog::SqlCatalog> OpenCatalog(const std::string& db, const std::string& warehouse,
                                                 const std::string& name) {
  catalog::SqlCatalogOptions o;
  o.db_path = db;
  o.warehouse = warehouse;
  o.name = name;
  return Must(catalog::SqlCatalog::Open(o, objstore::NewLocalFileIO()), "open catalog");
}

// Splits rows by partition tuple and writes one data file per partition.
std::vector<iceberg::DataFile> WriteRows(catalog::Catalog* cat, const iceberg::TableMetadata& m,
                                         const json& rows) {
  const iceberg::Schema& schema = *m.CurrentSchema();
  const iceberg::PartitionSpec* spec = nullptr;
  for (const auto& s : m.partition_specs)
    if (s.spec_id == m.default_spec_id) spec = &s;
  parquet::FileSchema fs = Must(iceberg::ParquetSchemaFor(schema), "schema");
  std::map<std::string, std::pair<iceberg::PartitionValues, json>> groups;
  for (const auto& row : rows) {
    iceberg::PartitionValues pv;
    std::string key;
    for (const auto& pf : spec->fields) {
      const auto* src = schema.FindField(pf.source_id);
      json v = row.value(src->name, json());
      if (v.is_null()) {
        pv.emplace_back();
        key += "|null";
        continue;
      }
      iceberg::Value in;
      if (src->type->id == TypeId::kString)
        in.s = v.get<std::string>();
      else if (IsBytes(src->type->id))
        in.s = Unhex(v.get<std::string>());
      else
        in.l = v.get<int64_t>();
      auto out = Must(pf.transform.Apply(*src->type, in), "partition transform");
      pv.push_back(out);
      key += "|" + (out ? (out->s.empty() ? std::to_string(out->l) : out->s) : "null");
    }
    auto& g = groups[key];
    g.first = pv;
    g.second.push_back(row);
  }
  std::vector<iceberg::DataFile> files;
  for (auto& [key, g] : groups) {
    parquet::RowBatch b = RowsToBatch(schema, fs, g.second);
    std::string path = m.location + "/data/" + RandomUuid() + ".parquet";
    files.push_back(
        Must(iceberg::WriteDataFile(cat->io(), path, schema, spec->spec_id, g.first, {&b}), "write data"));
  }
  return files;
}

std::vector<iceberg::ColumnRange> ParseRanges(const std::vector<std::string>& args) {
  std::vector<iceberg::ColumnRange> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] != "--range" || i + 1 >= args.size()) continue;
    std::string spec = args[i + 1];
    auto c1 = spec.find(':'), c2 = spec.find(':', c1 + 1);
    iceberg::ColumnRange r;
    r.field_id = std::stoi(spec.substr(0, c1));
    std::string lo = spec.substr(c1 + 1, c2 - c1 - 1), hi = spec.substr(c2 + 1);
    if (!lo.empty()) r.min = std::stoll(lo);
    if (!hi.empty()) r.max = std::stoll(hi);
    out.push_back(r);
  }
  return out;
}

std::optional<std::string> Flag(const std::vector<std::string>& args, const std::string& name) {
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == name) return args[i + 1];
  return std::nullopt;
}

bool HasFlag(const std::vector<std::string>& args, const std::string& name) {
  return std::find(args.begin(), args.end(), name) != args.end();
}

std::vector<std::pair<std::string, std::string>> Pairs(const std::vector<std::string>& args,
                                                       const std::string& flag) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] != flag) continue;
    auto eq = args[i + 1].find('=');
    out.emplace_back(args[i + 1].substr(0, eq), args[i + 1].substr(eq + 1));
  }
  return out;
}

json TasksJson(catalog::Catalog* cat, const iceberg::TableMetadata& m,
               const std::vector<iceberg::ScanTask>& tasks, bool with_rows) {
  json files = json::array();
  json rows = json::array();
  const iceberg::Schema& schema = *m.CurrentSchema();
  std::vector<int32_t> ids;
  for (const auto& f : schema.fields) ids.push_back(f.id);
  for (const auto& t : tasks) {
    json deletes = json::array();
    for (const auto& d : t.deletes) deletes.push_back(d.file_path);
    files.push_back({{"path", t.file.file_path},
                     {"record_count", t.file.record_count},
                     {"partition", PartitionJson(t.file)},
                     {"sequence_number", t.data_sequence_number},
                     {"snapshot_id", t.added_snapshot_id},
                     {"deletes", deletes}});
    if (!with_rows) continue;
    auto row_deletes = Must(iceberg::LoadRowDeletes(cat->io(), t), "load deletes");
    auto reader =
        Must(iceberg::DataFileReader::Open(cat->io(), t.file.file_path, schema, ids), "open data file");
    for (size_t g = 0; g < reader->num_row_groups(); ++g) {
      auto batch = Must(reader->ReadRowGroup(g), "read data file");
      if (!row_deletes.empty()) {
        auto deleted = Must(row_deletes.DeletedRows(batch, reader->RowGroupFirstRow(g), reader->fields()),
                            "apply deletes");
        batch = iceberg::RemoveRows(batch, reader->fields(), deleted);
      }
      BatchToRows(schema, reader->fields(), ids, batch, &rows);
    }
  }
  json out = {{"files", files}};
  if (with_rows) out["rows"] = rows;
  return out;
}

int Run(const std::string& db, const std::string& warehouse, const std::string& catalog_name,
        const std::vector<std::string>& args) {
  if (args.empty()) Fail("no command");
  auto cat = OpenCatalog(db, warehouse, catalog_name);
  const std::string& cmd = args[0];
  auto arg = [&](size_t i) -> const std::string& {
    if (i >= args.size()) Fail(cmd + ": missing argument");
    return args[i];
  };
  auto table_id = [&](size_t i) { return Must(catalog::TableIdentifier::Parse(arg(i)), "table identifier"); };
  json out;

  if (cmd == "create-namespace") {
    catalog::Properties props;
    for (size_t i = 2; i < args.size(); ++i) {
      auto eq = args[i].find('=');
      props[args[i].substr(0, eq)] = args[i].substr(eq + 1);
    }
    Must(cat->CreateNamespace(Must(catalog::ParseNamespace(arg(1)), "namespace"), props), "create namespace");
    out = {{"created", arg(1)}};
  } else if (cmd == "list-namespaces") {
    catalog::Namespace parent;
    if (args.size() > 1) parent = Must(catalog::ParseNamespace(args[1]), "namespace");
    out = json::array();
    for (const auto& ns : Must(cat->ListNamespaces(parent), "list namespaces"))
      out.push_back(catalog::NamespaceToString(ns));
  } else if (cmd == "namespace-properties") {
    out =
        Must(cat->LoadNamespaceProperties(Must(catalog::ParseNamespace(arg(1)), "namespace")), "properties");
  } else if (cmd == "drop-namespace") {
    Must(cat->DropNamespace(Must(catalog::ParseNamespace(arg(1)), "namespace")), "drop namespace");
    out = {{"dropped", arg(1)}};
  } else if (cmd == "create-table") {
    catalog::CreateTableRequest req;
    req.schema = Must(iceberg::SchemaFromJson(ReadJsonFile(arg(2))), "schema");
    if (args.size() > 3 && args[3] != "-")
      req.spec = Must(iceberg::PartitionSpecFromJson(ReadJsonFile(args[3]), req.schema), "partition spec");
    for (size_t i = 4; i < args.size(); ++i) {
      auto eq = args[i].find('=');
      req.properties[args[i].substr(0, eq)] = args[i].substr(eq + 1);
    }
    auto t = Must(cat->CreateTable(table_id(1), std::move(req)), "create table");
    out = {{"metadata_location", t.metadata_location}, {"location", t.metadata.location}};
  } else if (cmd == "list-tables") {
    out = json::array();
    for (const auto& t :
         Must(cat->ListTables(Must(catalog::ParseNamespace(arg(1)), "namespace")), "list tables"))
      out.push_back(t.ToString());
  } else if (cmd == "load") {
    auto t = Must(cat->LoadTable(table_id(1)), "load table");
    out = {{"metadata_location", t.metadata_location},
           {"metadata", iceberg::TableMetadataToJson(t.metadata)}};
  } else if (cmd == "drop-table") {
    Must(cat->DropTable(table_id(1), HasFlag(args, "--purge")), "drop table");
    out = {{"dropped", arg(1)}};
  } else if (cmd == "rename-table") {
    Must(cat->RenameTable(table_id(1), table_id(2)), "rename table");
    out = {{"renamed", arg(2)}};
  } else if (cmd == "append") {
    auto id = table_id(1);
    auto t = Must(cat->LoadTable(id), "load table");
    auto files = WriteRows(cat.get(), t.metadata, ReadJsonFile(arg(2)));
    iceberg::FastAppend append(cat->io());
    for (auto& f : files) append.AddFile(f);
    for (const auto& [k, v] : Pairs(args, "--summary")) append.SetSummary(k, v);
    for (const auto& [k, v] : Pairs(args, "--property")) append.SetProperty(k, v);
    catalog::CommitStats stats;
    auto committed =
        Must(catalog::CommitWithRetry(cat.get(), id, &append, t, std::nullopt, &stats), "commit");
    json paths = json::array();
    for (const auto& f : files) paths.push_back(f.file_path);
    out = {{"snapshot_id", append.snapshot_id()},
           {"attempts", stats.attempts},
           {"files", paths},
           {"metadata_location", committed.metadata_location}};
  } else if (cmd == "append-loop") {
    // Concurrent writers: each thread has its own catalog connection and
    // appends one file per commit, rows numbered start + thread*commits*rows + ...
    auto id = table_id(1);
    int commits = std::stoi(Flag(args, "--commits").value_or("10"));
    int threads = std::stoi(Flag(args, "--threads").value_or("1"));
    int64_t start = std::stoll(Flag(args, "--start").value_or("0"));
    int rows_per = std::stoi(Flag(args, "--rows").value_or("1"));
    std::string writer = Flag(args, "--writer").value_or("w");
    std::atomic<int> failures{0}, retries{0};
    std::vector<std::thread> pool;
    for (int th = 0; th < threads; ++th) {
      pool.emplace_back([&, th] {
        auto c = OpenCatalog(db, warehouse, catalog_name);
        for (int i = 0; i < commits; ++i) {
          auto t = c->LoadTable(id);
          if (!t.ok()) {
            failures++;
            continue;
          }
          json rows = json::array();
          int64_t base = start + (static_cast<int64_t>(th) * commits + i) * rows_per;
          for (int r = 0; r < rows_per; ++r)
            rows.push_back({{"offset", base + r}, {"writer", writer + "-" + std::to_string(th)}});
          auto files = WriteRows(c.get(), t->metadata, rows);
          iceberg::FastAppend append(c->io());
          for (auto& f : files) append.AddFile(f);
          append.SetSummary("frazil.offsets",
                            std::to_string(base) + "-" + std::to_string(base + rows_per - 1));
          catalog::CommitRetryPolicy policy;
          policy.num_retries = 1000;
          policy.min_wait_ms = 1;
          policy.max_wait_ms = 50;
          catalog::CommitStats stats;
          auto r = catalog::CommitWithRetry(c.get(), id, &append, std::move(t).value(), policy, &stats);
          if (!r.ok()) {
            std::cerr << "commit failed: " << r.status().ToString() << "\n";
            failures++;
          }
          retries += stats.attempts - 1;
        }
      });
    }
    for (auto& p : pool) p.join();
    out = {{"failures", failures.load()}, {"retries", retries.load()}};
  } else if (cmd == "scan" || cmd == "appends") {
    auto t = Must(cat->LoadTable(table_id(1)), "load table");
    iceberg::RowFilter filter;
    for (const auto& r : ParseRanges(args)) filter.And(r);
    std::vector<iceberg::ScanTask> tasks;
    int64_t snapshot_id = -1;
    if (cmd == "scan") {
      const iceberg::Snapshot* snap = t.metadata.CurrentSnapshot();
      if (auto s = Flag(args, "--snapshot")) {
        snap = t.metadata.SnapshotById(std::stoll(*s));
        if (!snap) Fail("no snapshot " + *s);
      } else if (auto ref = Flag(args, "--ref")) {
        snap = Must(iceberg::SnapshotByRef(t.metadata, *ref), "ref");
      } else if (auto ts = Flag(args, "--as-of")) {
        snap = Must(iceberg::SnapshotAsOf(t.metadata, std::stoll(*ts)), "as of");
      }
      if (snap) {
        snapshot_id = snap->snapshot_id;
        tasks = Must(iceberg::PlanFiles(cat->io(), t.metadata, *snap, filter), "plan");
      }
    } else {
      std::optional<int64_t> from;
      if (auto f = Flag(args, "--from")) from = std::stoll(*f);
      snapshot_id = std::stoll(Flag(args, "--to").value_or("-1"));
      tasks = Must(iceberg::PlanAppends(cat->io(), t.metadata, from, snapshot_id, filter), "plan appends");
    }
    out = TasksJson(cat.get(), t.metadata, tasks, HasFlag(args, "--rows"));
    out["snapshot_id"] = snapshot_id;
  } else if (cmd == "add-deletes") {
    auto id = table_id(1);
    auto t = Must(cat->LoadTable(id), "load table");
    AddDeleteFiles add(cat->io());
    for (const auto& d : ReadJsonFile(arg(2))) {
      iceberg::DataFile f;
      f.content = d.at("content") == "equality" ? iceberg::FileContent::kEqualityDeletes
                                                : iceberg::FileContent::kPositionDeletes;
      f.file_path = d.at("path");
      f.spec_id = d.value("spec_id", t.metadata.default_spec_id);
      for (const auto& v : d.value("partition", json::array())) {
        if (v.is_null()) {
          f.partition.emplace_back();
        } else {
          iceberg::Value value;
          value.l = v.get<int64_t>();
          f.partition.emplace_back(value);
        }
      }
      f.record_count = d.at("record_count");
      f.file_size_in_bytes =
          static_cast<int64_t>(Must(cat->io()->Read(f.file_path), "read delete file").size());
      f.equality_ids = d.value("equality_ids", std::vector<int32_t>{});
      add.files.push_back(std::move(f));
    }
    auto committed = Must(catalog::CommitWithRetry(cat.get(), id, &add, t), "commit deletes");
    out = {{"snapshot_id", add.snapshot_id()}, {"summary", committed.metadata.CurrentSnapshot()->summary}};
  } else if (cmd == "snapshots") {
    auto t = Must(cat->LoadTable(table_id(1)), "load table");
    out = json::array();
    for (const auto& s : t.metadata.snapshots)
      out.push_back({{"snapshot_id", s.snapshot_id},
                     {"parent_snapshot_id", s.parent_snapshot_id ? json(*s.parent_snapshot_id) : json()},
                     {"sequence_number", s.sequence_number},
                     {"timestamp_ms", s.timestamp_ms},
                     {"manifest_list", s.manifest_list},
                     {"summary", s.summary}});
  } else if (cmd == "tag") {
    auto t = Must(cat->LoadTable(table_id(1)), "load table");
    int64_t snap = std::stoll(arg(3));
    if (!t.metadata.SnapshotById(snap)) Fail("no snapshot " + arg(3));
    iceberg::TableMetadata next = t.metadata;
    iceberg::SnapshotRef ref;
    ref.snapshot_id = snap;
    ref.type = "tag";
    next.refs[arg(2)] = ref;
    Must(cat->CommitTable(t, next), "commit tag");
    out = {{"tag", arg(2)}, {"snapshot_id", snap}};
  } else if (cmd == "delete-where" || cmd == "delete-file") {
    auto id = table_id(1);
    iceberg::RewriteFiles del(cat->io(), iceberg::RewriteFiles::Kind::kDelete);
    if (cmd == "delete-file") {
      del.DeleteFile(arg(2));
    } else {
      iceberg::RowFilter filter;
      for (const auto& r : ParseRanges(args)) filter.And(r);
      del.DeleteWhere(filter);
    }
    auto committed = Must(catalog::CommitWithRetry(cat.get(), id, &del), "commit delete");
    out = {{"snapshot_id", del.snapshot_id()}, {"summary", committed.metadata.CurrentSnapshot()->summary}};
  } else if (cmd == "compact") {
    // Rewrites every live file of each partition into one file.
    auto id = table_id(1);
    auto t = Must(cat->LoadTable(id), "load table");
    const auto* snap = t.metadata.CurrentSnapshot();
    if (!snap) Fail("table has no snapshot");
    auto tasks = Must(iceberg::PlanFiles(cat->io(), t.metadata, *snap), "plan");
    json rows = TasksJson(cat.get(), t.metadata, tasks, true)["rows"];
    auto files = WriteRows(cat.get(), t.metadata, rows);
    iceberg::RewriteFiles replace(cat->io(), iceberg::RewriteFiles::Kind::kReplace);
    for (const auto& task : tasks) replace.DeleteFile(task.file.file_path);
    for (auto& f : files) replace.AddFile(f);
    auto committed = Must(catalog::CommitWithRetry(cat.get(), id, &replace, t), "commit replace");
    out = {{"snapshot_id", replace.snapshot_id()},
           {"summary", committed.metadata.CurrentSnapshot()->summary}};
  } else if (cmd == "expire") {
    auto id = table_id(1);
    auto t = Must(cat->LoadTable(id), "load table");
    iceberg::ExpireOptions opts;
    if (auto v = Flag(args, "--older-than")) opts.older_than_ms = std::stoll(*v);
    if (auto v = Flag(args, "--retain-last")) opts.retain_last = std::stoi(*v);
    std::vector<int64_t> expired;
    auto next = Must(iceberg::ExpireSnapshots(t.metadata, opts, &expired), "expire");
    auto committed = Must(cat->CommitTable(t, next), "commit expiry");
    auto removed =
        Must(iceberg::FilesRemovedByExpiry(cat->io(), t.metadata, committed.metadata), "files to delete");
    for (const auto& f : removed) Must(cat->io()->Delete(f), "delete");
    out = {{"expired", expired}, {"deleted", removed}};
  } else if (cmd == "remove-orphans") {
    auto t = Must(cat->LoadTable(table_id(1)), "load table");
    int64_t older = std::stoll(Flag(args, "--older-than").value_or("0"));
    out = Must(iceberg::RemoveOrphanFiles(cat->io(), t.metadata, t.metadata_location, older,
                                          HasFlag(args, "--dry-run")),
               "remove orphans");
  } else if (cmd == "topic-commit") {
    wal::WalOptions o;
    o.dir = Flag(args, "--wal").value_or("");
    if (o.dir.empty()) Fail("topic-commit needs --wal DIR");
    auto log = Must(wal::WriteAheadLog::Open(o), "open WAL");
    storage::WriterConfig config;
    config.max_rows = std::stoul(Flag(args, "--max-rows").value_or("100000"));
    auto writer =
        Must(storage::TopicWriter::Open(cat.get(), table_id(1), log.get(), config), "open topic writer");
    int batches = 0;
    while (Must(writer->CommitBatch(), "commit batch") > 0) ++batches;
    Must(log->Close(), "close WAL");
    out = {{"committed_offset", writer->committed_offset()}, {"batches", batches}};
  } else {
    Fail("unknown command " + cmd);
  }
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db, warehouse, name = "frazil";
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--db" && i + 1 < argc) {
      db = argv[++i];
    } else if (a == "--warehouse" && i + 1 < argc) {
      warehouse = argv[++i];
    } else if (a == "--catalog" && i + 1 < argc) {
      name = argv[++i];
    } else {
      rest.push_back(a);
    }
  }
  if (db.empty() || warehouse.empty()) Fail("--db and --warehouse are required");
  try {
    return Run(db, warehouse, name, rest);
  } catch (const std::exception& e) {
    Fail(std::string("bad input: ") + e.what());
  }
}
