#include <gtest/gtest.h>

#include <algorithm>

#include "frazil/parquet/compression.h"
#include "frazil/parquet/file_reader.h"
#include "frazil/parquet/file_writer.h"

namespace frazil::parquet {
namespace {

// A sink that keeps its bytes reachable after the writer has closed it.
class SharedSink final : public OutputSink {
 public:
  explicit SharedSink(std::vector<uint8_t>* out) : out_(out) {}
  Status Write(std::span<const uint8_t> d) override {
    out_->insert(out_->end(), d.begin(), d.end());
    return Status::Ok();
  }
  uint64_t Position() const override { return out_->size(); }
  Status Close() override { return Status::Ok(); }

 private:
  std::vector<uint8_t>* out_;
};

FileSchema Envelope() {
  FileSchema s;
  s.fields.push_back({"offset", 1, true, FieldSchema::Shape::kPrimitive, {ValueType::kInt64}});
  s.fields.push_back({"key", 2, false, FieldSchema::Shape::kPrimitive, {ValueType::kString}});
  FieldSchema attrs{"attributes", 3, false, FieldSchema::Shape::kMap, {ValueType::kString}};
  attrs.key_id = 4;
  attrs.value_id = 5;
  s.fields.push_back(attrs);
  return s;
}

RowBatch Rows(int64_t first, size_t n) {
  RowBatch b;
  b.num_rows = n;
  b.columns.resize(3);
  b.columns[2].offsets.push_back(0);
  for (size_t i = 0; i < n; ++i) {
    b.columns[0].values.ints.push_back(first + static_cast<int64_t>(i));
    b.columns[1].values.bytes.push_back("key-" + std::to_string(i % 10));
    b.columns[1].values.is_null.push_back(i % 7 == 0);
    for (size_t k = 0; k < i % 3; ++k) {
      b.columns[2].keys.bytes.push_back("k" + std::to_string(k));
      b.columns[2].values.bytes.push_back("v" + std::to_string(i));
    }
    b.columns[2].offsets.push_back(static_cast<int32_t>(b.columns[2].keys.bytes.size()));
  }
  return b;
}

TEST(ParquetFile, WritesAndReadsBackWithRowGroupsAndSelection) {
  std::vector<uint8_t> bytes;
  WriterOptions o;
  o.row_group_bytes = 4096;
  o.page_bytes = 512;
  auto w = FileWriter::Open(Envelope(), o, std::make_unique<SharedSink>(&bytes));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (int b = 0; b < 10; ++b) ASSERT_TRUE((*w)->Write(Rows(b * 1000, 1000)).ok());
  auto res = (*w)->Close();
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->record_count, 10000);
  EXPECT_EQ(res->file_size, bytes.size());
  EXPECT_GT(res->split_offsets.size(), 2u);

  auto r = FileReader::Open(std::make_unique<MemoryInputFile>(bytes));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->num_rows(), 10000);
  int64_t expect = 0;
  for (size_t g = 0; g < (*r)->num_row_groups(); ++g) {
    auto batch = (*r)->ReadRowGroup(g);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    for (size_t i = 0; i < batch->num_rows; ++i) {
      ASSERT_EQ(batch->columns[0].values.ints[i], expect);
      const size_t local = static_cast<size_t>(expect % 1000);
      EXPECT_EQ(batch->columns[1].values.IsNull(i), local % 7 == 0);
      EXPECT_EQ(batch->columns[2].offsets[i + 1] - batch->columns[2].offsets[i],
                static_cast<int32_t>(local % 3));
      ++expect;
    }
  }
  EXPECT_EQ(expect, 10000);
  // Offsets 4500..4600 live in one or two row groups, not all of them.
  auto groups = (*r)->SelectRowGroups(1, 4500, 4600);
  EXPECT_GE(groups.size(), 1u);
  EXPECT_LT(groups.size(), (*r)->num_row_groups());
  for (size_t g : groups) {
    auto batch = (*r)->ReadRowGroup(g, {0});
    ASSERT_TRUE(batch.ok());
    EXPECT_LE(batch->columns[0].values.ints.front(), 4600);
    EXPECT_GE(batch->columns[0].values.ints.back(), 4500);
  }
}

TEST(ParquetFile, BadBatchesAreRefusedWholeAndTheFileStaysUsable) {
  std::vector<uint8_t> bytes;
  auto w =
      std::move(FileWriter::Open(Envelope(), WriterOptions{}, std::make_unique<SharedSink>(&bytes))).value();
  RowBatch null_required = Rows(0, 10);
  null_required.columns[0].values.is_null.assign(10, 0);
  null_required.columns[0].values.is_null[3] = 1;
  Status st = w->Write(null_required);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("offset is required"), std::string::npos) << st.message();

  RowBatch short_column = Rows(0, 10);
  short_column.columns[1].values.bytes.pop_back();
  EXPECT_EQ(w->Write(short_column).code(), StatusCode::kInvalidArgument);

  RowBatch bad_offsets = Rows(0, 10);
  bad_offsets.columns[2].offsets[5] = 100;
  EXPECT_EQ(w->Write(bad_offsets).code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(w->Write(Rows(0, 10)).ok());
  auto res = w->Close();
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->record_count, 10);
  EXPECT_EQ(w->Write(Rows(0, 1)).code(), StatusCode::kClosed);

  FileSchema dup = Envelope();
  dup.fields[1].field_id = 1;
  std::vector<uint8_t> ignored;
  auto bad = FileWriter::Open(dup, WriterOptions{}, std::make_unique<SharedSink>(&ignored));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("used twice"), std::string::npos);
}

// Every codec, with PLAIN and dictionary byte arrays, many pages and nulls:
// the values, bounds and null counts come back as written.
TEST(ParquetFile, PagesOfEveryCodecReadBackWithStatistics) {
  for (Codec codec : {Codec::kUncompressed, Codec::kSnappy, Codec::kZstd, Codec::kGzip}) {
    for (bool dictionary : {false, true}) {
      std::vector<uint8_t> bytes;
      WriterOptions o;
      o.codec = codec;
      o.page_bytes = 700;
      o.dictionary_for_byte_arrays = dictionary;
      o.dictionary_bytes_limit = 200;  // falls back to PLAIN partway
      auto w = FileWriter::Open(Envelope(), o, std::make_unique<SharedSink>(&bytes));
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      for (int b = 0; b < 3; ++b) ASSERT_TRUE((*w)->Write(Rows(b * 1000, 1000)).ok());
      auto res = (*w)->Close();
      ASSERT_TRUE(res.ok()) << res.status().ToString();
      const std::string what = std::string(CodecName(codec)) + (dictionary ? " dictionary" : " plain");
      // Column "key": key-0..key-9, null for every 7th row of a batch.
      const ColumnMetrics& key = res->columns[1];
      EXPECT_EQ(key.null_count, 3 * 143) << what;
      EXPECT_EQ(key.lower_bound, "key-0") << what;
      EXPECT_EQ(key.upper_bound, "key-9") << what;

      auto r = FileReader::Open(std::make_unique<MemoryInputFile>(bytes));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      size_t row = 0;
      for (size_t g = 0; g < (*r)->num_row_groups(); ++g) {
        auto batch = (*r)->ReadRowGroup(g);
        ASSERT_TRUE(batch.ok()) << batch.status().ToString();
        for (size_t i = 0; i < batch->num_rows; ++i, ++row) {
          const size_t local = row % 1000;
          ASSERT_EQ(batch->columns[1].values.IsNull(i), local % 7 == 0) << what << " row " << row;
          if (local % 7 != 0) {
            EXPECT_EQ(batch->columns[1].values.bytes[i], "key-" + std::to_string(local % 10));
          }
          const ColumnData& attrs = batch->columns[2];
          ASSERT_EQ(attrs.offsets[i + 1] - attrs.offsets[i], static_cast<int32_t>(local % 3)) << what;
          for (int32_t j = attrs.offsets[i]; j < attrs.offsets[i + 1]; ++j) {
            const size_t k = static_cast<size_t>(j - attrs.offsets[i]);
            EXPECT_EQ(attrs.keys.bytes[static_cast<size_t>(j)], "k" + std::to_string(k));
            EXPECT_EQ(attrs.values.bytes[static_cast<size_t>(j)], "v" + std::to_string(local)) << what;
          }
        }
      }
      EXPECT_EQ(row, 3000u) << what;
    }
  }
}

// An input file that counts what is read of it.
class CountingInput final : public InputFile {
 public:
  explicit CountingInput(std::vector<uint8_t> bytes, uint64_t read_ahead = 0)
      : inner_(std::move(bytes)), read_ahead_(read_ahead) {}
  uint64_t Size() const override { return inner_.Size(); }
  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    largest_read = std::max<uint64_t>(largest_read, out.size());
    ++reads;
    bytes_read += out.size();
    return inner_.ReadAt(offset, out);
  }
  const std::string& name() const override { return inner_.name(); }
  uint64_t read_ahead() const override { return read_ahead_; }
  uint64_t largest_read = 0, reads = 0, bytes_read = 0;

 private:
  MemoryInputFile inner_;
  uint64_t read_ahead_;
};

// One row of a batch of Envelope() columns as text.
std::string RowText(const RowBatch& b, size_t i) {
  std::string s = std::to_string(b.columns[0].values.ints[i]) + " ";
  s += b.columns[1].values.IsNull(i) ? "null" : std::string(b.columns[1].values.bytes[i]);
  const ColumnData& m = b.columns[2];
  for (int32_t e = m.offsets[i]; e < m.offsets[i + 1]; ++e)
    s += " " + std::string(m.keys.bytes[static_cast<size_t>(e)]) + "=" +
         std::string(m.values.bytes[static_cast<size_t>(e)]);
  return s;
}

// A row group read a few rows at a time holds a page per column, never the
// column chunks, and reads the same rows as read whole: nulls,
// dictionary-encoded strings and maps across page boundaries included.
TEST(ParquetFile, RowGroupsReadPageByPageInBatchesOfAnySize) {
  std::vector<uint8_t> bytes;
  WriterOptions o;
  o.page_bytes = 1024;  // one row group (the default 128 MiB) of many pages
  auto w = FileWriter::Open(Envelope(), o, std::make_unique<SharedSink>(&bytes));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (int b = 0; b < 4; ++b) ASSERT_TRUE((*w)->Write(Rows(b * 5000, 5000)).ok());
  ASSERT_TRUE((*w)->Close().ok());

  auto whole = FileReader::Open(std::make_unique<MemoryInputFile>(bytes));
  ASSERT_TRUE(whole.ok());
  ASSERT_EQ((*whole)->num_row_groups(), 1u);
  auto all = (*whole)->ReadRowGroup(0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->num_rows, 20000u);
  uint64_t largest_chunk = 0;
  for (const auto& c : (*whole)->metadata().row_groups[0].columns)
    largest_chunk =
        std::max<uint64_t>(largest_chunk, static_cast<uint64_t>(c.meta_data->total_compressed_size));
  ASSERT_GT(largest_chunk, 32u << 10);

  for (size_t batch : {size_t{1}, size_t{7}, size_t{333}, size_t{4096}, size_t{50000}}) {
    SCOPED_TRACE("batches of " + std::to_string(batch) + " rows");
    auto input = std::make_unique<CountingInput>(bytes);
    CountingInput* counting = input.get();
    auto r = FileReader::Open(std::move(input));
    ASSERT_TRUE(r.ok());
    counting->largest_read = 0;  // the footer is read whole; pages are what counts
    auto rows = (*r)->OpenRowGroup(0);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    size_t next = 0;
    while ((*rows)->rows_left() > 0) {
      auto got = (*rows)->Next(batch);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(got->num_rows, std::min(batch, 20000 - next));
      for (size_t i = 0; i < got->num_rows; ++i, ++next) ASSERT_EQ(RowText(*got, i), RowText(*all, next));
    }
    EXPECT_EQ(next, 20000u);
    auto after = (*rows)->Next(batch);
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->num_rows, 0u);
    // A page (about 1 KiB, with its header) at a time, not a column chunk.
    EXPECT_LE(counting->largest_read, 4u << 10);
  }
  // A projection reads its columns only.
  auto r = FileReader::Open(std::make_unique<MemoryInputFile>(bytes));
  auto offsets = (*r)->OpenRowGroup(0, {0});
  ASSERT_TRUE(offsets.ok());
  auto got = (*offsets)->Next(10);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->columns.size(), 1u);
  EXPECT_EQ(got->columns[0].values.ints[9], 9);
}

// A file that wants large reads (an object on S3: every read is a round
// trip) opens with one read of its end, and streams a row group in blocks
// of its read-ahead, not a read per page header and page, still holding a
// block per column rather than the column chunks.
TEST(ParquetFile, RemoteFilesOpenInOneReadAndStreamInBlocks) {
  std::vector<uint8_t> bytes;
  WriterOptions o;
  o.page_bytes = 1024;
  auto w = FileWriter::Open(Envelope(), o, std::make_unique<SharedSink>(&bytes));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (int b = 0; b < 8; ++b) ASSERT_TRUE((*w)->Write(Rows(b * 5000, 5000)).ok());
  ASSERT_TRUE((*w)->Close().ok());
  ASSERT_GT(bytes.size(), 64u << 10);  // larger than the block read at open

  auto all = (*FileReader::Open(std::make_unique<MemoryInputFile>(bytes)))->ReadRowGroup(0);
  ASSERT_TRUE(all.ok());
  const uint64_t kBlock = 16 << 10;
  for (uint64_t ahead : {uint64_t{0}, kBlock}) {
    SCOPED_TRACE("read_ahead " + std::to_string(ahead));
    auto input = std::make_unique<CountingInput>(bytes, ahead);
    CountingInput* counting = input.get();
    auto r = FileReader::Open(std::move(input));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    // Local files also check the leading magic; remote ones skip the
    // round trip.
    EXPECT_EQ(counting->reads, ahead ? 1u : 2u);
    counting->reads = counting->bytes_read = counting->largest_read = 0;
    auto rows = (*r)->OpenRowGroup(0);
    ASSERT_TRUE(rows.ok());
    size_t next = 0;
    while ((*rows)->rows_left() > 0) {
      auto got = (*rows)->Next(1000);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      for (size_t i = 0; i < got->num_rows; ++i, ++next) ASSERT_EQ(RowText(*got, i), RowText(*all, next));
    }
    ASSERT_EQ(next, 40000u);
    uint64_t chunks = 0, pages_bound = 0, blocks_bound = 0;
    for (const auto& c : (*r)->metadata().row_groups[0].columns) {
      const uint64_t size = static_cast<uint64_t>(c.meta_data->total_compressed_size);
      chunks += size;
      pages_bound += size / 1024;
      // Each read brings at least a block less a page (~1 KiB and its
      // header) of new bytes: what a straddling page had is kept.
      blocks_bound += size / (kBlock - 4096) + 2;
    }
    if (ahead == 0) {
      EXPECT_GT(counting->reads, pages_bound);  // a header and a body per page
      EXPECT_LE(counting->largest_read, 4u << 10);
    } else {
      EXPECT_LE(counting->reads, blocks_bound);
      EXPECT_LE(counting->largest_read, kBlock);
      EXPECT_EQ(counting->bytes_read, chunks);  // each byte once
    }
  }
}

TEST(ParquetFile, RejectsNonParquetInput) {
  for (std::string junk : {std::string(), std::string("PAR1"), std::string("PAR1\0\0\0\0PAR1", 12),
                           std::string("hello world, not parquet at all")}) {
    auto r =
        FileReader::Open(std::make_unique<MemoryInputFile>(std::vector<uint8_t>(junk.begin(), junk.end())));
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << junk;
  }
}

}  // namespace
}  // namespace frazil::parquet
