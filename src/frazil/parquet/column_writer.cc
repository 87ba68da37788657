#include "frazil/parquet/column_writer.h"

#include <cmath>
#include <cstring>

#include "frazil/parquet/compression.h"
#include "frazil/parquet/encoding/bit_util.h"
#include "frazil/parquet/encoding/delta_binary_packed.h"
#include "frazil/parquet/encoding/rle_bit_packed.h"

namespace frazil::parquet {
namespace {

constexpr size_t kLevelGap = 4096;

bool IsIntegerLike(ValueType t) {
  return t == ValueType::kInt32 || t == ValueType::kInt64 || t == ValueType::kDate ||
         t == ValueType::kTimestamp || t == ValueType::kTimestampTz;
}

bool IsByteLike(ValueType t) {
  return t == ValueType::kString || t == ValueType::kBinary || t == ValueType::kFixed ||
         t == ValueType::kUuid;
}

// insert() from raw pointers is one memmove, without resize()'s zero fill.
void AppendBytes(const void* p, size_t n, std::vector<uint8_t>* out) {
  const auto* b = static_cast<const uint8_t*>(p);
  out->insert(out->end(), b, b + n);
}

void PutLE(uint64_t v, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

void PutLE(uint64_t v, int bytes, std::vector<uint8_t>* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// Unscaled decimal as big-endian two's complement of `n` bytes.
std::string DecimalBytesBE(__int128 v, int n) {
  std::string s(static_cast<size_t>(n), '\0');
  for (int i = n - 1; i >= 0; --i) {
    s[static_cast<size_t>(i)] = static_cast<char>(static_cast<uint8_t>(v & 0xff));
    v >>= 8;  // arithmetic shift keeps the sign
  }
  return s;
}

std::string EncodeDouble(double d, PhysicalType p) {
  std::string s;
  if (p == PhysicalType::kFloat) {
    float f = static_cast<float>(d);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    PutLE(u, 4, &s);
  } else {
    uint64_t u;
    std::memcpy(&u, &d, 8);
    PutLE(u, 8, &s);
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------
// MinMax

void MinMax::Update(const ValueVector& v, size_t i) {
  const ValueType t = leaf_->value.type;
  if (t == ValueType::kFloat || t == ValueType::kDouble) {
    double d = v.doubles[i];
    if (std::isnan(d)) return;  // NaN never enters bounds
    if (!has_ || d < min_d_) min_d_ = d;
    if (!has_ || d > max_d_) max_d_ = d;
    has_ = true;
    return;
  }
  if (t == ValueType::kDecimal) {
    __int128 x = v.decimals[i];
    if (!has_ || x < min_x_) min_x_ = x;
    if (!has_ || x > max_x_) max_x_ = x;
  } else if (IsByteLike(t)) {
    const std::string_view s = v.bytes[i];
    if (!has_) {
      min_s_ = max_s_ = s;
    } else if (int c = s.compare(min_s_); c < 0) {
      min_s_ = s;
    } else if (c > 0 && s.compare(max_s_) > 0) {
      max_s_ = s;
    }
  } else {
    int64_t x = v.ints[i];
    if (!has_ || x < min_i_) min_i_ = x;
    if (!has_ || x > max_i_) max_i_ = x;
  }
  has_ = true;
}

void MinMax::UpdateRange(const ValueVector& v, size_t begin, size_t end) {
  const ValueType t = leaf_->value.type;
  const bool nulls = !v.is_null.empty();
  if (t == ValueType::kFloat || t == ValueType::kDouble || t == ValueType::kDecimal || IsByteLike(t)) {
    for (size_t i = begin; i < end; ++i) {
      if (!nulls || !v.is_null[i]) Update(v, i);
    }
    return;
  }
  // Integers (and booleans, dates, timestamps): one tight loop.
  for (size_t i = begin; i < end; ++i) {
    if (nulls && v.is_null[i]) continue;
    const int64_t x = v.ints[i];
    if (!has_) {
      min_i_ = max_i_ = x;
      has_ = true;
    } else {
      min_i_ = std::min(min_i_, x);
      max_i_ = std::max(max_i_, x);
    }
  }
}

void MinMax::Merge(const MinMax& o) {
  if (!o.has_) return;
  if (!has_) {
    *this = o;
    return;
  }
  min_i_ = std::min(min_i_, o.min_i_);
  max_i_ = std::max(max_i_, o.max_i_);
  min_d_ = std::min(min_d_, o.min_d_);
  max_d_ = std::max(max_d_, o.max_d_);
  min_s_ = std::min(min_s_, o.min_s_);
  max_s_ = std::max(max_s_, o.max_s_);
  min_x_ = std::min(min_x_, o.min_x_);
  max_x_ = std::max(max_x_, o.max_x_);
}

std::string MinMax::EncodedMin() const {
  const ValueType t = leaf_->value.type;
  switch (leaf_->physical) {
    case PhysicalType::kBoolean:
      return std::string(1, static_cast<char>(min_i_ != 0));
    case PhysicalType::kInt32: {
      std::string s;
      PutLE(static_cast<uint32_t>(min_i_), 4, &s);
      return s;
    }
    case PhysicalType::kInt64: {
      std::string s;
      PutLE(static_cast<uint64_t>(min_i_), 8, &s);
      return s;
    }
    case PhysicalType::kFloat:
    case PhysicalType::kDouble:
      // The spec asks for -0.0 as a zero minimum.
      return EncodeDouble(min_d_ == 0 ? -0.0 : min_d_, leaf_->physical);
    default:
      return t == ValueType::kDecimal ? DecimalBytesBE(min_x_, leaf_->type_length) : min_s_;
  }
}

std::string MinMax::EncodedMax() const {
  const ValueType t = leaf_->value.type;
  switch (leaf_->physical) {
    case PhysicalType::kBoolean:
      return std::string(1, static_cast<char>(max_i_ != 0));
    case PhysicalType::kInt32: {
      std::string s;
      PutLE(static_cast<uint32_t>(max_i_), 4, &s);
      return s;
    }
    case PhysicalType::kInt64: {
      std::string s;
      PutLE(static_cast<uint64_t>(max_i_), 8, &s);
      return s;
    }
    case PhysicalType::kFloat:
    case PhysicalType::kDouble:
      return EncodeDouble(max_d_ == 0 ? 0.0 : max_d_, leaf_->physical);
    default:
      return t == ValueType::kDecimal ? DecimalBytesBE(max_x_, leaf_->type_length) : max_s_;
  }
}

// ---------------------------------------------------------------------------
// ColumnWriter

ColumnWriter::ColumnWriter(const LeafColumn& leaf, const WriterOptions& options)
    : leaf_(leaf), options_(options), chunk_minmax_(leaf), file_minmax_(leaf) {
  plain_.resize(kLevelGap);
  const ValueType t = leaf.value.type;
  if (options.dictionary_for_byte_arrays && (t == ValueType::kString || t == ValueType::kBinary)) {
    mode_ = Mode::kDictionary;
  } else if (options.delta_for_integers && IsIntegerLike(t)) {
    mode_ = Mode::kDelta;
  } else {
    mode_ = Mode::kPlain;
  }
}

void ColumnWriter::AppendPlain(const ValueVector& vec, size_t i, std::vector<uint8_t>* out) const {
  const ValueType t = leaf_.value.type;
  switch (leaf_.physical) {
    case PhysicalType::kInt32:
      PutLE(static_cast<uint32_t>(vec.ints[i]), 4, out);
      return;
    case PhysicalType::kInt64:
      PutLE(static_cast<uint64_t>(vec.ints[i]), 8, out);
      return;
    case PhysicalType::kFloat:
    case PhysicalType::kDouble: {
      std::string s = EncodeDouble(vec.doubles[i], leaf_.physical);
      AppendBytes(s.data(), s.size(), out);
      return;
    }
    case PhysicalType::kByteArray: {
      const std::string_view s = vec.bytes[i];
      uint8_t len[4];
      for (int k = 0; k < 4; ++k) len[k] = static_cast<uint8_t>(s.size() >> (8 * k));
      AppendBytes(len, 4, out);
      AppendBytes(s.data(), s.size(), out);
      return;
    }
    case PhysicalType::kFixedLenByteArray: {
      if (t == ValueType::kDecimal) {
        std::string s = DecimalBytesBE(vec.decimals[i], leaf_.type_length);
        AppendBytes(s.data(), s.size(), out);
      } else {
        AppendBytes(vec.bytes[i].data(), vec.bytes[i].size(), out);
      }
      return;
    }
    default:
      return;  // booleans are bit-packed separately
  }
}

void ColumnWriter::Add(int16_t def, int16_t rep, const ValueVector& vec, size_t i) {
  if (leaf_.max_def > 0) defs_.push_back(static_cast<uint64_t>(def));
  if (leaf_.max_rep > 0) reps_.push_back(static_cast<uint64_t>(rep));
  ++page_values_;
  if (def < leaf_.max_def) {
    ++page_nulls_;
    return;
  }
  chunk_minmax_.Update(vec, i);
  if (leaf_.physical == PhysicalType::kBoolean) {
    bools_.push_back(vec.ints[i] != 0);
    return;
  }
  switch (mode_) {
    case Mode::kDelta:
      ints_.push_back(vec.ints[i]);
      return;
    case Mode::kPlain:
      AppendPlain(vec, i, &plain_);
      return;
    case Mode::kDictionary: {
      bool added = false;
      dict_indices_.push_back(dict_.IndexOf(vec.bytes[i], &added));
      if (added && dict_.plain().size() > options_.dictionary_bytes_limit) fallback_pending_ = true;
      return;
    }
  }
}

void ColumnWriter::AddValues(const ValueVector& vec, size_t begin, size_t end) {
  const bool nulls = !vec.is_null.empty();
  auto present = [&](size_t k) { return !nulls || !vec.is_null[k]; };
  if (leaf_.physical == PhysicalType::kBoolean) {
    for (size_t k = begin; k < end; ++k) {
      if (present(k)) bools_.push_back(vec.ints[k] != 0);
    }
    return;
  }
  switch (mode_) {
    case Mode::kDelta:
      for (size_t k = begin; k < end; ++k) {
        if (present(k)) ints_.push_back(vec.ints[k]);
      }
      return;
    case Mode::kPlain:
      for (size_t k = begin; k < end; ++k) {
        if (present(k)) AppendPlain(vec, k, &plain_);
      }
      return;
    case Mode::kDictionary:
      for (size_t k = begin; k < end; ++k) {
        if (!present(k)) continue;
        bool added = false;
        dict_indices_.push_back(dict_.IndexOf(vec.bytes[k], &added));
        if (added && dict_.plain().size() > options_.dictionary_bytes_limit) fallback_pending_ = true;
      }
      return;
  }
}

Status ColumnWriter::AddRows(const ValueVector& vec, size_t begin, size_t end) {
  // A slice at a time: levels, statistics and values each in a tight loop;
  // pages are cut between slices, so they pass the target by one slice at most.
  constexpr size_t kSlice = 256;
  const bool nulls = !vec.is_null.empty();
  for (size_t r = begin; r < end;) {
    const size_t stop = std::min(end, r + kSlice);
    size_t null_count = 0;
    if (nulls) {
      for (size_t k = r; k < stop; ++k) null_count += vec.is_null[k] != 0;
    }
    if (leaf_.max_def > 0) {
      const uint64_t max = static_cast<uint64_t>(leaf_.max_def);
      for (size_t k = r; k < stop; ++k) defs_.push_back(nulls && vec.is_null[k] ? 0 : max);
    }
    page_values_ += static_cast<int32_t>(stop - r);
    page_nulls_ += static_cast<int32_t>(null_count);
    chunk_minmax_.UpdateRange(vec, r, stop);
    AddValues(vec, r, stop);
    r = stop;
    if (fallback_pending_ || EstimatePageBytes() >= options_.page_bytes) FRAZIL_RETURN_IF_ERROR(EndRow());
  }
  return Status::Ok();
}

uint64_t ColumnWriter::EstimatePageBytes() const {
  return (defs_.size() + reps_.size()) / 4 + (plain_.size() - kLevelGap) + bools_.size() / 8 +
         ints_.size() * 2 + dict_indices_.size() * 2;
}

Status ColumnWriter::EndRow() {
  if (fallback_pending_) {
    // The dictionary grew past its limit: pages so far stay dictionary
    // encoded; the rest of this chunk is PLAIN.
    FRAZIL_RETURN_IF_ERROR(CutPage());
    mode_ = Mode::kPlain;
    fallback_pending_ = false;
    return Status::Ok();
  }
  if (EstimatePageBytes() >= options_.page_bytes) return CutPage();
  return Status::Ok();
}

void ColumnWriter::EncodeValues(std::vector<uint8_t>* out) const {
  if (leaf_.physical == PhysicalType::kBoolean) {
    std::vector<uint64_t> padded(bools_);
    padded.resize((padded.size() + 7) / 8 * 8, 0);
    PackBits(padded.data(), padded.size(), 1, out);
    return;
  }
  switch (mode_) {
    case Mode::kPlain:
      AppendBytes(plain_.data() + kLevelGap, plain_.size() - kLevelGap, out);
      return;
    case Mode::kDelta: {
      if (leaf_.physical == PhysicalType::kInt32) {
        std::vector<int32_t> v(ints_.begin(), ints_.end());
        DeltaBinaryPackedEncode32(v, out);
      } else {
        DeltaBinaryPackedEncode64(ints_, out);
      }
      return;
    }
    case Mode::kDictionary: {
      int width = std::max(1, BitWidth(dict_.size() > 0 ? dict_.size() - 1 : 0));
      out->push_back(static_cast<uint8_t>(width));
      RleBitPackedEncode(dict_indices_, width, out);
      return;
    }
  }
}

Result<std::vector<uint8_t>> ColumnWriter::BuildPage(PageType type, std::span<const uint8_t> body,
                                                     int32_t num_values, Encoding encoding) {
  compressed_.clear();
  std::span<const uint8_t> data = body;
  if (options_.codec != Codec::kUncompressed) {
    FRAZIL_RETURN_IF_ERROR(Compress(options_.codec, options_.compression_level, body, &compressed_));
    data = compressed_;
  }
  PageHeader h;
  h.type = type;
  h.uncompressed_page_size = static_cast<int32_t>(body.size());
  h.compressed_page_size = static_cast<int32_t>(data.size());
  if (type == PageType::kDictionaryPage) {
    h.dictionary_page_header = DictionaryPageHeader{num_values, Encoding::kPlain, false};
  } else {
    h.data_page_header = DataPageHeader{num_values, encoding, Encoding::kRle, Encoding::kRle};
  }
  std::vector<uint8_t> page;
  EncodePageHeader(h, &page);
  const size_t header_size = page.size();
  AppendBytes(data.data(), data.size(), &page);
  chunk_uncompressed_ += header_size + body.size();
  return page;
}

Status ColumnWriter::CutPage() {
  if (page_values_ == 0) return Status::Ok();
  std::vector<uint8_t>& body = body_;
  body.clear();
  auto levels = [&](const std::vector<uint64_t>& lv, int16_t max) {
    if (max == 0) return;
    size_t at = body.size();
    body.resize(at + 4);
    RleBitPackedEncode(lv, BitWidth(static_cast<uint64_t>(max)), &body);
    uint32_t len = static_cast<uint32_t>(body.size() - at - 4);
    for (int i = 0; i < 4; ++i) body[at + static_cast<size_t>(i)] = static_cast<uint8_t>(len >> (8 * i));
  };
  levels(reps_, leaf_.max_rep);
  levels(defs_, leaf_.max_def);
  std::span<const uint8_t> page_body;
  if (mode_ == Mode::kPlain && leaf_.physical != PhysicalType::kBoolean && body.size() <= kLevelGap) {
    // Levels into the gap just before the values: the page is contiguous.
    uint8_t* start = plain_.data() + kLevelGap - body.size();
    if (!body.empty()) std::memcpy(start, body.data(), body.size());
    page_body = std::span<const uint8_t>(start, plain_.data() + plain_.size());
  } else {
    if (mode_ != Mode::kDictionary || !dict_indices_.empty()) EncodeValues(&body);
    page_body = body;
  }
  // A dictionary-mode page of nulls only has nothing to index: PLAIN.
  const bool dictionary = mode_ == Mode::kDictionary && !dict_indices_.empty();
  Encoding enc = leaf_.physical == PhysicalType::kBoolean ? Encoding::kPlain
                 : mode_ == Mode::kDelta                  ? Encoding::kDeltaBinaryPacked
                 : dictionary                             ? Encoding::kRleDictionary
                                                          : Encoding::kPlain;
  FRAZIL_ASSIGN_OR_RETURN(auto page, BuildPage(PageType::kDataPage, page_body, page_values_, enc));
  chunk_bytes_ += page.size();
  chunk_.push_back(std::move(page));
  bool seen = false;
  for (auto e : chunk_encodings_) seen = seen || e == enc;
  if (!seen) chunk_encodings_.push_back(enc);
  chunk_values_ += page_values_;
  chunk_nulls_ += page_nulls_;
  defs_.clear();
  reps_.clear();
  plain_.resize(kLevelGap);
  bools_.clear();
  ints_.clear();
  dict_indices_.clear();
  page_values_ = 0;
  page_nulls_ = 0;
  return Status::Ok();
}

Result<ColumnChunk> ColumnWriter::FlushChunk(OutputSink* sink) {
  FRAZIL_RETURN_IF_ERROR(CutPage());
  ColumnMetaData m;
  m.type = leaf_.physical;
  m.path_in_schema = leaf_.path;
  m.codec = options_.codec;
  m.num_values = chunk_values_;
  const uint64_t start = sink->Position();
  uint64_t dict_bytes = 0;
  if (dict_.size() > 0) {
    // The dictionary page goes first; it is built now that the chunk is done.
    FRAZIL_ASSIGN_OR_RETURN(auto page, BuildPage(PageType::kDictionaryPage, dict_.plain(),
                                                 static_cast<int32_t>(dict_.size()), Encoding::kPlain));
    dict_bytes = page.size();
    chunk_bytes_ += page.size();
    chunk_.insert(chunk_.begin(), std::move(page));
    m.dictionary_page_offset = static_cast<int64_t>(start);
    chunk_encodings_.push_back(Encoding::kPlain);  // the dictionary page
  }
  m.data_page_offset = static_cast<int64_t>(start + dict_bytes);
  if (leaf_.max_def > 0 || leaf_.max_rep > 0) chunk_encodings_.push_back(Encoding::kRle);  // levels
  m.encodings = chunk_encodings_;
  m.total_compressed_size = static_cast<int64_t>(chunk_bytes_);
  m.total_uncompressed_size = static_cast<int64_t>(chunk_uncompressed_);
  Statistics st;
  st.null_count = chunk_nulls_;
  if (chunk_minmax_.has_value()) {
    st.min_value = chunk_minmax_.EncodedMin();
    st.max_value = chunk_minmax_.EncodedMax();
  }
  m.statistics = st;
  for (const auto& page : chunk_) FRAZIL_RETURN_IF_ERROR(sink->Write(page));

  total_values_ += chunk_values_;
  total_nulls_ += chunk_nulls_;
  total_compressed_ += static_cast<int64_t>(chunk_bytes_);
  file_minmax_.Merge(chunk_minmax_);

  // Reset for the next row group.
  chunk_.clear();
  chunk_bytes_ = chunk_uncompressed_ = 0;
  chunk_values_ = chunk_nulls_ = 0;
  chunk_encodings_.clear();
  chunk_minmax_ = MinMax(leaf_);
  dict_.Reset();
  const ValueType t = leaf_.value.type;
  if (options_.dictionary_for_byte_arrays && (t == ValueType::kString || t == ValueType::kBinary))
    mode_ = Mode::kDictionary;

  ColumnChunk c;
  c.file_offset = 0;
  c.meta_data = std::move(m);
  return c;
}

}  // namespace frazil::parquet
