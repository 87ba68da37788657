// The shared journal's entry framing and file names (journal_format.h).
#include "frazil/wal/journal_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "frazil/common/coding.h"
#include "frazil/common/crc32c.h"
#include "frazil/wal/record_format.h"

namespace frazil::wal {
namespace {

std::vector<uint8_t> Payload(uint64_t i, size_t n = 40) {
  std::vector<uint8_t> p(n);
  for (size_t k = 0; k < n; ++k) p[k] = static_cast<uint8_t>(i * 31 + k);
  return p;
}

// `count` framed WAL records with offsets from `first`.
std::vector<uint8_t> Records(uint64_t first, uint32_t count) {
  std::vector<uint8_t> out;
  for (uint32_t k = 0; k < count; ++k) AppendRecord(first + k, Payload(first + k), &out);
  return out;
}

TEST(JournalFormat, RecordsEntryRoundTrips) {
  const std::vector<uint8_t> recs = Records(100, 3);
  std::vector<uint8_t> buf;
  AppendJournalEntry(JournalEntryKind::kRecords, "ns/topic", 100, 3, recs, &buf);
  EXPECT_EQ(buf.size(), kJournalEntryHeaderSize + 8 + recs.size());
  // A second entry right behind the first: the view's size finds it.
  AppendJournalEntry(JournalEntryKind::kForget, "ns/other", 0, 0, {}, &buf);

  JournalEntryView v;
  std::string why;
  ASSERT_EQ(ParseJournalEntry(buf, &v, &why), RecordCheck::kOk) << why;
  EXPECT_EQ(v.kind, JournalEntryKind::kRecords);
  EXPECT_EQ(v.name, "ns/topic");
  EXPECT_EQ(v.first_offset, 100u);
  EXPECT_EQ(v.record_count, 3u);
  EXPECT_EQ(std::vector<uint8_t>(v.records.begin(), v.records.end()), recs);
  EXPECT_EQ(v.size, kJournalEntryHeaderSize + 8 + recs.size());

  JournalEntryView f;
  ASSERT_EQ(ParseJournalEntry(std::span<const uint8_t>(buf).subspan(v.size), &f, &why), RecordCheck::kOk)
      << why;
  EXPECT_EQ(f.kind, JournalEntryKind::kForget);
  EXPECT_EQ(f.name, "ns/other");
  EXPECT_EQ(f.record_count, 0u);
  EXPECT_TRUE(f.records.empty());
  EXPECT_EQ(v.size + f.size, buf.size());
}

TEST(JournalFormat, EveryShortPrefixIsTruncated) {
  std::vector<uint8_t> buf;
  AppendJournalEntry(JournalEntryKind::kRecords, "t", 7, 2, Records(7, 2), &buf);
  for (size_t n : {size_t{0}, size_t{1}, kJournalEntryHeaderSize - 1, kJournalEntryHeaderSize,
                   kJournalEntryHeaderSize + 1, buf.size() / 2, buf.size() - 1}) {
    JournalEntryView v;
    std::string why;
    EXPECT_EQ(ParseJournalEntry(std::span<const uint8_t>(buf).first(n), &v, &why), RecordCheck::kTruncated)
        << n << " of " << buf.size() << " bytes";
  }
}

TEST(JournalFormat, FlippedByteIsBadChecksum) {
  std::vector<uint8_t> good;
  AppendJournalEntry(JournalEntryKind::kRecords, "ns/t", 0, 2, Records(0, 2), &good);
  // Bytes of the name, the first offset, the record count and the body (the
  // length, version, kind and name length bytes are checked before the sum).
  for (size_t pos : {size_t{0}, size_t{12}, size_t{20}, kJournalEntryHeaderSize + 1, good.size() - 1}) {
    std::vector<uint8_t> bad = good;
    bad[pos] ^= 0x40;
    JournalEntryView v;
    std::string why;
    EXPECT_EQ(ParseJournalEntry(bad, &v, &why), RecordCheck::kBadChecksum) << "byte " << pos;
  }
}

TEST(JournalFormat, BadVersionKindOrEmptyNameIsBadHeader) {
  std::vector<uint8_t> good;
  AppendJournalEntry(JournalEntryKind::kRecords, "ns/t", 0, 1, Records(0, 1), &good);
  for (size_t pos : {size_t{8}, size_t{9}}) {
    std::vector<uint8_t> bad = good;
    bad[pos] = 0x77;
    JournalEntryView v;
    EXPECT_EQ(ParseJournalEntry(bad, &v, nullptr), RecordCheck::kBadHeader) << "byte " << pos;
  }
  std::vector<uint8_t> unnamed;
  AppendJournalEntry(JournalEntryKind::kRecords, "", 0, 1, Records(0, 1), &unnamed);
  JournalEntryView v;
  EXPECT_EQ(ParseJournalEntry(unnamed, &v, nullptr), RecordCheck::kBadHeader);
}

// Rewrites the entry's checksum after an edit, as a writer bug would.
void Reseal(std::vector<uint8_t>* e) {
  const uint32_t length = DecodeFixed32(e->data() + 4);
  EncodeFixed32(e->data(), crc32c::Mask(crc32c::Value(e->data() + 4, kJournalEntryHeaderSize - 4 + length)));
}

TEST(JournalFormat, CountThatDisagreesWithTheBodyIsBadHeaderWithAReason) {
  std::vector<uint8_t> e;
  AppendJournalEntry(JournalEntryKind::kRecords, "ns/t", 5, 3, Records(5, 3), &e);
  {
    JournalEntryView v;
    std::string why;
    ASSERT_EQ(ParseJournalEntry(e, &v, &why), RecordCheck::kOk) << why;
  }
  for (uint32_t count : {2u, 4u}) {
    std::vector<uint8_t> bad = e;
    EncodeFixed32(bad.data() + 20, count);
    Reseal(&bad);
    JournalEntryView v;
    std::string why;
    EXPECT_EQ(ParseJournalEntry(bad, &v, &why), RecordCheck::kBadHeader) << "count " << count;
    EXPECT_NE(why.find("entry holds 3 records, its header says " + std::to_string(count)), std::string::npos)
        << why;
  }
  // First offset that disagrees with the records' own offsets.
  std::vector<uint8_t> shifted = e;
  EncodeFixed64(shifted.data() + 12, 6);
  Reseal(&shifted);
  JournalEntryView v;
  std::string why;
  EXPECT_EQ(ParseJournalEntry(shifted, &v, &why), RecordCheck::kBadHeader);
  EXPECT_NE(why.find("record 0 of the entry is bad"), std::string::npos) << why;
  // A forget entry must not carry records.
  std::vector<uint8_t> forget;
  AppendJournalEntry(JournalEntryKind::kForget, "ns/t", 5, 3, Records(5, 3), &forget);
  why.clear();
  EXPECT_EQ(ParseJournalEntry(forget, &v, &why), RecordCheck::kBadHeader);
  EXPECT_FALSE(why.empty());
}

TEST(JournalFormat, SegmentHeaderRoundTripsAndRejectsDamage) {
  uint8_t h[kJournalHeaderSize];
  EncodeJournalHeader(42, h);
  auto seq = DecodeJournalHeader(std::span<const uint8_t>(h, kJournalHeaderSize));
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  EXPECT_EQ(*seq, 42u);
  EXPECT_FALSE(DecodeJournalHeader(std::span<const uint8_t>(h, kJournalHeaderSize - 1)).ok());
  h[17] ^= 1;
  auto bad = DecodeJournalHeader(std::span<const uint8_t>(h, kJournalHeaderSize));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
}

TEST(JournalFormat, FileNames) {
  EXPECT_EQ(JournalFileName(0), "00000000000000000000.jnl");
  EXPECT_EQ(JournalFileName(1234567), "00000000000001234567.jnl");
  uint64_t seq = 0;
  ASSERT_TRUE(ParseJournalFileName(JournalFileName(18446744073709551615ull), &seq));
  EXPECT_EQ(seq, 18446744073709551615ull);
  ASSERT_TRUE(ParseJournalFileName("00000000000000000042.jnl", &seq));
  EXPECT_EQ(seq, 42u);
  for (const char* bad :
       {"00000000000000000042.wal", "0000000000000000042.jnl", "000000000000000000042.jnl",
        "0000000000000000004x.jnl", "00000000000000000042.jnl.damaged", "99999999999999999999.jnl", ""}) {
    EXPECT_FALSE(ParseJournalFileName(bad, &seq)) << bad;
  }
}

}  // namespace
}  // namespace frazil::wal
