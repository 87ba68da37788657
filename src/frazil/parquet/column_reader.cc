#include "frazil/parquet/column_reader.h"

#include <algorithm>
#include <cstring>

#include "frazil/common/coding.h"
#include "frazil/parquet/compression.h"
#include "frazil/parquet/encoding/bit_util.h"
#include "frazil/parquet/encoding/delta_binary_packed.h"
#include "frazil/parquet/encoding/plain_decoder.h"
#include "frazil/parquet/encoding/rle_bit_packed.h"

namespace frazil::parquet {
namespace {

constexpr int32_t kMaxPageBytes = 1 << 30;

// Levels of a v1 page: a 4-byte length, then the RLE hybrid.
Status ReadV1Levels(ByteCursor& in, int16_t max_level, size_t n, std::vector<uint64_t>* out) {
  const uint8_t* len_bytes = in.Take(4);
  if (len_bytes == nullptr) return Status::Corruption("levels: page too short for the length");
  uint32_t len = DecodeFixed32(len_bytes);
  const uint8_t* data = in.Take(len);
  if (data == nullptr)
    return Status::Corruption("levels: " + std::to_string(len) + " bytes run past the page");
  std::vector<uint64_t> levels;
  FRAZIL_RETURN_IF_ERROR(
      RleBitPackedDecode(std::span(data, len), BitWidth(static_cast<uint64_t>(max_level)), n, &levels));
  out->insert(out->end(), levels.begin(), levels.end());
  return Status::Ok();
}

Status CheckLevels(const uint64_t* levels, size_t n, int16_t max, const char* what) {
  for (size_t i = 0; i < n; ++i) {
    if (levels[i] > static_cast<uint64_t>(max)) {
      return Status::Corruption(std::string(what) + " level " + std::to_string(levels[i]) +
                                " exceeds the maximum " + std::to_string(max));
    }
  }
  return Status::Ok();
}

Status DecodeValues(std::span<const uint8_t> data, Encoding enc, const LeafColumn& leaf, size_t n,
                    const ValueVector* dict, size_t dict_size, ValueVector* out) {
  size_t consumed = 0;
  switch (enc) {
    case Encoding::kPlain:
      return DecodePlain(data, leaf, n, out, &consumed);
    case Encoding::kRleDictionary:
    case Encoding::kPlainDictionary: {
      if (dict == nullptr) return Status::Corruption("dictionary-encoded page without a dictionary page");
      if (n == 0) return Status::Ok();
      if (data.empty()) return Status::Corruption("dictionary indices: empty page");
      std::vector<uint64_t> idx;
      FRAZIL_RETURN_IF_ERROR(RleBitPackedDecode(data.subspan(1), data[0], n, &idx));
      for (uint64_t i : idx) {
        if (i >= dict_size) {
          return Status::Corruption("dictionary index " + std::to_string(i) + " out of range (" +
                                    std::to_string(dict_size) + " entries)");
        }
        out->AppendFrom(*dict, static_cast<size_t>(i), leaf.value.type);
      }
      return Status::Ok();
    }
    case Encoding::kDeltaBinaryPacked: {
      if (leaf.physical != PhysicalType::kInt32 && leaf.physical != PhysicalType::kInt64) {
        return Status::Corruption("DELTA_BINARY_PACKED on a non-integer column");
      }
      std::vector<int64_t> v;
      FRAZIL_RETURN_IF_ERROR(
          DeltaBinaryPackedDecode(data, leaf.physical == PhysicalType::kInt32 ? 32 : 64, &v, &consumed));
      if (v.size() != n) {
        return Status::Corruption("DELTA_BINARY_PACKED holds " + std::to_string(v.size()) +
                                  " values, the page " + std::to_string(n));
      }
      for (int64_t x : v) {
        if (leaf.value.type == ValueType::kDecimal)
          out->decimals.push_back(x);
        else
          out->ints.push_back(x);
      }
      return Status::Ok();
    }
    case Encoding::kRle: {
      if (leaf.physical != PhysicalType::kBoolean)
        return Status::Corruption("RLE values on a non-boolean column");
      if (data.size() < 4) return Status::Corruption("RLE booleans: missing length");
      uint32_t len = DecodeFixed32(data.data());
      if (len > data.size() - 4) return Status::Corruption("RLE booleans: length past the page");
      std::vector<uint64_t> v;
      FRAZIL_RETURN_IF_ERROR(RleBitPackedDecode(data.subspan(4, len), 1, n, &v));
      for (uint64_t b : v) out->ints.push_back(static_cast<int64_t>(b));
      return Status::Ok();
    }
    default:
      return Status::InvalidArgument("unsupported Parquet encoding " + std::to_string(static_cast<int>(enc)) +
                                     " in column " + leaf.path.back());
  }
}

// The uncompressed bytes of a page: in place when the chunk is not
// compressed, else decompressed into `scratch`.
Result<std::span<const uint8_t>> PageBytes(Codec codec, std::span<const uint8_t> body,
                                           int32_t uncompressed_size, std::vector<uint8_t>* scratch) {
  if (codec == Codec::kUncompressed) {
    if (body.size() != static_cast<size_t>(uncompressed_size)) {
      return Status::Corruption("uncompressed page of " + std::to_string(body.size()) +
                                " bytes, header says " + std::to_string(uncompressed_size));
    }
    return body;
  }
  FRAZIL_RETURN_IF_ERROR(Decompress(codec, body, static_cast<size_t>(uncompressed_size), scratch));
  return std::span<const uint8_t>(*scratch);
}

// Decodes one page (`h` its header, `body` its bytes as stored) of a
// column chunk: a dictionary page becomes the chunk's dictionary, a data
// page appends its levels and values to `out`; other pages are skipped.
Status DecodePage(const PageHeader& h, std::span<const uint8_t> body, const ColumnMetaData& meta,
                  const LeafColumn& leaf, int64_t values_before, PageDictionary* dict,
                  std::vector<uint8_t>* scratch, DecodedChunk* out) {
  if (h.type == PageType::kDictionaryPage) {
    if (!h.dictionary_page_header) return Status::Corruption("dictionary page without its header");
    if (dict->present) return Status::Corruption("second dictionary page in a column chunk");
    FRAZIL_ASSIGN_OR_RETURN(auto bytes, PageBytes(meta.codec, body, h.uncompressed_page_size, scratch));
    int32_t n = h.dictionary_page_header->num_values;
    if (n < 0) return Status::Corruption("negative dictionary size");
    size_t consumed = 0;
    FRAZIL_RETURN_IF_ERROR(DecodePlain(bytes, leaf, static_cast<size_t>(n), &dict->values, &consumed));
    dict->size = static_cast<size_t>(n);
    dict->present = true;
    return Status::Ok();
  }
  const ValueVector* d_values = dict->present ? &dict->values : nullptr;
  if (h.type == PageType::kDataPage) {
    if (!h.data_page_header) return Status::Corruption("data page without its header");
    const auto& d = *h.data_page_header;
    if (d.num_values < 0 || d.num_values > meta.num_values - values_before) {
      return Status::Corruption("data page claims " + std::to_string(d.num_values) +
                                " values, more than the chunk");
    }
    FRAZIL_ASSIGN_OR_RETURN(auto bytes, PageBytes(meta.codec, body, h.uncompressed_page_size, scratch));
    const size_t n = static_cast<size_t>(d.num_values);
    ByteCursor in(bytes.data(), bytes.size());
    size_t def_start = out->defs.size();
    if (leaf.max_rep > 0) FRAZIL_RETURN_IF_ERROR(ReadV1Levels(in, leaf.max_rep, n, &out->reps));
    if (leaf.max_def > 0) FRAZIL_RETURN_IF_ERROR(ReadV1Levels(in, leaf.max_def, n, &out->defs));
    size_t present = n;
    if (leaf.max_def > 0) {
      FRAZIL_RETURN_IF_ERROR(CheckLevels(out->defs.data() + def_start, n, leaf.max_def, "definition"));
      present = 0;
      for (size_t i = def_start; i < out->defs.size(); ++i)
        present += out->defs[i] == static_cast<uint64_t>(leaf.max_def);
    }
    if (leaf.max_rep > 0)
      FRAZIL_RETURN_IF_ERROR(
          CheckLevels(out->reps.data() + out->reps.size() - n, n, leaf.max_rep, "repetition"));
    FRAZIL_RETURN_IF_ERROR(DecodeValues(std::span(in.position(), in.remaining()), d.encoding, leaf, present,
                                        d_values, dict->size, &out->values));
    out->num_values += d.num_values;
    return Status::Ok();
  }
  if (h.type == PageType::kDataPageV2) {
    if (!h.data_page_header_v2) return Status::Corruption("data page v2 without its header");
    const auto& d = *h.data_page_header_v2;
    if (d.num_values < 0 || d.num_values > meta.num_values - values_before || d.num_nulls < 0 ||
        d.num_nulls > d.num_values || d.repetition_levels_byte_length < 0 ||
        d.definition_levels_byte_length < 0 ||
        static_cast<int64_t>(d.repetition_levels_byte_length) + d.definition_levels_byte_length >
            h.compressed_page_size) {
      return Status::Corruption("data page v2 header is inconsistent with its page");
    }
    const size_t n = static_cast<size_t>(d.num_values);
    const size_t rl = static_cast<size_t>(d.repetition_levels_byte_length);
    const size_t dl = static_cast<size_t>(d.definition_levels_byte_length);
    if (leaf.max_rep > 0) {
      std::vector<uint64_t> v;
      FRAZIL_RETURN_IF_ERROR(
          RleBitPackedDecode(body.subspan(0, rl), BitWidth(static_cast<uint64_t>(leaf.max_rep)), n, &v));
      FRAZIL_RETURN_IF_ERROR(CheckLevels(v.data(), n, leaf.max_rep, "repetition"));
      out->reps.insert(out->reps.end(), v.begin(), v.end());
    }
    size_t present = n;
    if (leaf.max_def > 0) {
      std::vector<uint64_t> v;
      FRAZIL_RETURN_IF_ERROR(
          RleBitPackedDecode(body.subspan(rl, dl), BitWidth(static_cast<uint64_t>(leaf.max_def)), n, &v));
      FRAZIL_RETURN_IF_ERROR(CheckLevels(v.data(), n, leaf.max_def, "definition"));
      present = 0;
      for (uint64_t x : v) present += x == static_cast<uint64_t>(leaf.max_def);
      out->defs.insert(out->defs.end(), v.begin(), v.end());
    }
    std::span<const uint8_t> values = body.subspan(rl + dl);
    const int64_t uncompressed_values =
        static_cast<int64_t>(h.uncompressed_page_size) - static_cast<int64_t>(rl + dl);
    if (uncompressed_values < 0) return Status::Corruption("data page v2: levels longer than the page");
    if (d.is_compressed && meta.codec != Codec::kUncompressed) {
      FRAZIL_RETURN_IF_ERROR(
          Decompress(meta.codec, values, static_cast<size_t>(uncompressed_values), scratch));
      values = *scratch;
    }
    FRAZIL_RETURN_IF_ERROR(
        DecodeValues(values, d.encoding, leaf, present, d_values, dict->size, &out->values));
    out->num_values += d.num_values;
    return Status::Ok();
  }
  // Index pages and unknown page types carry no values: skip them.
  return Status::Ok();
}

Status CheckPageSizes(const PageHeader& h, size_t pos, size_t chunk_size) {
  if (h.compressed_page_size < 0 || h.uncompressed_page_size < 0 ||
      h.uncompressed_page_size > kMaxPageBytes ||
      static_cast<size_t>(h.compressed_page_size) > chunk_size - pos) {
    return Status::Corruption("page of " + std::to_string(h.compressed_page_size) + " bytes at chunk byte " +
                              std::to_string(pos) + " runs past the column chunk (" +
                              std::to_string(chunk_size) + " bytes)");
  }
  return Status::Ok();
}

}  // namespace

Status ReadColumnChunk(std::span<const uint8_t> chunk, const ColumnMetaData& meta, const LeafColumn& leaf,
                       DecodedChunk* out) {
  // One allocation for all of a byte-array chunk's values.
  if (leaf.physical == PhysicalType::kByteArray || leaf.physical == PhysicalType::kFixedLenByteArray) {
    out->values.bytes.reserve_bytes(static_cast<size_t>(std::max<int64_t>(0, meta.total_uncompressed_size)));
  }
  PageDictionary dict;
  size_t pos = 0;
  std::vector<uint8_t> page;
  while (out->num_values < meta.num_values) {
    if (pos >= chunk.size()) {
      return Status::Corruption("column chunk ends after " + std::to_string(out->num_values) + " of " +
                                std::to_string(meta.num_values) + " values");
    }
    PageHeader h;
    size_t header_len = 0;
    FRAZIL_RETURN_IF_ERROR(DecodePageHeader(chunk.subspan(pos), &h, &header_len));
    pos += header_len;
    FRAZIL_RETURN_IF_ERROR(CheckPageSizes(h, pos, chunk.size()));
    std::span<const uint8_t> body = chunk.subspan(pos, static_cast<size_t>(h.compressed_page_size));
    pos += static_cast<size_t>(h.compressed_page_size);
    FRAZIL_RETURN_IF_ERROR(DecodePage(h, body, meta, leaf, out->num_values, &dict, &page, out));
  }
  return Status::Ok();
}

ColumnChunkCursor::ColumnChunkCursor(InputFile* file, uint64_t start, uint64_t size,
                                     const ColumnMetaData* meta, const LeafColumn* leaf)
    : file_(file), start_(start), size_(size), meta_(meta), leaf_(leaf) {}

Status ColumnChunkCursor::NextPage() {
  page_.defs.clear();
  page_.reps.clear();
  page_.values = ValueVector();
  page_.num_values = 0;
  level_pos_ = value_pos_ = 0;
  while (page_.num_values == 0) {
    if (values_loaded_ >= meta_->num_values) return Status::Ok();
    if (pos_ >= size_) {
      return Status::Corruption("column chunk ends after " + std::to_string(values_loaded_) + " of " +
                                std::to_string(meta_->num_values) + " values");
    }
    // The header's length is only known once decoded: read a prefix, and
    // a longer one if the header (with large statistics) did not fit.
    PageHeader h;
    size_t header_len = 0;
    for (size_t want = 256;; want *= 4) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(want, size_ - pos_));
      FRAZIL_ASSIGN_OR_RETURN(std::span<const uint8_t> header, Bytes(pos_, n, &header_));
      Status st = DecodePageHeader(header, &h, &header_len);
      if (st.ok()) break;
      if (n == size_ - pos_ || want >= kMaxPageBytes) return st;
    }
    pos_ += header_len;
    FRAZIL_RETURN_IF_ERROR(CheckPageSizes(h, static_cast<size_t>(pos_), static_cast<size_t>(size_)));
    FRAZIL_ASSIGN_OR_RETURN(std::span<const uint8_t> body,
                            Bytes(pos_, static_cast<size_t>(h.compressed_page_size), &body_));
    pos_ += static_cast<uint64_t>(h.compressed_page_size);
    FRAZIL_RETURN_IF_ERROR(DecodePage(h, body, *meta_, *leaf_, values_loaded_, &dict_, &scratch_, &page_));
    values_loaded_ += page_.num_values;
  }
  return Status::Ok();
}

Result<std::span<const uint8_t>> ColumnChunkCursor::Bytes(uint64_t pos, size_t n,
                                                          std::vector<uint8_t>* direct) {
  const uint64_t block = file_->read_ahead();
  if (block == 0) {
    direct->resize(n);
    FRAZIL_RETURN_IF_ERROR(file_->ReadAt(start_ + pos, *direct));
    return std::span<const uint8_t>(*direct);
  }
  const uint64_t ahead_end = ahead_pos_ + ahead_.size();
  if (pos < ahead_pos_ || pos + n > ahead_end) {
    // A page larger than the block is read whole; the buffer never holds
    // more than the larger of the two. What the buffer already holds of
    // the range (a page that straddles the block's end) is kept, so a
    // sequential pass fetches each byte once.
    const uint64_t len = std::min<uint64_t>(std::max<uint64_t>(block, n), size_ - pos);
    size_t kept = 0;
    if (pos >= ahead_pos_ && pos < ahead_end) {
      kept = static_cast<size_t>(ahead_end - pos);
      std::memmove(ahead_.data(), ahead_.data() + (pos - ahead_pos_), kept);
    }
    ahead_.resize(static_cast<size_t>(len));
    FRAZIL_RETURN_IF_ERROR(
        file_->ReadAt(start_ + pos + kept, std::span<uint8_t>(ahead_).subspan(kept, ahead_.size() - kept)));
    ahead_pos_ = pos;
  }
  return std::span<const uint8_t>(ahead_).subspan(static_cast<size_t>(pos - ahead_pos_), n);
}

void ColumnChunkCursor::Take(size_t begin, size_t end, DecodedChunk* out) {
  const ValueType vt = leaf_->value.type;
  size_t values = end - begin;
  if (leaf_->max_def > 0) {
    values = 0;
    for (size_t i = begin; i < end; ++i) values += page_.defs[i] == static_cast<uint64_t>(leaf_->max_def);
    out->defs.insert(out->defs.end(), page_.defs.begin() + static_cast<ptrdiff_t>(begin),
                     page_.defs.begin() + static_cast<ptrdiff_t>(end));
  }
  if (leaf_->max_rep > 0)
    out->reps.insert(out->reps.end(), page_.reps.begin() + static_cast<ptrdiff_t>(begin),
                     page_.reps.begin() + static_cast<ptrdiff_t>(end));
  for (size_t v = 0; v < values; ++v) out->values.AppendFrom(page_.values, value_pos_ + v, vt);
  value_pos_ += values;
  out->num_values += static_cast<int64_t>(end - begin);
}

Status ColumnChunkCursor::TakeRows(size_t rows, DecodedChunk* out) {
  size_t taken = 0;
  for (;;) {
    const size_t levels = static_cast<size_t>(page_.num_values);
    if (level_pos_ == levels) {
      if (leaf_->max_rep == 0 && taken == rows) return Status::Ok();
      // A repeated row may go on in the next page: look before ending it.
      FRAZIL_RETURN_IF_ERROR(NextPage());
      if (page_.num_values == 0) break;  // the chunk is over
      continue;
    }
    size_t end = level_pos_;
    if (leaf_->max_rep == 0) {
      end = level_pos_ + std::min(rows - taken, levels - level_pos_);
      taken += end - level_pos_;
    } else {
      for (; end < levels; ++end) {
        if (page_.reps[end] == 0) {
          if (taken == rows) break;
          ++taken;
        } else if (taken == 0) {
          return Status::Corruption("repeated entry without a parent");
        }
      }
    }
    const bool row_ended = end < levels;
    Take(level_pos_, end, out);
    level_pos_ = end;
    if (row_ended) return Status::Ok();
  }
  if (taken != rows) {
    return Status::Corruption("column chunk holds " + std::to_string(taken) + " of " + std::to_string(rows) +
                              " rows asked for");
  }
  return Status::Ok();
}

}  // namespace frazil::parquet
