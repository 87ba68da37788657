// Topic retention: which whole data files an age or size limit removes,
// and the delete snapshot that removes them, with the retention floor it
// reports (the first offset the table still holds).
#include "frazil/storage/table_retention.h"

#include <gtest/gtest.h>

#include "../testing/committed_table.h"
#include "../testing/temp_dir.h"
#include "danube_api.pb.h"
#include "frazil/catalog/sql_catalog.h"
#include "frazil/iceberg/scan.h"
#include "frazil/objstore/object_store_file_io.h"
#include "frazil/storage/envelope.h"
#include "frazil/storage/topic_writer.h"

namespace frazil::storage {
namespace {

RetentionCandidate File(std::string path, int64_t bytes, std::optional<int64_t> newest_ms,
                        std::optional<int64_t> first_offset = std::nullopt) {
  return RetentionCandidate{std::move(path), bytes, newest_ms, first_offset};
}

TEST(RetentionChoiceTest, AgeLimitTakesFilesWhoseNewestRowIsOldEnough) {
  std::vector<RetentionCandidate> files = {File("a", 10, 100), File("b", 10, 200), File("c", 10, 300),
                                           File("foreign", 10, std::nullopt)};
  RetentionPolicy p{/*max_age_ms=*/50, /*max_bytes=*/0};
  auto c = ChooseExpiredFiles(files, p, 250);
  EXPECT_EQ(c.expired, (std::vector<size_t>{0, 1}));  // 100+50 <= 250, 200+50 <= 250
  EXPECT_EQ(c.next_due_ms, 350);                      // c's newest row passes the limit then
  c = ChooseExpiredFiles(files, p, 249);
  EXPECT_EQ(c.expired, (std::vector<size_t>{0}));
  EXPECT_EQ(c.next_due_ms, 250);
  // A file without a publish_time bound never goes, however late.
  c = ChooseExpiredFiles(files, p, INT64_MAX);
  EXPECT_EQ(c.expired, (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(c.next_due_ms, INT64_MAX);
}

TEST(RetentionChoiceTest, AgeLimitSaturatesNearTheEndOfTime) {
  std::vector<RetentionCandidate> files = {File("late", 1, INT64_MAX - 5)};
  auto c = ChooseExpiredFiles(files, RetentionPolicy{100, 0}, INT64_MAX - 1);
  EXPECT_TRUE(c.expired.empty());
  EXPECT_EQ(c.next_due_ms, INT64_MAX);
}

TEST(RetentionChoiceTest, SizeLimitTakesTheOldestFilesUntilTheRestFits) {
  // Newest rows out of list order; the foreign file counts but stays.
  std::vector<RetentionCandidate> files = {File("d", 10, 400), File("a", 10, 100), File("c", 10, 300),
                                           File("b", 10, 200), File("foreign", 10, std::nullopt)};
  auto c = ChooseExpiredFiles(files, RetentionPolicy{0, 25}, 0);
  EXPECT_EQ(c.expired, (std::vector<size_t>{1, 2, 3}));  // 50 -> 40 -> 30 -> 20 bytes
  EXPECT_EQ(c.next_due_ms, INT64_MAX);                   // no age limit
  c = ChooseExpiredFiles(files, RetentionPolicy{0, 50}, 0);
  EXPECT_TRUE(c.expired.empty());  // exactly at the limit
  // Nothing removable is left to bring it under: what can go, goes.
  c = ChooseExpiredFiles(files, RetentionPolicy{0, 1}, 0);
  EXPECT_EQ(c.expired, (std::vector<size_t>{0, 1, 2, 3}));
}

TEST(RetentionChoiceTest, SizeLimitBreaksTiesByFirstOffset) {
  std::vector<RetentionCandidate> files = {File("second", 10, 100, 50), File("first", 10, 100, 0),
                                           File("third", 10, 100, 90)};
  auto c = ChooseExpiredFiles(files, RetentionPolicy{0, 10}, 0);
  EXPECT_EQ(c.expired, (std::vector<size_t>{0, 1}));
}

TEST(RetentionChoiceTest, BothLimitsAndOff) {
  std::vector<RetentionCandidate> files = {File("a", 10, 100), File("b", 10, 200), File("c", 10, 300),
                                           File("d", 10, 400)};
  // Age takes a; size then takes b (30 bytes left > 20), c due at 310.
  auto c = ChooseExpiredFiles(files, RetentionPolicy{10, 20}, 150);
  EXPECT_EQ(c.expired, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(c.next_due_ms, 310);
  c = ChooseExpiredFiles(files, RetentionPolicy{}, INT64_MAX);
  EXPECT_TRUE(c.expired.empty());
  EXPECT_FALSE(RetentionPolicy{}.active());
}

TEST(RetentionChoiceTest, NegativeLimitsAreRefused) {
  EXPECT_EQ(CheckRetention(RetentionPolicy{-1, 0}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckRetention(RetentionPolicy{0, -1}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckRetention(RetentionPolicy{0, 0}).ok());
  EXPECT_TRUE(CheckRetention(RetentionPolicy{1, 1}).ok());
}

using frazil::testing::kFirstPublishMs;

// A table of `records` messages published 1 ms apart, five per data file.
struct Fixture : frazil::testing::CommittedTable {
  using CommittedTable::CommittedTable;
  std::vector<int64_t> Offsets() {
    auto t = catalog->LoadTable(id).value();
    auto tasks = iceberg::PlanFiles(catalog->io(), t.metadata, *t.metadata.CurrentSnapshot()).value();
    std::vector<int64_t> firsts;
    for (const auto& task : tasks) firsts.push_back(OffsetBound(task.file, false).value());
    std::sort(firsts.begin(), firsts.end());
    return firsts;
  }
};

TEST(ApplyRetentionTest, RemovesWholeOldFilesInADeleteSnapshot) {
  frazil::testing::TempDir dir;
  Fixture f(dir, 20);
  ASSERT_EQ(f.Offsets(), (std::vector<int64_t>{0, 5, 10, 15}));
  const RetentionPolicy policy{60000, 0};
  // Offsets 0-9 (newest row published at +9 ms) are a minute old; offset 10
  // (+10 ms) is not yet: its file stays whole, with offsets 11-14.
  auto r = ApplyRetention(f.catalog.get(), f.id, policy, kFirstPublishMs + 9 + 60000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_removed, 2u);
  EXPECT_EQ(r->records_removed, 10);
  EXPECT_GT(r->bytes_removed, 0);
  EXPECT_EQ(r->floor, 10u);
  EXPECT_EQ(r->next_due_ms, kFirstPublishMs + 14 + 60000);
  EXPECT_EQ(f.Offsets(), (std::vector<int64_t>{10, 15}));

  auto t = f.catalog->LoadTable(f.id).value();
  const iceberg::Snapshot* s = t.metadata.CurrentSnapshot();
  EXPECT_EQ(s->summary.at("operation"), "delete");
  EXPECT_EQ(s->summary.count("frazil.retention"), 1u);
  EXPECT_EQ(s->summary.at("deleted-data-files"), "2");
  EXPECT_EQ(CommittedOffset(t.metadata).value(), 20u);  // removal does not rewind the topic

  // Again at the same time: nothing more to remove, same floor, no snapshot.
  const int64_t snapshot = s->snapshot_id;
  r = ApplyRetention(f.catalog.get(), f.id, policy, kFirstPublishMs + 9 + 60000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->files_removed, 0u);
  EXPECT_EQ(r->floor, 10u);
  EXPECT_EQ(f.catalog->LoadTable(f.id).value().metadata.CurrentSnapshot()->snapshot_id, snapshot);
}

TEST(ApplyRetentionTest, EverythingGoneLeavesTheFloorAtTheCommittedOffset) {
  frazil::testing::TempDir dir;
  Fixture f(dir, 10);
  auto r = ApplyRetention(f.catalog.get(), f.id, RetentionPolicy{1, 0}, kFirstPublishMs + 3600000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_removed, 2u);
  EXPECT_EQ(r->floor, 10u);
  EXPECT_TRUE(f.Offsets().empty());
}

TEST(ApplyRetentionTest, SizeLimitKeepsTheNewestFiles) {
  frazil::testing::TempDir dir;
  Fixture f(dir, 20);
  auto t = f.catalog->LoadTable(f.id).value();
  auto tasks = iceberg::PlanFiles(f.catalog->io(), t.metadata, *t.metadata.CurrentSnapshot()).value();
  int64_t largest = 0;
  for (const auto& task : tasks) largest = std::max(largest, task.file.file_size_in_bytes);
  auto r = ApplyRetention(f.catalog.get(), f.id, RetentionPolicy{0, largest}, kFirstPublishMs);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_removed, 3u);
  EXPECT_EQ(r->floor, 15u);
  EXPECT_EQ(f.Offsets(), (std::vector<int64_t>{15}));
}

TEST(ApplyRetentionTest, RefusesNegativeLimitsAndUnknownTables) {
  frazil::testing::TempDir dir;
  Fixture f(dir, 5);
  EXPECT_EQ(ApplyRetention(f.catalog.get(), f.id, RetentionPolicy{-5, 0}, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ApplyRetention(f.catalog.get(), catalog::TableIdentifier{{"ns"}, "none"}, RetentionPolicy{1, 0}, 0)
          .status()
          .code(),
      StatusCode::kNotFound);
  EXPECT_EQ(f.Offsets(), (std::vector<int64_t>{0}));
}

}  // namespace
}  // namespace frazil::storage
