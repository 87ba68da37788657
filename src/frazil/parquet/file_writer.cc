#include "frazil/parquet/file_writer.h"

#include <algorithm>
#include <functional>

#include "frazil/common/coding.h"

namespace frazil::parquet {
namespace {

constexpr char kMagic[4] = {'P', 'A', 'R', '1'};
constexpr size_t kRowsPerSlice = 4096;  // row groups are checked between slices
// List and map rows go to their column writers in slices of at most this
// many rows or (after the row that reaches it) entries.
constexpr size_t kNestedRowsPerSlice = 256;
constexpr size_t kNestedEntriesPerSlice = 256;

// `present` (if given) flags the entries whose parent is present: a
// required entry may be null only where it is not.
Status CheckValues(const ValueVector& v, const ValueSpec& spec, size_t n, bool required,
                   const std::string& what, const std::vector<uint8_t>* present = nullptr) {
  if (v.size(spec.type) != n) {
    return Status::InvalidArgument(what + ": " + std::to_string(v.size(spec.type)) + " " +
                                   ValueTypeName(spec.type) + " values where " + std::to_string(n) +
                                   " are expected");
  }
  if (!v.is_null.empty() && v.is_null.size() != n)
    return Status::InvalidArgument(what + ": null flags do not match the values");
  // Skip the entry-by-entry checks below when no entry can fail them: the
  // common case, and a pass over every value otherwise.
  const bool null_may_fail =
      required && std::any_of(v.is_null.begin(), v.is_null.end(), [](uint8_t f) { return f != 0; });
  bool values_may_fail = true;
  switch (spec.type) {
    case ValueType::kString:
    case ValueType::kBinary:
      values_may_fail = v.bytes.total_bytes() > INT32_MAX;
      break;
    case ValueType::kFixed:
    case ValueType::kUuid:
    case ValueType::kInt32:
    case ValueType::kDate:
    case ValueType::kDecimal:
      break;
    default:
      values_may_fail = false;
      break;
  }
  if (!null_may_fail && !values_may_fail) return Status::Ok();
  for (size_t i = 0; i < n; ++i) {
    if (v.IsNull(i)) {
      if (required && (present == nullptr || (*present)[i]))
        return Status::InvalidArgument(what + " is required but entry " + std::to_string(i) + " is null");
      continue;
    }
    switch (spec.type) {
      case ValueType::kFixed:
      case ValueType::kUuid: {
        size_t want = spec.type == ValueType::kUuid ? 16 : static_cast<size_t>(spec.fixed_length);
        if (v.bytes[i].size() != want) {
          return Status::InvalidArgument(what + ": entry " + std::to_string(i) + " has " +
                                         std::to_string(v.bytes[i].size()) + " bytes, the type needs " +
                                         std::to_string(want));
        }
        break;
      }
      case ValueType::kInt32:
      case ValueType::kDate:
        if (v.ints[i] < INT32_MIN || v.ints[i] > INT32_MAX) {
          return Status::InvalidArgument(what + ": entry " + std::to_string(i) + " does not fit in 32 bits");
        }
        break;
      case ValueType::kString:
      case ValueType::kBinary:
        if (v.bytes[i].size() > INT32_MAX) return Status::InvalidArgument(what + ": value over 2 GiB");
        break;
      case ValueType::kDecimal: {
        __int128 limit = 1;
        for (int k = 0; k < spec.precision; ++k) limit *= 10;
        if (v.decimals[i] >= limit || v.decimals[i] <= -limit) {
          return Status::InvalidArgument(what + ": entry " + std::to_string(i) + " has more than " +
                                         std::to_string(spec.precision) + " digits");
        }
        break;
      }
      default:
        break;
    }
  }
  return Status::Ok();
}

// Checks a column's slots [0, n) against its field, recursively: sizes,
// offsets, and nulls only where the field may be null (`present` as above).
Status ValidateNode(const FieldSchema& f, const ColumnData* col, const ValueVector* prim, size_t n,
                    const std::vector<uint8_t>* present, const std::string& what) {
  using S = FieldSchema::Shape;
  if (f.shape == S::kPrimitive) return CheckValues(*prim, f.value, n, f.required, what, present);
  if (!col->is_null.empty() && col->is_null.size() != n)
    return Status::InvalidArgument(what + ": null flags do not match the rows");
  const bool nulls = !col->is_null.empty();
  for (size_t r = 0; r < n && nulls; ++r) {
    if (col->is_null[r] && f.required && (present == nullptr || (*present)[r]))
      return Status::InvalidArgument(what + " is required but row " + std::to_string(r) + " is null");
  }
  // Which slots of the children have a present parent (null: all).
  std::vector<uint8_t> below;
  const std::vector<uint8_t>* below_ptr = nullptr;
  if (f.shape == S::kStruct) {
    if (col->children.size() != f.children.size()) {
      return Status::InvalidArgument(what + ": " + std::to_string(col->children.size()) + " children for " +
                                     std::to_string(f.children.size()) + " struct fields");
    }
    if (nulls || present) {
      below.resize(n);
      for (size_t r = 0; r < n; ++r)
        below[r] = (present == nullptr || (*present)[r]) && !(nulls && col->is_null[r]);
      below_ptr = &below;
    }
    for (size_t k = 0; k < f.children.size(); ++k) {
      const FieldSchema& c = f.children[k];
      FRAZIL_RETURN_IF_ERROR(
          ValidateNode(c, &col->children[k], &col->children[k].values, n, below_ptr, what + "." + c.name));
    }
    return Status::Ok();
  }
  if (col->offsets.size() != n + 1 || col->offsets[0] != 0) {
    return Status::InvalidArgument(what + ": needs " + std::to_string(n + 1) + " offsets starting at 0");
  }
  for (size_t r = 0; r < n; ++r) {
    if (col->offsets[r + 1] < col->offsets[r]) return Status::InvalidArgument(what + ": offsets decrease");
    if (nulls && col->is_null[r] && col->offsets[r + 1] != col->offsets[r])
      return Status::InvalidArgument(what + ": null row " + std::to_string(r) + " has entries");
  }
  const auto entries = static_cast<size_t>(col->offsets[n]);
  if (present) {
    below.reserve(entries);
    for (size_t r = 0; r < n; ++r)
      below.insert(below.end(), static_cast<size_t>(col->offsets[r + 1] - col->offsets[r]), (*present)[r]);
    below_ptr = &below;
  }
  const bool is_map = f.shape == S::kMap;
  if (f.children.size() != (is_map ? 2u : 1u)) return Status::InvalidArgument(what + ": malformed schema");
  if (is_map) {
    FRAZIL_RETURN_IF_ERROR(
        CheckValues(col->keys, f.children[0].value, entries, true, what + " key", below_ptr));
  }
  const FieldSchema& e = f.children.back();
  if (e.is_primitive())
    return ValidateNode(e, nullptr, &col->values, entries, below_ptr,
                        what + (is_map ? " value" : " element"));
  if (col->children.size() != 1)
    return Status::InvalidArgument(what + ": needs one child column for its " +
                                   (is_map ? "values" : "elements"));
  return ValidateNode(e, &col->children[0], nullptr, entries, below_ptr,
                      what + (is_map ? " value" : " element"));
}

// Appends the level entries (and present values) of one slot of the leaf
// below chain node k. `def` and `rep` are the levels of the slot's parent
// and of the slot's first entry; `depth_rep` counts the lists and maps
// above the node.
class Shredder {
 public:
  Shredder(const std::vector<const FieldSchema*>& nodes, const std::vector<size_t>& child, ValueType type,
           std::vector<uint16_t>* defs, std::vector<uint16_t>* reps, ValueVector* out)
      : nodes_(nodes), child_(child), type_(type), defs_(defs), reps_(reps), out_(out) {}

  void Slot(size_t k, const ColumnData* col, const ValueVector* prim, size_t i, uint16_t def, uint16_t rep,
            uint16_t depth_rep) {
    const FieldSchema& f = *nodes_[k];
    const uint16_t opt = f.required ? 0 : 1;
    if (f.is_primitive()) {
      if (prim->IsNull(i)) return Emit(def, rep);
      Emit(static_cast<uint16_t>(def + opt), rep);
      out_->AppendFrom(*prim, i, type_);
      return;
    }
    if (!col->is_null.empty() && col->is_null[i]) return Emit(def, rep);
    def = static_cast<uint16_t>(def + opt);
    const size_t c = child_[k];
    const FieldSchema& child = f.children[c];
    if (f.shape == FieldSchema::Shape::kStruct) {
      const ColumnData& cd = col->children[c];
      return Slot(k + 1, &cd, &cd.values, i, def, rep, depth_rep);
    }
    const auto lo = static_cast<size_t>(col->offsets[i]), hi = static_cast<size_t>(col->offsets[i + 1]);
    if (lo == hi) return Emit(def, rep);  // empty
    const ColumnData* cc = nullptr;
    const ValueVector* cp = nullptr;
    if (f.shape == FieldSchema::Shape::kMap && c == 0) {
      cp = &col->keys;
    } else if (child.is_primitive()) {
      cp = &col->values;
    } else {
      cc = &col->children[0];
    }
    const auto inner = static_cast<uint16_t>(depth_rep + 1);
    for (size_t j = lo; j < hi; ++j)
      Slot(k + 1, cc, cp, j, static_cast<uint16_t>(def + 1), j == lo ? rep : inner, inner);
  }

 private:
  void Emit(uint16_t def, uint16_t rep) {
    defs_->push_back(def);
    reps_->push_back(rep);
  }
  const std::vector<const FieldSchema*>& nodes_;
  const std::vector<size_t>& child_;
  ValueType type_;
  std::vector<uint16_t>*defs_, *reps_;
  ValueVector* out_;
};

void ClearValues(ValueVector* v) {
  v->is_null.clear();
  v->ints.clear();
  v->doubles.clear();
  v->bytes.clear();
  v->decimals.clear();
}

}  // namespace

FileWriter::FileWriter(FileSchema schema, WriterOptions options, std::unique_ptr<OutputSink> sink)
    : schema_(std::move(schema)), options_(std::move(options)), sink_(std::move(sink)) {}

Result<std::unique_ptr<FileWriter>> FileWriter::Open(FileSchema schema, WriterOptions options,
                                                     std::unique_ptr<OutputSink> sink) {
  if (options.codec != Codec::kZstd && options.codec != Codec::kSnappy && options.codec != Codec::kGzip &&
      options.codec != Codec::kUncompressed) {
    return Status::InvalidArgument(
        "the Parquet writer supports the zstd, snappy, gzip and uncompressed codecs");
  }
  if (options.page_bytes == 0 || options.row_group_bytes == 0) {
    return Status::InvalidArgument("page and row group byte targets must be positive");
  }
  Normalize(&schema);
  std::unique_ptr<FileWriter> w(new FileWriter(std::move(schema), std::move(options), std::move(sink)));
  if (!w->options_.spill_dir.empty()) {
    FRAZIL_ASSIGN_OR_RETURN(w->spill_, PageSpill::Open(w->options_.spill_dir));
  }
  FRAZIL_ASSIGN_OR_RETURN(w->elements_, ToParquetSchema(w->schema_, &w->leaves_));
  // The leaves' chains, found in the order ToParquetSchema lays leaves out.
  for (const auto& f : w->schema_.fields) {
    LeafChain chain;
    std::function<void(const FieldSchema&)> walk = [&](const FieldSchema& n) {
      chain.nodes.push_back(&n);
      if (n.is_primitive()) {
        w->chains_.push_back(chain);
      } else {
        for (size_t k = 0; k < n.children.size(); ++k) {
          chain.child.push_back(k);
          walk(n.children[k]);
          chain.child.pop_back();
        }
      }
      chain.nodes.pop_back();
    };
    walk(f);
  }
  if (w->chains_.size() != w->leaves_.size())
    return Status::Internal("Parquet writer: leaves and schema disagree");
  for (const auto& leaf : w->leaves_)
    w->writers_.push_back(std::make_unique<ColumnWriter>(leaf, w->options_, w->spill_.get()));
  FRAZIL_RETURN_IF_ERROR(w->sink_->Write(std::span(reinterpret_cast<const uint8_t*>(kMagic), 4)));
  return w;
}

Status FileWriter::Validate(const RowBatch& batch) const {
  if (batch.columns.size() != schema_.fields.size()) {
    return Status::InvalidArgument("batch has " + std::to_string(batch.columns.size()) +
                                   " columns, the schema " + std::to_string(schema_.fields.size()));
  }
  const size_t n = batch.num_rows;
  for (size_t c = 0; c < schema_.fields.size(); ++c) {
    const FieldSchema& f = schema_.fields[c];
    const ColumnData& d = batch.columns[c];
    FRAZIL_RETURN_IF_ERROR(ValidateNode(f, &d, &d.values, n, nullptr, "column " + f.name));
  }
  return Status::Ok();
}

Status FileWriter::Write(const RowBatch& batch) {
  if (closed_) return Status::Closed("Parquet writer is closed");
  FRAZIL_RETURN_IF_ERROR(Validate(batch));
  for (size_t begin = 0; begin < batch.num_rows; begin += kRowsPerSlice) {
    size_t end = std::min(batch.num_rows, begin + kRowsPerSlice);
    FRAZIL_RETURN_IF_ERROR(WriteRows(batch, begin, end));
    uint64_t buffered = 0;
    for (const auto& w : writers_) buffered += w->BufferedBytes();
    if (buffered >= options_.row_group_bytes) FRAZIL_RETURN_IF_ERROR(FlushRowGroup());
  }
  return Status::Ok();
}

// Shreds rows [begin, end) into definition/repetition levels per leaf.
Status FileWriter::WriteRows(const RowBatch& batch, size_t begin, size_t end) {
  for (size_t l = 0; l < leaves_.size(); ++l) {
    const LeafColumn& leaf = leaves_[l];
    const FieldSchema& f = schema_.fields[leaf.field_index];
    const ColumnData& d = batch.columns[leaf.field_index];
    ColumnWriter& w = *writers_[l];
    if (f.shape == FieldSchema::Shape::kPrimitive) {
      FRAZIL_RETURN_IF_ERROR(w.AddRows(d.values, begin, end));
      continue;
    }
    if (f.shape == FieldSchema::Shape::kStruct || !f.has_primitive_values()) {
      FRAZIL_RETURN_IF_ERROR(ShredRows(l, d, begin, end));
      continue;
    }
    // Lists and maps: the levels of a slice of rows at a time, handed over
    // with the slice's elements; pages are cut between slices.
    const ValueVector& vec = leaf.role == LeafColumn::Role::kMapKey ? d.keys : d.values;
    const uint16_t present = f.required ? 0 : 1;  // level of a present but empty list or map
    const uint16_t null_element = static_cast<uint16_t>(present + 1);
    const uint16_t max_def = static_cast<uint16_t>(leaf.max_def);
    for (size_t r = begin; r < end;) {
      const size_t first = r;
      defs_.clear();
      reps_.clear();
      while (r < end && r - first < kNestedRowsPerSlice && defs_.size() < kNestedEntriesPerSlice) {
        const size_t lo = static_cast<size_t>(d.offsets[r]), hi = static_cast<size_t>(d.offsets[r + 1]);
        if (lo == hi) {
          // A null row, or an empty list or map: one entry without a value.
          defs_.push_back(!d.is_null.empty() && d.is_null[r] ? 0 : present);
          reps_.push_back(0);
        } else {
          for (size_t j = lo; j < hi; ++j) {
            defs_.push_back(vec.IsNull(j) ? null_element : max_def);
            reps_.push_back(j == lo ? 0 : 1);
          }
        }
        ++r;
      }
      FRAZIL_RETURN_IF_ERROR(w.AddNested(defs_, reps_, vec, static_cast<size_t>(d.offsets[first]),
                                         static_cast<size_t>(d.offsets[r])));
    }
  }
  rows_in_group_ += static_cast<int64_t>(end - begin);
  total_rows_ += static_cast<int64_t>(end - begin);
  return Status::Ok();
}

Status FileWriter::ShredRows(size_t leaf, const ColumnData& column, size_t begin, size_t end) {
  const LeafChain& chain = chains_[leaf];
  ColumnWriter& w = *writers_[leaf];
  Shredder shred(chain.nodes, chain.child, leaves_[leaf].value.type, &defs_, &reps_, &gathered_);
  // A slice of rows at a time (as for flat lists), so pages are cut often enough.
  for (size_t r = begin; r < end;) {
    const size_t first = r;
    defs_.clear();
    reps_.clear();
    ClearValues(&gathered_);
    while (r < end && r - first < kNestedRowsPerSlice && defs_.size() < kNestedEntriesPerSlice) {
      shred.Slot(0, &column, &column.values, r, 0, 0, 0);
      ++r;
    }
    FRAZIL_RETURN_IF_ERROR(w.AddNested(defs_, reps_, gathered_, 0, gathered_.size(leaves_[leaf].value.type)));
  }
  return Status::Ok();
}

Status FileWriter::FlushRowGroup() {
  if (rows_in_group_ == 0) return Status::Ok();
  RowGroup g;
  g.num_rows = rows_in_group_;
  g.file_offset = static_cast<int64_t>(sink_->Position());
  int64_t compressed = 0;
  for (auto& w : writers_) {
    FRAZIL_ASSIGN_OR_RETURN(ColumnChunk c, w->FlushChunk(sink_.get()));
    g.total_byte_size += c.meta_data->total_uncompressed_size;
    compressed += c.meta_data->total_compressed_size;
    g.columns.push_back(std::move(c));
  }
  if (spill_) FRAZIL_RETURN_IF_ERROR(spill_->Reset());
  g.total_compressed_size = compressed;
  g.ordinal = static_cast<int16_t>(row_groups_.size());
  row_groups_.push_back(std::move(g));
  rows_in_group_ = 0;
  return Status::Ok();
}

Result<WriteResult> FileWriter::Close() {
  if (closed_) return Status::Closed("Parquet writer is closed");
  closed_ = true;
  FRAZIL_RETURN_IF_ERROR(FlushRowGroup());
  FileMetaData meta;
  meta.version = 1;
  meta.schema = elements_;
  meta.num_rows = total_rows_;
  meta.row_groups = row_groups_;
  meta.key_value_metadata = options_.key_value_metadata;
  meta.created_by = options_.created_by;
  meta.column_orders_type_defined.assign(leaves_.size(), true);
  std::vector<uint8_t> footer;
  EncodeFileMetaData(meta, &footer);
  uint8_t tail[8];
  EncodeFixed32(tail, static_cast<uint32_t>(footer.size()));
  std::memcpy(tail + 4, kMagic, 4);
  FRAZIL_RETURN_IF_ERROR(sink_->Write(footer));
  FRAZIL_RETURN_IF_ERROR(sink_->Write(std::span(tail, 8)));
  WriteResult result;
  result.file_size = sink_->Position();
  FRAZIL_RETURN_IF_ERROR(sink_->Close());
  result.record_count = total_rows_;
  for (const auto& g : row_groups_) result.split_offsets.push_back(*g.file_offset);
  for (size_t l = 0; l < leaves_.size(); ++l) {
    const ColumnWriter& w = *writers_[l];
    ColumnMetrics m;
    m.field_id = leaves_[l].field_id;
    m.value = leaves_[l].value;
    m.value_count = w.total_values();
    m.null_count = w.total_nulls();
    m.column_size = w.total_compressed();
    if (w.file_minmax().has_value()) {
      m.lower_bound = w.file_minmax().EncodedMin();
      m.upper_bound = w.file_minmax().EncodedMax();
    }
    result.columns.push_back(std::move(m));
  }
  return result;
}

}  // namespace frazil::parquet
