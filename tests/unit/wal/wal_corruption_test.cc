// Damaged WAL files on open: torn tails are cut, corruption inside the log
// is an error that names the file and byte, and nothing is silently skipped.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "../testing/temp_dir.h"
#include "frazil/common/fs_util.h"
#include "frazil/wal/record_format.h"
#include "frazil/wal/wal_reader.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::wal {
namespace {

std::vector<uint8_t> Payload(uint64_t i) {
  return std::vector<uint8_t>(50 + i % 40, static_cast<uint8_t>(i));
}

WalOptions Opts(const std::string& dir) {
  WalOptions o;
  o.dir = dir;
  o.segment_bytes = 4096;
  o.max_total_bytes = 0;
  return o;
}

// Writes n records and returns the segment paths, oldest first.
std::vector<std::string> Build(const std::string& dir, uint64_t n) {
  auto wal = std::move(WriteAheadLog::Open(Opts(dir))).value();
  for (uint64_t i = 0; i < n; ++i) EXPECT_TRUE(wal->AppendAndWait(Payload(i)).ok());
  EXPECT_TRUE(wal->Close().ok());
  std::vector<std::string> paths;
  for (const auto& name : fsutil::ListDir(dir).value()) paths.push_back(dir + "/" + name);
  return paths;
}

// File positions of each record in a segment.
std::vector<uint64_t> RecordStarts(const std::string& path) {
  auto data = fsutil::ReadFile(path).value();
  std::vector<uint64_t> starts;
  uint64_t pos = kSegmentHeaderSize;
  RecordView rv;
  while (pos < data.size() && ParseRecord(std::span(data).subspan(pos), 1 << 20, &rv) == RecordCheck::kOk) {
    starts.push_back(pos);
    pos += FramedSize(rv.payload.size());
  }
  return starts;
}

void WriteBytes(const std::string& path, const std::vector<uint8_t>& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

void FlipByte(const std::string& path, uint64_t pos) {
  auto data = fsutil::ReadFile(path).value();
  data.at(pos) ^= 0x5a;
  WriteBytes(path, data);
}

// Reads every record; checks offsets are low..end-1 with the right payloads.
uint64_t ReadAllChecked(WriteAheadLog* wal) {
  auto reader = wal->NewReader();
  uint64_t expect = wal->Stats().low_water_offset;
  for (;;) {
    auto rec = reader->TryNext();
    EXPECT_TRUE(rec.ok()) << rec.status().ToString();
    if (!rec.ok() || !rec->has_value()) break;
    EXPECT_EQ((*rec)->offset, expect);
    EXPECT_EQ((*rec)->payload, Payload(expect));
    ++expect;
  }
  return expect;
}

class TornTail : public ::testing::Test {
 protected:
  void ExpectCutTo(uint64_t records_left, uint64_t cut_at) {
    auto wal_or = WriteAheadLog::Open(Opts(tmp_.path()));
    ASSERT_TRUE(wal_or.ok()) << wal_or.status().ToString();
    auto wal = std::move(wal_or).value();
    const auto& r = wal->recovery_report();
    EXPECT_TRUE(r.truncated);
    EXPECT_EQ(r.truncated_file, last_);
    EXPECT_EQ(r.truncated_at, cut_at);
    EXPECT_EQ(*fsutil::FileSize(last_), cut_at);
    EXPECT_EQ(ReadAllChecked(wal.get()), records_left);
    // The log carries on at the next offset.
    auto off = wal->AppendAndWait(Payload(records_left));
    ASSERT_TRUE(off.ok());
    EXPECT_EQ(*off, records_left);
  }
  void SetUp() override {
    auto paths = Build(tmp_.path(), 200);
    ASSERT_GT(paths.size(), 2u);
    last_ = paths.back();
    starts_ = RecordStarts(last_);
    ASSERT_GT(starts_.size(), 2u);
    size_ = *fsutil::FileSize(last_);
  }
  testing::TempDir tmp_;
  std::string last_;
  std::vector<uint64_t> starts_;
  uint64_t size_ = 0;
};

TEST_F(TornTail, FlippedByteInLastRecord) {
  FlipByte(last_, size_ - 3);
  ExpectCutTo(199, starts_.back());
}

TEST_F(TornTail, TruncatedMidRecord) {
  std::filesystem::resize_file(last_, starts_.back() + 7);
  ExpectCutTo(199, starts_.back());
}

TEST_F(TornTail, TruncatedMidHeader) {
  std::filesystem::resize_file(last_, starts_.back() + kRecordHeaderSize - 1);
  ExpectCutTo(199, starts_.back());
}

TEST_F(TornTail, GarbageAppended) {
  auto data = fsutil::ReadFile(last_).value();
  std::mt19937 rng(7);
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<uint8_t>(rng()));
  WriteBytes(last_, data);
  ExpectCutTo(200, size_);
}

TEST_F(TornTail, TrailingZeros) {
  auto data = fsutil::ReadFile(last_).value();
  data.resize(data.size() + 8192, 0);
  WriteBytes(last_, data);
  ExpectCutTo(200, size_);
}

TEST_F(TornTail, ClosedLogReopensUntouched) {
  auto wal = std::move(WriteAheadLog::Open(Opts(tmp_.path()))).value();
  EXPECT_FALSE(wal->recovery_report().truncated);
  EXPECT_EQ(ReadAllChecked(wal.get()), 200u);
}

TEST_F(TornTail, BadRecordInTheMiddleIsAnErrorNamingFileAndByte) {
  const uint64_t bad = starts_[1];
  FlipByte(last_, bad + kRecordHeaderSize + 2);  // payload of the 2nd record
  auto before = fsutil::ReadFile(last_).value();
  auto wal_or = WriteAheadLog::Open(Opts(tmp_.path()));
  ASSERT_FALSE(wal_or.ok());
  EXPECT_EQ(wal_or.status().code(), StatusCode::kCorruption);
  const std::string& msg = wal_or.status().message();
  EXPECT_NE(msg.find(last_), std::string::npos) << msg;
  EXPECT_NE(msg.find("at byte " + std::to_string(bad)), std::string::npos) << msg;
  EXPECT_NE(msg.find("good record follows at byte " + std::to_string(starts_[2])), std::string::npos) << msg;
  // Nothing was modified.
  EXPECT_EQ(fsutil::ReadFile(last_).value(), before);

  // The operator's override keeps exactly the records before the bad one.
  WalOptions o = Opts(tmp_.path());
  o.recovery_mode = RecoveryMode::kTruncateAtCorruption;
  auto forced = WriteAheadLog::Open(o);
  ASSERT_TRUE(forced.ok()) << forced.status().ToString();
  const uint64_t base = (*forced)->Stats().next_offset - 1;  // one record left in the last segment
  EXPECT_EQ(*fsutil::FileSize(last_), starts_[1]);
  EXPECT_EQ(ReadAllChecked(forced->get()), base + 1);
}

TEST(WalCorruption, DamageInASealedSegmentIsAnError) {
  testing::TempDir tmp;
  auto paths = Build(tmp.path(), 200);
  ASSERT_GT(paths.size(), 2u);
  const std::string& sealed = paths[1];
  auto starts = RecordStarts(sealed);
  // Even damage to its very last record: sealed segments were synced whole.
  const uint64_t bad = starts.back();
  FlipByte(sealed, bad + kRecordHeaderSize);
  auto wal_or = WriteAheadLog::Open(Opts(tmp.path()));
  ASSERT_FALSE(wal_or.ok());
  EXPECT_EQ(wal_or.status().code(), StatusCode::kCorruption);
  EXPECT_NE(wal_or.status().message().find(sealed + " at byte " + std::to_string(bad)), std::string::npos)
      << wal_or.status().message();
}

TEST(WalCorruption, DamagedSegmentHeaderIsAnError) {
  testing::TempDir tmp;
  auto paths = Build(tmp.path(), 200);
  FlipByte(paths[0], 17);
  auto wal_or = WriteAheadLog::Open(Opts(tmp.path()));
  ASSERT_FALSE(wal_or.ok());
  EXPECT_EQ(wal_or.status().code(), StatusCode::kCorruption);
  EXPECT_NE(wal_or.status().message().find(paths[0]), std::string::npos);
}

TEST(WalCorruption, MissingMiddleSegmentIsAGap) {
  testing::TempDir tmp;
  auto paths = Build(tmp.path(), 200);
  ASSERT_GT(paths.size(), 2u);
  std::filesystem::remove(paths[1]);
  auto wal_or = WriteAheadLog::Open(Opts(tmp.path()));
  ASSERT_FALSE(wal_or.ok());
  EXPECT_EQ(wal_or.status().code(), StatusCode::kCorruption);
  EXPECT_NE(wal_or.status().message().find("previous segment ends"), std::string::npos)
      << wal_or.status().message();
}

TEST(WalCorruption, SegmentWhoseNameDisagreesWithItsHeader) {
  testing::TempDir tmp;
  auto paths = Build(tmp.path(), 20);
  ASSERT_EQ(paths.size(), 1u);
  std::filesystem::rename(paths[0], tmp.path() + "/" + SegmentFileName(5));
  auto wal_or = WriteAheadLog::Open(Opts(tmp.path()));
  ASSERT_FALSE(wal_or.ok());
  EXPECT_NE(wal_or.status().message().find("file name says 5"), std::string::npos);
}

TEST(WalCorruption, CrashDuringSegmentCreationLeavesAnEmptyNewestFile) {
  for (size_t header_bytes : {size_t{0}, size_t{10}, kSegmentHeaderSize}) {
    testing::TempDir tmp;
    auto paths = Build(tmp.path(), 200);
    const uint64_t n = 200;
    // A newest segment whose header never reached the disk (short or zeros).
    WriteBytes(tmp.path() + "/" + SegmentFileName(n), std::vector<uint8_t>(header_bytes, 0));
    auto wal_or = WriteAheadLog::Open(Opts(tmp.path()));
    ASSERT_TRUE(wal_or.ok()) << header_bytes << ": " << wal_or.status().ToString();
    EXPECT_EQ(ReadAllChecked(wal_or->get()), n);
    EXPECT_EQ(*(*wal_or)->AppendAndWait(Payload(n)), n);
  }
}

TEST(WalCorruption, ReaderReportsDamageAfterOpen) {
  testing::TempDir tmp;
  auto paths = Build(tmp.path(), 200);
  auto wal = std::move(WriteAheadLog::Open(Opts(tmp.path()))).value();
  auto starts = RecordStarts(paths[0]);
  // Damage the file under the running log (bit rot, a stray writer).
  FlipByte(paths[0], starts[3] + kRecordHeaderSize + 1);
  auto reader = wal->NewReader();
  for (int i = 0; i < 3; ++i) {
    auto rec = reader->TryNext();
    ASSERT_TRUE(rec.ok() && rec->has_value());
  }
  auto bad = reader->TryNext();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().message().find(paths[0] + " at byte " + std::to_string(starts[3])),
            std::string::npos)
      << bad.status().message();
  // Seeking past the damage through the index still works.
  ASSERT_TRUE(reader->Seek(starts.size() + 1).ok());
  auto after = reader->TryNext();
  ASSERT_TRUE(after.ok() && after->has_value()) << after.status().ToString();
}

}  // namespace
}  // namespace frazil::wal
