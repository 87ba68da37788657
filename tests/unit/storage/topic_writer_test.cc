// TopicWriter: WAL records become rows of the topic's table, committed once:
// a reopened writer resumes at the committed offset, and two writers on one
// table never commit the same offsets twice.
#include "frazil/storage/topic_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>
#include <tuple>

#include "../testing/forwarding_catalog.h"
#include "../testing/temp_dir.h"
#include "../testing/test_wal.h"
#include "danube_api.pb.h"
#include "frazil/catalog/sql_catalog.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/iceberg/scan.h"
#include "frazil/objstore/object_store_file_io.h"
#include "frazil/parquet/file_reader.h"
#include "frazil/storage/envelope.h"
#include "frazil/storage/table_history.h"

namespace frazil::storage {
namespace {

class TopicWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wal_ = testing::OpenTestWal(dir_);
    catalog_ = OpenCatalog();
  }
  void TearDown() override { (void)wal_->Close(); }

  std::unique_ptr<catalog::SqlCatalog> OpenCatalog() {
    catalog::SqlCatalogOptions c;
    c.db_path = dir_.Sub("catalog.db");
    c.warehouse = "file://" + dir_.Sub("warehouse");
    return catalog::SqlCatalog::Open(c, objstore::NewLocalFileIO()).value();
  }

  void Produce(int n, uint64_t publish_ms = 1700000000000) {
    for (int i = 0; i < n; ++i) {
      danube::StreamMessage m;
      m.mutable_msg_id()->set_producer_id(7);
      m.set_payload("payload-" + std::to_string(produced_));
      m.set_publish_time(publish_ms + static_cast<uint64_t>(produced_) * 3600 * 1000);  // an hour apart
      m.set_producer_name("p");
      (*m.mutable_attributes())["n"] = std::to_string(produced_);
      if (produced_ % 2) m.set_routing_key("k" + std::to_string(produced_ % 3));
      std::string s = m.SerializeAsString();
      ASSERT_TRUE(wal_->AppendAndWait({reinterpret_cast<const uint8_t*>(s.data()), s.size()}).ok());
      ++produced_;
    }
  }

  // Every row of the table: offset -> payload, checking no offset repeats.
  std::map<int64_t, std::string> Rows() {
    auto t = catalog_->LoadTable(id_).value();
    std::map<int64_t, std::string> out;
    if (!t.metadata.CurrentSnapshot()) return out;
    auto tasks = iceberg::PlanFiles(catalog_->io(), t.metadata, *t.metadata.CurrentSnapshot()).value();
    for (const auto& task : tasks) {
      auto r = iceberg::DataFileReader::Open(catalog_->io(), task.file.file_path, *t.metadata.CurrentSchema(),
                                             {kOffset, kPayload, kAttributes})
                   .value();
      for (size_t g = 0; g < r->num_row_groups(); ++g) {
        auto b = r->ReadRowGroup(g).value();
        for (size_t i = 0; i < b.num_rows; ++i) {
          int64_t off = b.columns[0].values.ints[i];
          EXPECT_TRUE(out.emplace(off, std::string(b.columns[1].values.bytes[i])).second)
              << "offset twice: " << off;
          EXPECT_EQ(b.columns[2].values.bytes[static_cast<size_t>(b.columns[2].offsets[i])],
                    std::to_string(off));
        }
      }
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<wal::WriteAheadLog> wal_;
  std::unique_ptr<catalog::SqlCatalog> catalog_;
  catalog::TableIdentifier id_{{"default"}, "orders"};
  int produced_ = 0;
};

// Publish times spread over many days: each commit writes at most
// max_days files (one per day), and every record is still committed once.
TEST_F(TopicWriterTest, ACommitSpansAtMostMaxDaysOfPublishTime) {
  Produce(200);  // an hour apart: 9 days
  WriterConfig config;
  config.max_days = 3;
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), config).value();
  int commits = 0;
  while (w->CommitBatch().value() > 0) ++commits;
  EXPECT_GE(commits, 3);
  EXPECT_EQ(Rows().size(), 200u);
  auto t = catalog_->LoadTable(id_).value();
  for (const auto& snap : t.metadata.snapshots)
    EXPECT_LE(std::stoi(snap.summary.at("added-data-files")), 3) << snap.snapshot_id;
}

TEST_F(TopicWriterTest, CommitsEachOffsetOnceAcrossBatchesAndReopens) {
  Produce(50);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{20, 1 << 30}).value();
  EXPECT_EQ(w->CommitBatch().value(), 20u);
  EXPECT_EQ(w->CommitBatch().value(), 20u);
  EXPECT_EQ(w->committed_offset(), 40u);
  // A new writer (a restart) resumes at the table's committed offset.
  auto restarted_catalog = OpenCatalog();
  auto again =
      TopicWriter::Open(restarted_catalog.get(), id_, wal_.get(), WriterConfig{1000, 1 << 30}).value();
  EXPECT_EQ(again->committed_offset(), 40u);
  EXPECT_EQ(again->CommitBatch().value(), 10u);
  EXPECT_EQ(again->CommitBatch().value(), 0u);
  Produce(5);
  EXPECT_EQ(again->CommitBatch().value(), 5u);
  auto rows = Rows();
  ASSERT_EQ(rows.size(), 55u);
  for (int i = 0; i < 55; ++i) EXPECT_EQ(rows[i], "payload-" + std::to_string(i));
  // Each commit's snapshot names its offsets; messages an hour apart span days.
  auto m = catalog_->LoadTable(id_).value().metadata;
  ASSERT_EQ(m.snapshots.size(), 4u);
  EXPECT_EQ(m.snapshots[0].summary.at(kOffsetsSummary), "0-19");
  EXPECT_EQ(m.snapshots[3].summary.at(kOffsetsSummary), "50-54");
  EXPECT_EQ(m.properties.at(kCommittedOffsetProperty), "55");
  EXPECT_GT(std::stoi(m.snapshots[0].summary.at("added-data-files")), 1);
}

TEST_F(TopicWriterTest, BatchesAreCutBeforeTheByteLimitOrMemoryCapWouldBePassed) {
  Produce(40);
  std::vector<uint64_t> sizes;
  auto reader = wal_->NewReader();
  while (auto rec = reader->TryNext().value()) sizes.push_back(rec->payload.size());
  ASSERT_EQ(sizes.size(), 40u);
  // How many records from `first` fit under both limits (at least one).
  auto fitting = [&](size_t first, uint64_t max_bytes, uint64_t cap) {
    size_t n = 0;
    uint64_t bytes = 0, memory = 0;
    for (size_t i = first; i < sizes.size(); ++i, ++n) {
      if (n > 0 && (bytes + sizes[i] > max_bytes || memory + BatchMemoryPerRecord(sizes[i]) > cap)) break;
      bytes += sizes[i];
      memory += BatchMemoryPerRecord(sizes[i]);
    }
    return n;
  };
  const uint64_t cap = 4 * BatchMemoryPerRecord(sizes[0]) + 10;
  auto by_memory =
      TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{1000, 1 << 30, cap}).value();
  size_t n = by_memory->CommitBatch().value();
  EXPECT_EQ(n, fitting(0, 1 << 30, cap));
  EXPECT_GE(n, 3u);
  EXPECT_LE(n, 4u);
  // A byte limit of two and a half records.
  const uint64_t max_bytes = sizes[n] + sizes[n + 1] + sizes[n + 2] / 2;
  auto by_bytes =
      TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{1000, max_bytes, 1 << 30}).value();
  EXPECT_EQ(by_bytes->CommitBatch().value(), 2u);
  // A record larger than the cap still goes, alone.
  auto tiny = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{1000, 1, 1}).value();
  EXPECT_EQ(tiny->CommitBatch().value(), 1u);
  EXPECT_EQ(tiny->committed_offset(), n + 3);
  EXPECT_EQ(Rows().size(), n + 3);
}

// The budget shared by every topic's commits cuts a batch where what other
// commits hold leaves no room, lets the first record through regardless,
// and is whole again after each commit.
TEST_F(TopicWriterTest, BatchesShareOneMemoryBudget) {
  Produce(20);
  std::vector<uint64_t> need;
  auto reader = wal_->NewReader();
  while (auto rec = reader->TryNext().value()) need.push_back(BatchMemoryPerRecord(rec->payload.size()));
  ASSERT_EQ(need.size(), 20u);
  const uint64_t total = need[0] + need[1] + need[2] + 10;  // room for three records
  MemoryBudget budget(total);
  WriterConfig config;
  config.shared_memory = &budget;
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), config).value();
  EXPECT_EQ(w->CommitBatch().value(), 3u);
  EXPECT_EQ(budget.available(), static_cast<int64_t>(total));
  // Other commits hold all but two and a half records' worth: two go.
  const uint64_t held = total - need[3] - need[4] - need[5] / 2;
  ASSERT_TRUE(budget.TryTake(held));
  EXPECT_EQ(w->CommitBatch().value(), 2u);
  EXPECT_EQ(budget.available(), static_cast<int64_t>(total - held));
  // Nothing left: the first record still goes, alone.
  ASSERT_TRUE(budget.TryTake(total - held));
  const uint64_t before = w->committed_offset();
  EXPECT_EQ(w->CommitBatch().value(), 1u);
  EXPECT_EQ(w->committed_offset(), before + 1);
  EXPECT_EQ(budget.available(), 0);
  budget.Give(total);
  // Without other commits, the rest in one batch as far as the budget goes.
  EXPECT_EQ(w->CommitBatch().value(), 3u);
  EXPECT_EQ(budget.available(), static_cast<int64_t>(total));
}

// A new topic's table is created by its first commit, with that commit's
// snapshot, in one metadata file and one catalog write; readers see an
// ordinary table, and the next writer continues it.
TEST_F(TopicWriterTest, FirstCommitCreatesTheTableWithItsSnapshot) {
  Produce(5);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get()).value();
  EXPECT_TRUE(w->table_absent());
  EXPECT_EQ(catalog_->LoadTable(id_).status().code(), StatusCode::kNotFound) << "Open must not create it";
  ASSERT_EQ(w->CommitBatch().value(), 5u);
  EXPECT_FALSE(w->table_absent());
  EXPECT_EQ(w->committed_offset(), 5u);
  auto t = catalog_->LoadTable(id_).value();
  EXPECT_EQ(t.metadata.snapshots.size(), 1u);
  EXPECT_EQ(w->snapshot_id(), t.metadata.current_snapshot_id.value_or(-1));
  EXPECT_EQ(iceberg::MetadataFileVersion(t.metadata_location), 0) << t.metadata_location;
  size_t metadata_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("warehouse/default/orders/metadata")))
    metadata_files += e.path().string().ends_with(".metadata.json");
  EXPECT_EQ(metadata_files, 1u);
  EXPECT_EQ(CommittedOffset(t.metadata).value(), 5u);
  EXPECT_EQ(t.metadata.properties.at("frazil.topic"), "/default/orders");
  EXPECT_EQ(t.metadata.properties.at("write.metadata.previous-versions-max"), "50");
  EXPECT_TRUE(iceberg::FindSortOrderId(t.metadata, EnvelopeSortOrder()).has_value());
  auto rows = Rows();
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows.at(4), "payload-4");
  // The replay reader's view of the table.
  TableHistory history(catalog_.get(), id_);
  ASSERT_TRUE(history.Refresh(0).ok());
  EXPECT_EQ(history.committed_end(), 5u);
  EXPECT_TRUE(history.RangeAt(0).has_value());
  // A later writer opens it as any table and continues.
  Produce(2);
  auto next = TopicWriter::Open(catalog_.get(), id_, wal_.get()).value();
  EXPECT_FALSE(next->table_absent());
  EXPECT_EQ(next->committed_offset(), 5u);
  EXPECT_EQ(next->CommitBatch().value(), 2u);
  EXPECT_EQ(Rows().size(), 7u);
  EXPECT_EQ(catalog_->LoadTable(id_).value().metadata.snapshots.size(), 2u);
}

// A topic with no records gets an empty table on request (the committer
// asks after a flush interval); a writer that loses the race to create the
// table gets a conflict, not a second table, and its files are removed.
TEST_F(TopicWriterTest, EmptyTableOnRequestAndCreationRacesAreConflicts) {
  auto empty = TopicWriter::Open(catalog_.get(), id_, wal_.get()).value();
  auto late = TopicWriter::Open(catalog_.get(), id_, wal_.get()).value();
  ASSERT_TRUE(empty->table_absent() && late->table_absent());
  ASSERT_TRUE(empty->CreateTable().ok());
  EXPECT_FALSE(empty->table_absent());
  auto t = catalog_->LoadTable(id_).value();
  EXPECT_TRUE(t.metadata.snapshots.empty());
  EXPECT_EQ(empty->committed_offset(), 0u);
  Produce(3);
  auto lost = late->CommitBatch();
  EXPECT_EQ(lost.status().code(), StatusCode::kCommitConflict) << lost.status().ToString();
  size_t data_files = 0;
  if (std::filesystem::exists(dir_.Sub("warehouse/default/orders/data")))
    for (const auto& e :
         std::filesystem::recursive_directory_iterator(dir_.Sub("warehouse/default/orders/data")))
      data_files += e.is_regular_file();
  EXPECT_EQ(data_files, 0u) << "the losing writer's data files were left behind";
  // Its next attempt commits onto the table that exists.
  EXPECT_EQ(late->CommitBatch().value(), 3u);
  EXPECT_EQ(Rows().size(), 3u);
}

// A catalog whose CreateTable answers "outcome unknown" after creating the
// table (a REST server's 503, a lost answer): everything else goes to the
// real catalog.
class UnknownCreateCatalog : public frazil::testing::ForwardingCatalog {
 public:
  using ForwardingCatalog::ForwardingCatalog;
  Result<catalog::LoadedTable> CreateTable(const catalog::TableIdentifier& id,
                                           catalog::CreateTableRequest request) override {
    auto created = inner_->CreateTable(id, std::move(request));
    if (!created.ok()) return created;
    ++creates;
    return Status::CommitStateUnknown("create table " + id.ToString() + ": injected lost answer");
  }
  int creates = 0;  // tables it created
};

// The table's creating commit happened but its answer was lost: re-reading
// the table settles it as done (its snapshot is there), so the batch is
// not written again only to find the table made "by someone else".
TEST_F(TopicWriterTest, CreationWithAnUnknownOutcomeThatHappenedIsSettledAsDone) {
  UnknownCreateCatalog lossy(catalog_.get());
  Produce(5);
  auto w = TopicWriter::Open(&lossy, id_, wal_.get()).value();
  ASSERT_TRUE(w->table_absent());
  auto first = w->CommitBatch();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, 5u);
  EXPECT_EQ(lossy.creates, 1);
  EXPECT_FALSE(w->table_absent());
  EXPECT_EQ(w->committed_offset(), 5u);
  auto t = catalog_->LoadTable(id_).value();
  ASSERT_EQ(t.metadata.snapshots.size(), 1u);
  EXPECT_EQ(w->snapshot_id(), t.metadata.current_snapshot_id.value_or(-1));
  size_t data_files = 0;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(dir_.Sub("warehouse/default/orders/data")))
    data_files += e.is_regular_file();
  auto in_table = iceberg::PlanFiles(catalog_->io(), t.metadata, *t.metadata.CurrentSnapshot()).value();
  EXPECT_EQ(data_files, in_table.size()) << "a batch was written twice";
  Produce(2);
  EXPECT_EQ(w->CommitBatch().value(), 2u);
  EXPECT_EQ(lossy.creates, 1);
  auto rows = Rows();
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(rows.at(6), "payload-6");
}

TEST_F(TopicWriterTest, TwoWritersNeverCommitTheSameOffsets) {
  Produce(400);
  auto cat_a = OpenCatalog(), cat_b = OpenCatalog();
  auto a = TopicWriter::Open(cat_a.get(), id_, wal_.get(), WriterConfig{7, 1 << 30}).value();
  auto b = TopicWriter::Open(cat_b.get(), id_, wal_.get(), WriterConfig{11, 1 << 30}).value();
  std::atomic<int> conflicts{0};
  auto run = [&conflicts](TopicWriter* w) {
    for (int i = 0; i < 200 && w->committed_offset() < 400; ++i) {
      auto r = w->CommitBatch();
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), StatusCode::kCommitConflict) << r.status().ToString();
        conflicts++;
      }
    }
  };
  std::thread ta(run, a.get()), tb(run, b.get());
  ta.join();
  tb.join();
  auto rows = Rows();
  EXPECT_EQ(rows.size(), 400u);  // every offset once (Rows() fails on a repeat)
  // Files of refused attempts were removed: every data file is in the table.
  auto t = catalog_->LoadTable(id_).value();
  auto live = iceberg::PlanFiles(catalog_->io(), t.metadata, *t.metadata.CurrentSnapshot()).value();
  auto listed = catalog_->io()->List(t.metadata.location + "/data/").value();
  EXPECT_EQ(listed.size(), live.size());
}

TEST_F(TopicWriterTest, EnvelopeRowsKeepEveryField) {
  Produce(3);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get()).value();
  ASSERT_EQ(w->CommitBatch().value(), 3u);
  auto t = catalog_->LoadTable(id_).value();
  auto tasks = iceberg::PlanFiles(catalog_->io(), t.metadata, *t.metadata.CurrentSnapshot()).value();
  ASSERT_FALSE(tasks.empty());
  std::vector<int32_t> all = {kOffset, kPublishTime, kProducerName, kProducerId, kRoutingKey, kPayload};
  auto r =
      iceberg::DataFileReader::Open(catalog_->io(), tasks[0].file.file_path, *t.metadata.CurrentSchema(), all)
          .value();
  auto b = r->ReadRowGroup(0).value();
  int64_t off = b.columns[0].values.ints[0];
  EXPECT_EQ(b.columns[1].values.ints[0], (1700000000000 + off * 3600 * 1000) * 1000);  // micros
  EXPECT_EQ(b.columns[2].values.bytes[0], "p");
  EXPECT_EQ(b.columns[3].values.ints[0], 7);
  EXPECT_EQ(b.columns[4].values.IsNull(0), off % 2 == 0);
  // The offset range prunes by bounds.
  iceberg::RowFilter f;
  f.And({kOffset, 1, 1});
  auto hit = iceberg::PlanFiles(catalog_->io(), t.metadata, *t.metadata.CurrentSnapshot(), f).value();
  EXPECT_EQ(hit.size(), 1u);
}

// Typed columns (typed_payloads.h): messages of two versions of a JSON
// Schema subject, committed in two batches. Each commit that first uses a
// version's columns carries the schema change; ids are kept by name, the
// new field gets an id above the table's last column id; a message with no
// schema, and one that does not decode, are kept with the reason.
class SchemaChangingCatalog : public frazil::testing::ForwardingCatalog {
 public:
  using ForwardingCatalog::ForwardingCatalog;
  // Before the next commit reaches the catalog, "another engine" adds a
  // column of its own, taking the next free field id.
  Result<catalog::LoadedTable> CommitTable(const catalog::LoadedTable& base,
                                           const iceberg::TableMetadata& updated) override {
    if (interfere) {
      interfere = false;
      iceberg::TableMetadata m = base.metadata;
      auto added = iceberg::AddOptionalColumn(
          *m.CurrentSchema(), "note", iceberg::Primitive(iceberg::TypeId::kString), &m.last_column_id);
      EXPECT_TRUE(added.ok()) << added.status().ToString();
      m.schemas.push_back(*added);
      m.current_schema_id = added->schema_id;
      EXPECT_TRUE(inner_->CommitTable(base, m).ok());
    }
    return inner_->CommitTable(base, updated);
  }
  bool interfere = false;
};

TEST_F(TopicWriterTest, TypedColumnsEvolveInTheCommitThatFirstUsesThem) {
  const std::string v1 = R"({"type":"object","properties":{"id":{"type":"integer"}}})";
  const std::string v2 =
      R"({"type":"object","properties":{"id":{"type":"integer"},"qty":{"type":"integer"}}})";
  WriterConfig config;
  int resolved = 0;
  config.payload_schemas = [&](uint64_t id, uint32_t version) -> Result<PayloadSchemaDefinition> {
    ++resolved;
    if (id != 5 || version < 1 || version > 3) return Status::NotFound("no such schema version");
    // Version 3 retypes id (compatibility mode none): no table can take it.
    const std::string v3 = R"({"type":"object","properties":{"id":{"type":"object"}}})";
    return PayloadSchemaDefinition{schema::SchemaType::kJsonSchema, version == 1   ? v1
                                                                    : version == 2 ? v2
                                                                                   : v3};
  };
  auto put = [&](const std::string& payload, std::optional<uint32_t> version) {
    StoredMessage m;
    m.publish_time_ms = 1700000000000;
    m.producer_name = "p";
    m.payload = payload;
    if (version) {
      m.schema_id = 5;
      m.schema_version = *version;
    }
    auto rec = EncodeStoredMessage(m);
    ASSERT_TRUE(wal_->AppendAndWait(rec).ok());
  };
  put(R"({"id": 1})", 1);
  put(R"({"id": "one"})", 1);  // does not decode: kept, with the reason
  put("no schema", std::nullopt);
  SchemaChangingCatalog cat(catalog_.get());
  auto w = TopicWriter::Open(&cat, id_, wal_.get(), config).value();
  ASSERT_EQ(w->CommitBatch().value(), 3u);
  EXPECT_EQ(w->undecoded(), 2u);
  auto t1 = catalog_->LoadTable(id_).value().metadata;
  ASSERT_EQ(t1.schemas.size(), 2u);  // the envelope, then with the typed columns
  const iceberg::Schema* s1 = t1.CurrentSchema();
  ASSERT_NE(s1, nullptr);
  EXPECT_EQ(t1.CurrentSnapshot()->schema_id, s1->schema_id);
  TypedFields f1 = FindTypedFields(*s1);
  ASSERT_NE(f1.value, nullptr);
  ASSERT_EQ(f1.value->type->fields.size(), 1u);
  const int32_t value_id = f1.value->id, id_id = f1.value->type->fields[0].id;
  EXPECT_GT(value_id, kSchemaVersion);
  EXPECT_EQ(t1.last_column_id, s1->HighestFieldId());

  // Version 2 adds qty; meanwhile another engine adds a column, taking the
  // id the batch's qty was planned with: the batch is written again on the
  // new schema and committed with it.
  put(R"({"id": 2, "qty": 20})", 2);
  put(R"({"id": 3})", 1);
  cat.interfere = true;
  auto second = w->CommitBatch();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*second, 2u);
  EXPECT_EQ(w->undecoded(), 2u);
  auto t2 = catalog_->LoadTable(id_).value().metadata;
  ASSERT_EQ(t2.schemas.size(), 4u);  // + note (the other engine's), + qty
  const iceberg::Schema* s2 = t2.CurrentSchema();
  TypedFields f2 = FindTypedFields(*s2);
  ASSERT_NE(f2.value, nullptr);
  ASSERT_EQ(f2.value->type->fields.size(), 2u);
  EXPECT_EQ(f2.value->id, value_id);
  EXPECT_EQ(f2.value->type->fields[0].id, id_id);
  const int32_t qty_id = f2.value->type->fields[1].id;
  const iceberg::NestedField* note = nullptr;
  for (const auto& f : s2->fields)
    if (f.name == "note") note = &f;
  ASSERT_NE(note, nullptr);
  EXPECT_GT(note->id, t1.last_column_id);
  EXPECT_GT(qty_id, note->id);  // never reused
  EXPECT_EQ(t2.last_column_id, qty_id);
  EXPECT_EQ(t2.CurrentSnapshot()->schema_id, s2->schema_id);
  EXPECT_EQ(resolved, 2);  // each version resolved once

  // Every row reads with the current schema: the old file by field id, with
  // qty null; the reasons are kept.
  auto tasks = iceberg::PlanFiles(catalog_->io(), t2, *t2.CurrentSnapshot()).value();
  std::map<int64_t, std::tuple<bool, int64_t, bool, int64_t, std::string>> rows;
  for (const auto& task : tasks) {
    auto r = iceberg::DataFileReader::Open(catalog_->io(), task.file.file_path, *s2,
                                           {kOffset, f2.value->id, f2.error->id})
                 .value();
    auto b = r->ReadRowGroup(0).value();
    for (size_t i = 0; i < b.num_rows; ++i) {
      const auto& v = b.columns[1];
      const bool null = !v.is_null.empty() && v.is_null[i];
      const auto& id = v.children[0].values;
      const auto& qty = v.children[1].values;
      rows[b.columns[0].values.ints[i]] = {
          null || id.IsNull(i), id.ints[i], null || qty.IsNull(i), qty.ints[i],
          b.columns[2].values.IsNull(i) ? "" : std::string(b.columns[2].values.bytes[i])};
    }
  }
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(std::get<1>(rows[0]), 1);
  EXPECT_TRUE(std::get<2>(rows[0]));
  EXPECT_TRUE(std::get<0>(rows[1]));
  EXPECT_NE(std::get<4>(rows[1]), "");
  EXPECT_NE(std::get<4>(rows[2]).find("no schema"), std::string::npos) << std::get<4>(rows[2]);
  EXPECT_EQ(std::get<1>(rows[3]), 2);
  EXPECT_EQ(std::get<3>(rows[3]), 20);
  EXPECT_EQ(std::get<4>(rows[3]), "");
  EXPECT_EQ(std::get<1>(rows[4]), 3);
  EXPECT_TRUE(std::get<2>(rows[4]));

  // A version whose columns the table cannot take is never half-applied:
  // the table keeps its schema, its messages are kept with the reason.
  put(R"({"id": {"x": 1}})", 3);
  put(R"({"id": 4})", 9);  // a version the registry does not have
  ASSERT_EQ(w->CommitBatch().value(), 2u);
  EXPECT_EQ(w->undecoded(), 4u);
  auto t3 = catalog_->LoadTable(id_).value().metadata;
  EXPECT_EQ(t3.schemas.size(), 4u);
  EXPECT_EQ(t3.current_schema_id, t2.current_schema_id);
  EXPECT_EQ(t3.last_column_id, t2.last_column_id);
  auto last = iceberg::PlanFiles(catalog_->io(), t3, *t3.CurrentSnapshot()).value();
  std::vector<std::string> reasons;
  for (const auto& task : last) {
    auto r = iceberg::DataFileReader::Open(catalog_->io(), task.file.file_path, *t3.CurrentSchema(),
                                           {kOffset, f2.error->id})
                 .value();
    auto b = r->ReadRowGroup(0).value();
    for (size_t i = 0; i < b.num_rows; ++i)
      if (b.columns[0].values.ints[i] >= 5) reasons.emplace_back(b.columns[1].values.bytes[i]);
  }
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_NE(reasons[0].find("version 3 does not fit"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[1].find("no such schema version"), std::string::npos) << reasons[1];
}

}  // namespace
}  // namespace frazil::storage

namespace frazil::storage {
namespace {

// The codec of every column chunk of the files `snapshot` added.
std::set<parquet::Codec> CodecsOfFilesAddedBy(catalog::Catalog* catalog, const iceberg::TableMetadata& m,
                                              const iceberg::Snapshot& snapshot) {
  std::set<parquet::Codec> out;
  for (const auto& task : iceberg::PlanFiles(catalog->io(), m, snapshot).value()) {
    if (task.data_sequence_number != snapshot.sequence_number) continue;
    auto in = catalog->io()->OpenInput(task.file.file_path, std::nullopt).value();
    auto r = parquet::FileReader::Open(std::move(in)).value();
    for (const auto& g : r->metadata().row_groups)
      for (const auto& c : g.columns) out.insert(c.meta_data->codec);
  }
  return out;
}

// Another engine sets the table's write.parquet.* properties: the next
// commits' files follow them; a codec Frazil does not write leaves zstd and
// commits go on.
TEST_F(TopicWriterTest, DataFilesFollowTheTablesParquetWriteProperties) {
  Produce(3);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{1000, 1 << 30}).value();
  ASSERT_EQ(w->CommitBatch().value(), 3u);
  auto first = catalog_->LoadTable(id_).value();
  EXPECT_EQ(CodecsOfFilesAddedBy(catalog_.get(), first.metadata, *first.metadata.CurrentSnapshot()),
            std::set<parquet::Codec>{parquet::Codec::kZstd});

  auto set = [&](std::map<std::string, std::string> props) {
    auto base = catalog_->LoadTable(id_).value();
    iceberg::TableMetadata next = base.metadata;
    for (auto& [k, v] : props) next.properties[k] = v;
    ASSERT_TRUE(catalog_->CommitTable(base, next).ok());
  };
  const std::pair<std::string, parquet::Codec> cases[] = {
      {"snappy", parquet::Codec::kSnappy},
      {"GZIP", parquet::Codec::kGzip},
      {"uncompressed", parquet::Codec::kUncompressed},
      {"lz4", parquet::Codec::kZstd},  // not written by Frazil: zstd, logged
  };
  for (const auto& [name, codec] : cases) {
    set({{"write.parquet.compression-codec", name}});
    Produce(2);
    ASSERT_EQ(w->CommitBatch().value(), 2u) << name;
    auto t = catalog_->LoadTable(id_).value();
    EXPECT_EQ(CodecsOfFilesAddedBy(catalog_.get(), t.metadata, *t.metadata.CurrentSnapshot()),
              std::set<parquet::Codec>{codec})
        << name;
  }
  EXPECT_EQ(Rows().size(), 11u);
}

}  // namespace
}  // namespace frazil::storage
