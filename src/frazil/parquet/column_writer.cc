#include "frazil/parquet/column_writer.h"

#include <cmath>
#include <cstring>

#include "frazil/common/coding.h"
#include "frazil/parquet/compression.h"
#include "frazil/parquet/encoding/bit_util.h"
#include "frazil/parquet/encoding/delta_binary_packed.h"
#include "frazil/parquet/encoding/rle_bit_packed.h"

namespace frazil::parquet {
namespace {

constexpr size_t kLevelGap = 4096;
// Room left in front of a page body for its header (41 bytes at most).
constexpr size_t kHeaderRoom = 64;

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
    UpdateBytes(v.bytes[i], v.bytes[i]);
  } else {
    int64_t x = v.ints[i];
    if (!has_ || x < min_i_) min_i_ = x;
    if (!has_ || x > max_i_) max_i_ = x;
  }
  has_ = true;
}

void MinMax::UpdateBytes(std::string_view lo, std::string_view hi) {
  if (!has_) {
    min_s_ = lo;
    max_s_ = hi;
    has_ = true;
    return;
  }
  if (lo.compare(min_s_) < 0) min_s_ = lo;
  if (hi.compare(max_s_) > 0) max_s_ = hi;
}

void MinMax::UpdateRange(const ValueVector& v, size_t begin, size_t end) {
  const ValueType t = leaf_->value.type;
  const bool nulls = !v.is_null.empty();
  if (IsByteLike(t)) {
    ByteBounds bounds;
    for (size_t i = begin; i < end; ++i) {
      if (!nulls || !v.is_null[i]) bounds.Add(v.bytes[i]);
    }
    if (!bounds.empty()) UpdateBytes(bounds.lo, bounds.hi);
    return;
  }
  if (t == ValueType::kFloat || t == ValueType::kDouble || t == ValueType::kDecimal) {
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

ColumnWriter::ColumnWriter(const LeafColumn& leaf, const WriterOptions& options, PageSpill* spill)
    : leaf_(leaf), options_(options), spill_(spill), chunk_minmax_(leaf), file_minmax_(leaf) {
  plain_.Resize(kLevelGap);
  const ValueType t = leaf.value.type;
  if (options.dictionary_for_byte_arrays && (t == ValueType::kString || t == ValueType::kBinary)) {
    mode_ = Mode::kDictionary;
  } else if (options.delta_for_integers && IsIntegerLike(t)) {
    mode_ = Mode::kDelta;
  } else {
    mode_ = Mode::kPlain;
  }
}

void ColumnWriter::AppendPlain(const ValueVector& vec, size_t i) {
  const ValueType t = leaf_.value.type;
  switch (leaf_.physical) {
    case PhysicalType::kInt32:
      EncodeFixed32(plain_.Extend(4), static_cast<uint32_t>(vec.ints[i]));
      return;
    case PhysicalType::kInt64:
      EncodeFixed64(plain_.Extend(8), static_cast<uint64_t>(vec.ints[i]));
      return;
    case PhysicalType::kFloat:
    case PhysicalType::kDouble: {
      std::string s = EncodeDouble(vec.doubles[i], leaf_.physical);
      plain_.Append(s.data(), s.size());
      return;
    }
    case PhysicalType::kByteArray: {
      const std::string_view s = vec.bytes[i];
      EncodeFixed32(plain_.Extend(4), static_cast<uint32_t>(s.size()));
      plain_.Append(s.data(), s.size());
      return;
    }
    case PhysicalType::kFixedLenByteArray: {
      if (t == ValueType::kDecimal) {
        std::string s = DecimalBytesBE(vec.decimals[i], leaf_.type_length);
        plain_.Append(s.data(), s.size());
      } else {
        plain_.Append(vec.bytes[i].data(), vec.bytes[i].size());
      }
      return;
    }
    default:
      return;  // booleans are bit-packed separately
  }
}

void ColumnWriter::AddPlainByteArrays(const ByteArrayVector& bytes, const std::vector<uint8_t>& is_null,
                                      size_t begin, size_t end) {
  // Room for the whole slice at once, then cut back to what was written
  // (null entries take none). Each value is compared for the statistics
  // right after it is copied, while it is in cache.
  const size_t start = plain_.size();
  uint8_t* const first = plain_.Extend(4 * (end - begin) + bytes.bytes_in(begin, end));
  uint8_t* p = first;
  ByteBounds bounds;
  for (size_t k = begin; k < end; ++k) {
    if (!is_null.empty() && is_null[k]) continue;
    const std::string_view s = bytes[k];
    EncodeFixed32(p, static_cast<uint32_t>(s.size()));
    if (!s.empty()) std::memcpy(p + 4, s.data(), s.size());
    p += 4 + s.size();
    bounds.Add(s);
  }
  plain_.Resize(start + static_cast<size_t>(p - first));
  if (!bounds.empty()) chunk_minmax_.UpdateBytes(bounds.lo, bounds.hi);
}

void ColumnWriter::AddValues(const ValueVector& vec, size_t begin, size_t end) {
  const bool nulls = !vec.is_null.empty();
  auto present = [&](size_t k) { return !nulls || !vec.is_null[k]; };
  if (mode_ == Mode::kDictionary) {
    // Every value of a dictionary page is in the dictionary: statistics need
    // only look at values as they are added to it.
    for (size_t k = begin; k < end; ++k) {
      if (!present(k)) continue;
      bool added = false;
      dict_indices_.push_back(dict_.IndexOf(vec.bytes[k], &added));
      if (added) {
        chunk_minmax_.Update(vec, k);
        if (dict_.plain().size() > options_.dictionary_bytes_limit) fallback_pending_ = true;
      }
    }
    return;
  }
  if (mode_ == Mode::kPlain && leaf_.physical == PhysicalType::kByteArray) {
    AddPlainByteArrays(vec.bytes, vec.is_null, begin, end);
    return;
  }
  chunk_minmax_.UpdateRange(vec, begin, end);
  if (leaf_.physical == PhysicalType::kBoolean) {
    for (size_t k = begin; k < end; ++k) {
      if (present(k)) bools_.push_back(vec.ints[k] != 0);
    }
    return;
  }
  if (mode_ == Mode::kDelta) {
    if (!nulls) {
      ints_.insert(ints_.end(), vec.ints.begin() + static_cast<ptrdiff_t>(begin),
                   vec.ints.begin() + static_cast<ptrdiff_t>(end));
      return;
    }
    for (size_t k = begin; k < end; ++k) {
      if (present(k)) ints_.push_back(vec.ints[k]);
    }
    return;
  }
  for (size_t k = begin; k < end; ++k) {
    if (present(k)) AppendPlain(vec, k);
  }
}

Status ColumnWriter::AddRows(const ValueVector& vec, size_t begin, size_t end) {
  // A slice at a time: levels, statistics and values each in a tight loop;
  // pages are cut between slices, so they pass the target by one slice at most.
  constexpr size_t kSlice = 256;
  const bool nulls = !vec.is_null.empty();
  const uint16_t max_def = static_cast<uint16_t>(leaf_.max_def);
  for (size_t r = begin; r < end;) {
    const size_t stop = std::min(end, r + kSlice);
    size_t null_count = 0;
    if (nulls) {
      for (size_t k = r; k < stop; ++k) null_count += vec.is_null[k] != 0;
    }
    if (max_def > 0) {
      const size_t at = defs_.size();
      defs_.resize(at + (stop - r), max_def);
      if (null_count > 0) {
        for (size_t k = r; k < stop; ++k) {
          if (vec.is_null[k]) defs_[at + (k - r)] = 0;
        }
      }
    }
    page_values_ += static_cast<int32_t>(stop - r);
    page_nulls_ += static_cast<int32_t>(null_count);
    AddValues(vec, r, stop);
    r = stop;
    FRAZIL_RETURN_IF_ERROR(MaybeCutPage());
  }
  return Status::Ok();
}

Status ColumnWriter::AddNested(std::span<const uint16_t> defs, std::span<const uint16_t> reps,
                               const ValueVector& vec, size_t value_begin, size_t value_end) {
  const uint16_t max_def = static_cast<uint16_t>(leaf_.max_def);
  if (max_def > 0) defs_.insert(defs_.end(), defs.begin(), defs.end());
  if (leaf_.max_rep > 0) reps_.insert(reps_.end(), reps.begin(), reps.end());
  size_t null_count = 0;
  for (uint16_t d : defs) null_count += d < max_def;
  page_values_ += static_cast<int32_t>(defs.size());
  page_nulls_ += static_cast<int32_t>(null_count);
  AddValues(vec, value_begin, value_end);
  return MaybeCutPage();
}

uint64_t ColumnWriter::EstimatePageBytes() const {
  return (defs_.size() + reps_.size()) / 4 + (plain_.size() - kLevelGap) + bools_.size() / 8 +
         ints_.size() * 2 + dict_indices_.size() * 2;
}

Status ColumnWriter::MaybeCutPage() {
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

Result<EncodedPage> ColumnWriter::BuildPage(PageType type, std::span<const uint8_t> body, PageBuffer* owner,
                                            int32_t num_values, Encoding encoding) {
  // The page's bytes go behind room for its header, which is encoded last,
  // once the compressed size is known.
  EncodedPage page;
  size_t body_offset = kHeaderRoom;
  size_t data_size = body.size();
  bool take_owner = false;
  if (options_.codec != Codec::kUncompressed) {
    // Straight into the page's own buffer, sized for the worst case, whose
    // unused tail is given back after.
    page.buffer.Resize(kHeaderRoom + MaxCompressedSize(options_.codec, body.size()));
    FRAZIL_ASSIGN_OR_RETURN(
        data_size, CompressTo(options_.codec, options_.compression_level, body,
                              std::span(page.buffer.data() + kHeaderRoom, page.buffer.size() - kHeaderRoom)));
    page.buffer.Resize(kHeaderRoom + data_size);
    page.buffer.ShrinkToFit();
  } else if (owner != nullptr && body.data() >= owner->data() + kHeaderRoom &&
             body.data() + body.size() == owner->data() + owner->size()) {
    // Uncompressed, at the end of a buffer with room in front: kept where it
    // is (taken below, once nothing can fail).
    body_offset = static_cast<size_t>(body.data() - owner->data());
    take_owner = true;
  } else {
    page.buffer.Resize(kHeaderRoom);
    page.buffer.Append(body.data(), body.size());
  }

  PageHeader h;
  h.type = type;
  h.uncompressed_page_size = static_cast<int32_t>(body.size());
  h.compressed_page_size = static_cast<int32_t>(data_size);
  if (type == PageType::kDictionaryPage) {
    h.dictionary_page_header = DictionaryPageHeader{num_values, Encoding::kPlain, false};
  } else {
    h.data_page_header = DataPageHeader{num_values, encoding, Encoding::kRle, Encoding::kRle};
  }
  header_.clear();
  EncodePageHeader(h, &header_);
  if (header_.size() > kHeaderRoom) return Status::Internal("Parquet page header larger than its room");
  if (take_owner) page.buffer = std::move(*owner);
  page.offset = body_offset - header_.size();
  std::memcpy(page.buffer.data() + page.offset, header_.data(), header_.size());
  chunk_uncompressed_ += header_.size() + body.size();
  return page;
}

Status ColumnWriter::CutPage() {
  if (page_values_ == 0) return Status::Ok();
  // Levels, each behind its u32 length.
  body_.clear();
  auto levels = [&](const std::vector<uint16_t>& lv, int16_t max) {
    if (max == 0) return;
    size_t at = body_.size();
    body_.resize(at + 4);
    RleBitPackedEncode(lv, BitWidth(static_cast<uint64_t>(max)), &body_);
    EncodeFixed32(body_.data() + at, static_cast<uint32_t>(body_.size() - at - 4));
  };
  levels(reps_, leaf_.max_rep);
  levels(defs_, leaf_.max_def);
  const size_t plain_size = plain_.size();
  PageBuffer* owner = nullptr;
  std::span<const uint8_t> page_body;
  if (mode_ == Mode::kPlain && leaf_.physical != PhysicalType::kBoolean &&
      kHeaderRoom + body_.size() <= kLevelGap) {
    // Levels into the gap just before the values: the page is contiguous.
    const size_t begin = kLevelGap - body_.size();
    if (!body_.empty()) std::memcpy(plain_.data() + begin, body_.data(), body_.size());
    owner = &plain_;
    page_body = plain_.span().subspan(begin);
  } else {
    if (mode_ != Mode::kDictionary || !dict_indices_.empty()) EncodeValues(&body_);
    page_body = body_;
  }
  // A dictionary-mode page of nulls only has nothing to index: PLAIN.
  const bool dictionary = mode_ == Mode::kDictionary && !dict_indices_.empty();
  Encoding enc = leaf_.physical == PhysicalType::kBoolean ? Encoding::kPlain
                 : mode_ == Mode::kDelta                  ? Encoding::kDeltaBinaryPacked
                 : dictionary                             ? Encoding::kRleDictionary
                                                          : Encoding::kPlain;
  FRAZIL_ASSIGN_OR_RETURN(auto page, BuildPage(PageType::kDataPage, page_body, owner, page_values_, enc));
  chunk_bytes_ += page.bytes().size();
  if (spill_ != nullptr) {
    FRAZIL_ASSIGN_OR_RETURN(const uint64_t at, spill_->Append(page.bytes()));
    spilled_.emplace_back(at, page.bytes().size());
    // The values' buffer, handed to the page, comes back for the next one.
    if (owner != nullptr && plain_.capacity() == 0) plain_ = std::move(page.buffer);
  } else {
    chunk_.push_back(std::move(page));
  }
  bool seen = false;
  for (auto e : chunk_encodings_) seen = seen || e == enc;
  if (!seen) chunk_encodings_.push_back(enc);
  chunk_values_ += page_values_;
  chunk_nulls_ += page_nulls_;
  defs_.clear();
  reps_.clear();
  // A buffer handed to the page is replaced by one about as large, so that
  // the next page does not regrow it step by step.
  if (plain_.capacity() == 0) plain_.Reserve(plain_size + plain_size / 4);
  plain_.Resize(kLevelGap);
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
    FRAZIL_ASSIGN_OR_RETURN(auto page, BuildPage(PageType::kDictionaryPage, dict_.plain(), nullptr,
                                                 static_cast<int32_t>(dict_.size()), Encoding::kPlain));
    dict_bytes = page.bytes().size();
    chunk_bytes_ += dict_bytes;
    // Written now, ahead of the data pages; the rest of the chunk's
    // metadata does not depend on where they come from.
    FRAZIL_RETURN_IF_ERROR(sink->Write(page.bytes()));
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
  for (const auto& page : chunk_) FRAZIL_RETURN_IF_ERROR(sink->Write(page.bytes()));
  for (const auto& [at, size] : spilled_) FRAZIL_RETURN_IF_ERROR(spill_->CopyTo(at, size, sink));

  total_values_ += chunk_values_;
  total_nulls_ += chunk_nulls_;
  total_compressed_ += static_cast<int64_t>(chunk_bytes_);
  file_minmax_.Merge(chunk_minmax_);

  // Reset for the next row group.
  chunk_.clear();
  spilled_.clear();
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
