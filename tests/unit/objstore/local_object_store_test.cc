// The local object store's guarantees that Iceberg commits rely on: a new
// object is invisible until committed, never replaces an existing one, and
// listings show only committed objects.
#include <gtest/gtest.h>

#include <filesystem>

#include "../testing/temp_dir.h"
#include "frazil/objstore/object_store.h"
#include "frazil/objstore/object_store_file_io.h"
#include "frazil/objstore/object_store_stats.h"

namespace frazil::objstore {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(LocalObjectStoreTest, CreateIsAllOrNothingAndNeverOverwrites) {
  testing::TempDir dir;
  auto store = NewLocalObjectStore();
  std::string key = dir.Sub("a/b/object.bin");
  auto w = store->NewObject(key).value();
  ASSERT_TRUE(w->Append(Bytes("hello ")).ok());
  EXPECT_EQ(store->Head(key).status().code(), StatusCode::kNotFound);  // not visible before commit
  EXPECT_TRUE(store->List(dir.Sub("a/")).value().empty());             // the temporary file is hidden
  ASSERT_TRUE(w->Append(Bytes("world")).ok());
  ASSERT_TRUE(w->Commit().ok());
  auto got = store->Get(key).value();
  EXPECT_EQ(std::string(got.begin(), got.end()), "hello world");

  Status again = store->PutIfAbsent(key, Bytes("other"));
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();
  EXPECT_EQ(store->Head(key).value().size, 11u);  // the first object is kept

  // Two writers racing for one key: exactly one wins.
  std::string raced = dir.Sub("raced");
  auto w1 = store->NewObject(raced).value();
  auto w2 = store->NewObject(raced).value();
  ASSERT_TRUE(w1->Append(Bytes("one")).ok());
  ASSERT_TRUE(w2->Append(Bytes("two!")).ok());
  EXPECT_TRUE(w1->Commit().ok());
  EXPECT_EQ(w2->Commit().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store->Head(raced).value().size, 3u);
  auto listed = store->List(dir.path() + "/").value();
  EXPECT_EQ(listed.size(), 2u);  // no temporary file left behind
}

TEST(LocalObjectStoreTest, AbandonedWriterLeavesNothing) {
  testing::TempDir dir;
  auto store = NewLocalObjectStore();
  {
    auto w = store->NewObject(dir.Sub("gone")).value();
    ASSERT_TRUE(w->Append(Bytes("partial")).ok());
  }
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 0u);
}

TEST(LocalObjectStoreTest, RangedReadsAndBadKeys) {
  testing::TempDir dir;
  auto store = NewLocalObjectStore();
  std::string key = dir.Sub("r");
  ASSERT_TRUE(store->PutIfAbsent(key, Bytes("0123456789")).ok());
  auto mid = store->GetRange(key, 3, 4).value();
  EXPECT_EQ(std::string(mid.begin(), mid.end()), "3456");
  EXPECT_FALSE(store->GetRange(key, 8, 5).ok());
  EXPECT_EQ(store->Get(dir.Sub("missing")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Get("relative/key").status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store->Delete(dir.Sub("missing")).ok());  // idempotent
}

TEST(LocalObjectStoreTest, CallsAreCountedForMetrics) {
  testing::TempDir dir;
  auto store = NewLocalObjectStore();
  const ObjectStoreStats& stats = GlobalObjectStoreStats(StoreKind::kLocal);
  auto requests = [&](StoreOp op) { return stats.requests_of(op); };
  uint64_t puts = requests(StoreOp::kPut), gets = requests(StoreOp::kGet),
           ranges = requests(StoreOp::kGetRange), heads = requests(StoreOp::kHead),
           deletes = requests(StoreOp::kDelete), lists = requests(StoreOp::kList);
  uint64_t read = stats.read_bytes.load(), written = stats.written_bytes.load();
  uint64_t not_found = stats.errors_of(ErrorKind::kNotFound),
           conflicts = stats.errors_of(ErrorKind::kConflict);
  uint64_t timed = stats.request_duration.Read().count;

  std::string key = dir.Sub("counted");
  ASSERT_TRUE(store->PutIfAbsent(key, Bytes("0123456789")).ok());
  auto w1 = store->NewObject(dir.Sub("raced")).value();
  auto w2 = store->NewObject(dir.Sub("raced")).value();
  ASSERT_TRUE(w1->Append(Bytes("one")).ok());
  ASSERT_TRUE(w2->Append(Bytes("two")).ok());
  ASSERT_TRUE(w1->Commit().ok());
  EXPECT_EQ(w2->Commit().code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(store->Get(key).ok());
  ASSERT_TRUE(store->GetRange(key, 2, 3).ok());
  EXPECT_EQ(store->Head(dir.Sub("missing")).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store->List(dir.path() + "/").ok());
  ASSERT_TRUE(store->Delete(key).ok());

  EXPECT_EQ(requests(StoreOp::kPut) - puts, 3u);
  EXPECT_EQ(requests(StoreOp::kGet) - gets, 1u);
  EXPECT_EQ(requests(StoreOp::kGetRange) - ranges, 1u);
  EXPECT_EQ(requests(StoreOp::kHead) - heads, 1u);
  EXPECT_EQ(requests(StoreOp::kList) - lists, 1u);
  EXPECT_EQ(requests(StoreOp::kDelete) - deletes, 1u);
  EXPECT_EQ(stats.read_bytes.load() - read, 10u + 3u);
  EXPECT_EQ(stats.written_bytes.load() - written, 10u + 3u + 3u);
  EXPECT_EQ(stats.errors_of(ErrorKind::kNotFound) - not_found, 1u);
  EXPECT_EQ(stats.errors_of(ErrorKind::kConflict) - conflicts, 1u);
  EXPECT_EQ(stats.request_duration.Read().count - timed, 8u);
}

TEST(ObjectStoreFileIOTest, ResolvesFileLocationsAndRefusesOthers) {
  testing::TempDir dir;
  auto io = NewLocalFileIO();
  std::string loc = "file://" + dir.Sub("t/metadata/x.json");
  ASSERT_TRUE(io->WriteNew(loc, Bytes("{}")).ok());
  EXPECT_EQ(io->WriteNew(loc, Bytes("[]")).code(), StatusCode::kAlreadyExists);
  auto listed = io->List("file://" + dir.Sub("t/")).value();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].location, loc);
  auto in = io->OpenInput(loc).value();
  EXPECT_EQ(in->Size(), 2u);
  Status s3 = io->WriteNew("s3://bucket/key", Bytes("x"));
  EXPECT_EQ(s3.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s3.message().find("s3"), std::string::npos);
}

}  // namespace
}  // namespace frazil::objstore
