// Columnar in-memory rows: what the writer takes and the reader returns.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "frazil/parquet/schema.h"

namespace frazil::parquet {

// Byte-array values stored back to back, with offsets: one allocation for
// a whole column instead of one per value. Reads like a vector of strings.
class ByteArrayVector {
 public:
  size_t size() const { return offsets_.size() - 1; }
  bool empty() const { return size() == 0; }
  std::string_view operator[](size_t i) const {
    return {reinterpret_cast<const char*>(data_.data()) + offsets_[i], offsets_[i + 1] - offsets_[i]};
  }
  std::string_view back() const { return (*this)[size() - 1]; }
  void push_back(std::string_view v) { append(v.data(), v.size()); }
  void emplace_back() { offsets_.push_back(data_.size()); }
  void emplace_back(const char* p, size_t n) { append(p, n); }
  void append(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    data_.insert(data_.end(), b, b + n);
    offsets_.push_back(data_.size());
  }
  void pop_back() {
    offsets_.pop_back();
    data_.resize(offsets_.back());
  }
  void reserve(size_t n) { offsets_.reserve(n + 1); }
  void reserve_bytes(size_t n) { data_.reserve(n); }
  void clear() {
    data_.clear();
    offsets_.assign(1, 0);
  }
  size_t total_bytes() const { return data_.size(); }
  // Bytes of values [begin, end).
  size_t bytes_in(size_t begin, size_t end) const { return offsets_[end] - offsets_[begin]; }

 private:
  std::vector<uint8_t> data_;
  std::vector<uint64_t> offsets_{0};
};

// Values of one primitive type. Exactly one of the value vectors is used,
// chosen by the ValueType: ints for boolean/int/long/date/timestamps,
// doubles for float/double, bytes for string/binary/fixed/uuid,
// decimals (unscaled) for decimal. Null entries hold a default value.
struct ValueVector {
  std::vector<uint8_t> is_null;  // empty: no nulls; else one flag per entry
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  ByteArrayVector bytes;
  std::vector<__int128> decimals;

  bool IsNull(size_t i) const { return !is_null.empty() && is_null[i] != 0; }
  size_t size(ValueType t) const;
  void Reserve(ValueType t, size_t n);
  // Appends entry i of `src` (same type), or a default value (for a null).
  void AppendFrom(const ValueVector& src, size_t i, ValueType t);
  void AppendDefault(ValueType t);
};

// One column of a batch, laid out as Arrow lays out arrays, shaped by its
// FieldSchema. A column has "slots": one per row at the top level, one
// per entry of the parent list or map below it.
// - primitive: `values`, one entry per slot, nulls in values.is_null.
// - struct: `is_null` (one flag per slot; empty: no nulls) and `children`,
//   one per field, each with one slot per slot of the struct (slots under
//   a null struct are written as null whatever they hold).
// - list: `offsets` (slots + 1) index the element's entries; `is_null`
//   marks null slots (a null list differs from an empty one). A primitive
//   element is in `values`, any other in children[0].
// - map: as a list, with the (primitive) keys in `keys`, and the values in
//   `values` if primitive, else in children[0].
// Lists and maps of primitives (the flat shapes) thus use no children.
struct ColumnData {
  ValueVector values;
  std::vector<int32_t> offsets;
  std::vector<uint8_t> is_null;
  ValueVector keys;
  std::vector<ColumnData> children{};
};

struct RowBatch {
  size_t num_rows = 0;
  std::vector<ColumnData> columns;  // in FileSchema order (or projection order, from the reader)
};

// Appends row `row` of `src` to `dst` (both shaped by `fields`, one per
// column), nulls and nested values included: for reordering rows, e.g.
// sorting a data file's rows by a column.
void AppendRow(const std::vector<FieldSchema>& fields, const RowBatch& src, size_t row, RowBatch* dst);
// The same for one column: slot `slot` of `src` appended to `dst`, which
// holds `dst_slots` slots.
void AppendColumnRow(const FieldSchema& f, const ColumnData& src, size_t slot, size_t dst_slots,
                     ColumnData* dst);

}  // namespace frazil::parquet
