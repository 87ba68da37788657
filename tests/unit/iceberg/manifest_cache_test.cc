// The manifest cache keeps what it read of `.avro` files, within its
// capacity, and forgets a file when it is deleted.
#include "frazil/iceberg/manifest_cache.h"

#include <gtest/gtest.h>

#include <atomic>

#include "../testing/temp_dir.h"
#include "frazil/objstore/object_store_file_io.h"

namespace frazil::iceberg {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Counts whole-file reads that reach the store underneath.
class CountingFileIO : public ForwardingFileIO {
 public:
  using ForwardingFileIO::ForwardingFileIO;
  Result<std::vector<uint8_t>> Read(const std::string& location) override {
    ++reads;
    return base_->Read(location);
  }
  std::atomic<int> reads{0};
};

struct Fixture {
  frazil::testing::TempDir dir;
  CountingFileIO* counting;
  std::unique_ptr<ManifestCachingFileIO> io;
  explicit Fixture(uint64_t capacity) {
    auto c = std::make_unique<CountingFileIO>(objstore::NewLocalFileIO());
    counting = c.get();
    io = std::make_unique<ManifestCachingFileIO>(std::move(c), capacity);
  }
  std::string Put(const std::string& name, const std::string& body) {
    std::string loc = "file://" + dir.path() + "/" + name;
    EXPECT_TRUE(io->WriteNew(loc, Bytes(body)).ok());
    return loc;
  }
};

TEST(ManifestCacheTest, ManifestsAreReadOnceWhateverTheSpelling) {
  Fixture f(1 << 20);
  std::string loc = f.Put("m0.avro", "manifest bytes");
  for (int i = 0; i < 5; ++i) {
    auto got = f.io->Read(i % 2 ? loc : "file:" + f.dir.path() + "/m0.avro");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(std::string(got->begin(), got->end()), "manifest bytes");
  }
  EXPECT_EQ(f.counting->reads.load(), 1);
  auto s = f.io->stats();
  EXPECT_EQ(s.hits, 4u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.files, 1u);
  EXPECT_EQ(s.bytes, 14u);
}

TEST(ManifestCacheTest, MetadataFilesAndDataFilesAreNotKept) {
  Fixture f(1 << 20);
  std::string meta = f.Put("00001-x.metadata.json", "{}");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.io->Read(meta).ok());
  EXPECT_EQ(f.counting->reads.load(), 3);
  EXPECT_EQ(f.io->stats().files, 0u);
}

TEST(ManifestCacheTest, DeleteForgetsTheFile) {
  Fixture f(1 << 20);
  std::string loc = f.Put("snap-1.avro", "first");
  ASSERT_TRUE(f.io->Read(loc).ok());
  ASSERT_TRUE(f.io->Delete(loc).ok());
  EXPECT_EQ(f.io->stats().files, 0u);
  EXPECT_FALSE(f.io->Read(loc).ok());  // gone: not served from memory
  f.Put("snap-1.avro", "second");
  auto got = f.io->Read(loc);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(std::string(got->begin(), got->end()), "second");
}

TEST(ManifestCacheTest, CapacityDropsTheLeastRecentlyRead) {
  Fixture f(400);  // files of up to 100 bytes are kept
  std::string body(90, 'm');
  std::string a = f.Put("a.avro", body), b = f.Put("b.avro", body), c = f.Put("c.avro", body),
              d = f.Put("d.avro", body), e = f.Put("e.avro", body);
  for (const auto& loc : {a, b, c, d}) ASSERT_TRUE(f.io->Read(loc).ok());
  ASSERT_TRUE(f.io->Read(a).ok());  // a is now the most recent; b the least
  ASSERT_TRUE(f.io->Read(e).ok());  // 450 bytes > 400: b goes
  auto s = f.io->stats();
  EXPECT_EQ(s.files, 4u);
  EXPECT_LE(s.bytes, 400u);
  const int before = f.counting->reads.load();
  ASSERT_TRUE(f.io->Read(a).ok());
  EXPECT_EQ(f.counting->reads.load(), before);
  ASSERT_TRUE(f.io->Read(b).ok());
  EXPECT_EQ(f.counting->reads.load(), before + 1);
  // Larger than a quarter of the capacity: read through, never kept.
  std::string big = f.Put("big.avro", std::string(101, 'x'));
  ASSERT_TRUE(f.io->Read(big).ok());
  ASSERT_TRUE(f.io->Read(big).ok());
  EXPECT_EQ(f.counting->reads.load(), before + 3);
}

TEST(ManifestCacheTest, ZeroCapacityKeepsNothing) {
  Fixture f(0);
  std::string loc = f.Put("m.avro", "x");
  ASSERT_TRUE(f.io->Read(loc).ok());
  ASSERT_TRUE(f.io->Read(loc).ok());
  EXPECT_EQ(f.counting->reads.load(), 2);
}

}  // namespace
}  // namespace frazil::iceberg
