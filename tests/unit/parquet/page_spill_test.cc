#include "frazil/parquet/page_spill.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "../testing/temp_dir.h"
#include "frazil/parquet/file_reader.h"
#include "frazil/parquet/file_writer.h"

namespace frazil::parquet {
namespace {

FileSchema Schema() {
  FileSchema s;
  s.fields.push_back({"offset", 1, true, FieldSchema::Shape::kPrimitive, {ValueType::kInt64}});
  s.fields.push_back({"key", 2, false, FieldSchema::Shape::kPrimitive, {ValueType::kString}});
  s.fields.push_back({"payload", 3, false, FieldSchema::Shape::kPrimitive, {ValueType::kBinary}});
  FieldSchema attrs{"attributes", 4, false, FieldSchema::Shape::kMap, {ValueType::kString}};
  attrs.key_id = 5;
  attrs.value_id = 6;
  s.fields.push_back(attrs);
  return s;
}

// Keys repeat (a dictionary page per chunk), payloads do not (PLAIN pages
// that are handed over without a copy), maps are nested.
RowBatch Rows(int64_t first, size_t n) {
  RowBatch b;
  b.num_rows = n;
  b.columns.resize(4);
  b.columns[3].offsets.push_back(0);
  for (size_t i = 0; i < n; ++i) {
    const int64_t o = first + static_cast<int64_t>(i);
    b.columns[0].values.ints.push_back(o);
    b.columns[1].values.bytes.push_back("key-" + std::to_string(o % 13));
    b.columns[1].values.is_null.push_back(o % 7 == 0);
    b.columns[2].values.bytes.push_back(std::string(40 + o % 50, static_cast<char>('a' + o % 26)) +
                                        std::to_string(o * 7919));
    for (int64_t k = 0; k < o % 3; ++k) {
      b.columns[3].keys.bytes.push_back("k" + std::to_string(k));
      b.columns[3].values.bytes.push_back("v" + std::to_string(o));
    }
    b.columns[3].offsets.push_back(static_cast<int32_t>(b.columns[3].keys.bytes.size()));
  }
  return b;
}

// Scratch files open in this process that lie in `dir` (with no name),
// and the bytes they hold.
struct Scratch {
  int files = 0;
  uint64_t bytes = 0;
};
Scratch ScratchIn(const std::string& dir) {
  Scratch s;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (ec || target.rfind(dir + "/", 0) != 0 || target.find("(deleted)") == std::string::npos) continue;
    struct stat st;
    if (::stat(e.path().c_str(), &st) == 0) s.bytes += static_cast<uint64_t>(st.st_size);
    ++s.files;
  }
  return s;
}

// Writes 10,000 rows in batches of 500, calling `after_each` after each.
Result<MemorySink*> WriteFile(
    const WriterOptions& o, std::unique_ptr<FileWriter>* writer,
    const std::function<void()>& after_each = [] {}) {
  auto sink = std::make_unique<MemorySink>();
  MemorySink* raw = sink.get();
  FRAZIL_ASSIGN_OR_RETURN(*writer, FileWriter::Open(Schema(), o, std::move(sink)));
  for (int b = 0; b < 20; ++b) {
    FRAZIL_RETURN_IF_ERROR((*writer)->Write(Rows(b * 500, 500)));
    after_each();
  }
  return raw;
}

TEST(PageSpill, RowGroupsWrittenFromTheScratchFileAreTheSameBytes) {
  testing::TempDir dir;
  WriterOptions in_memory;
  in_memory.row_group_bytes = 256 << 10;
  in_memory.page_bytes = 4 << 10;
  WriterOptions spilled = in_memory;
  spilled.spill_dir = dir.path();

  std::unique_ptr<FileWriter> a, b;
  auto a_sink = WriteFile(in_memory, &a);
  ASSERT_TRUE(a_sink.ok()) << a_sink.status().ToString();
  EXPECT_EQ(ScratchIn(dir.path()).files, 0);
  // Between batches, the open row group's pages are in one file with no
  // name in the directory.
  Scratch most;
  auto b_sink = WriteFile(spilled, &b, [&] {
    const Scratch now = ScratchIn(dir.path());
    EXPECT_EQ(now.files, 1);
    most.bytes = std::max(most.bytes, now.bytes);
  });
  ASSERT_TRUE(b_sink.ok()) << b_sink.status().ToString();
  EXPECT_GT(most.bytes, 4096u);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

  auto a_res = a->Close();
  auto b_res = b->Close();
  ASSERT_TRUE(a_res.ok() && b_res.ok());
  EXPECT_GT(b_res->split_offsets.size(), 3u) << "row groups";  // each written from the scratch file
  EXPECT_LT(b_res->split_offsets.size(), 20u) << "row groups";  // several batches each
  EXPECT_EQ(a_res->split_offsets, b_res->split_offsets);
  ASSERT_EQ((*a_sink)->bytes().size(), (*b_sink)->bytes().size());
  EXPECT_TRUE((*a_sink)->bytes() == (*b_sink)->bytes());

  auto r = FileReader::Open(std::make_unique<MemoryInputFile>((*b_sink)->bytes()));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  int64_t expect = 0;
  for (size_t g = 0; g < (*r)->num_row_groups(); ++g) {
    auto batch = (*r)->ReadRowGroup(g);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    const RowBatch want = Rows(expect, batch->num_rows);
    for (size_t i = 0; i < batch->num_rows; ++i) {
      ASSERT_EQ(batch->columns[0].values.ints[i], expect + static_cast<int64_t>(i));
      ASSERT_EQ(batch->columns[2].values.bytes[i], want.columns[2].values.bytes[i]);
    }
    expect += static_cast<int64_t>(batch->num_rows);
  }
  EXPECT_EQ(expect, 10000);

  b.reset();
  EXPECT_EQ(ScratchIn(dir.path()).files, 0);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(PageSpill, ScratchDirectoryThatCannotBeUsedIsAClearError) {
  testing::TempDir dir;
  WriterOptions o;
  o.spill_dir = dir.Sub("missing");
  auto w = FileWriter::Open(Schema(), o, std::make_unique<MemorySink>());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kIoError);
  EXPECT_NE(w.status().message().find(dir.Sub("missing")), std::string::npos) << w.status().ToString();
}

TEST(PageSpill, CopiesRangesAndRefusesOnesPastItsEnd) {
  testing::TempDir dir;
  auto spill = PageSpill::Open(dir.path());
  ASSERT_TRUE(spill.ok()) << spill.status().ToString();
  std::vector<uint8_t> big(600 << 10);  // more than one copy buffer
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 131 + i / 977);
  const std::vector<uint8_t> small = {1, 2, 3};
  auto at_small = (*spill)->Append(small);
  auto at_big = (*spill)->Append(big);
  ASSERT_TRUE(at_small.ok() && at_big.ok());
  EXPECT_EQ(*at_small, 0u);
  EXPECT_EQ(*at_big, 3u);
  MemorySink out;
  ASSERT_TRUE((*spill)->CopyTo(*at_big, big.size(), &out).ok());
  ASSERT_TRUE((*spill)->CopyTo(*at_small, small.size(), &out).ok());
  std::vector<uint8_t> want = big;
  want.insert(want.end(), small.begin(), small.end());
  EXPECT_TRUE(out.bytes() == want);
  EXPECT_EQ((*spill)->CopyTo(*at_big, big.size() + 1, &out).code(), StatusCode::kInternal);
  ASSERT_TRUE((*spill)->Reset().ok());
  EXPECT_EQ((*spill)->size(), 0u);
  EXPECT_EQ((*spill)->CopyTo(0, 1, &out).code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace frazil::parquet
