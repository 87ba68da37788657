#include "frazil/parquet/file_reader.h"

#include <algorithm>
#include <cstring>

#include "frazil/common/coding.h"
#include "frazil/parquet/column_reader.h"

namespace frazil::parquet {
namespace {

constexpr uint32_t kMaxFooterBytes = 256u << 20;
// Read from a file's end at open: footers of a few row groups fit.
constexpr uint64_t kFooterReadBytes = 64u << 10;

// Where a column chunk's first page is, checked to lie in the data.
Result<uint64_t> ChunkStart(const ColumnMetaData& m, uint64_t data_end) {
  int64_t start = m.data_page_offset;
  if (m.dictionary_page_offset && *m.dictionary_page_offset > 0 && *m.dictionary_page_offset < start) {
    start = *m.dictionary_page_offset;
  }
  if (start < 4 || m.total_compressed_size < 0 || static_cast<uint64_t>(start) > data_end ||
      static_cast<uint64_t>(m.total_compressed_size) > data_end - static_cast<uint64_t>(start)) {
    return Status::Corruption("column chunk at " + std::to_string(start) + " of " +
                              std::to_string(m.total_compressed_size) + " bytes lies outside the data");
  }
  if (m.num_values < 0) return Status::Corruption("negative value count");
  return static_cast<uint64_t>(start);
}

// Assembles a field nested beyond the flat shapes from its leaves' levels
// (the reverse of the writer's shredding). A node's slots are the level
// entries of its first leaf with def >= `rep_def` (the level at which the
// innermost list or map entry above it exists) and rep <= `rep_level` (the
// lists and maps above it); a slot is present when def reaches the node's
// own level. Every leaf of a struct must agree on the slots.
class Assembler {
 public:
  Assembler(const std::vector<LeafColumn>& leaves, const std::vector<size_t>& leaf_ids,
            std::vector<DecodedChunk>* chunks)
      : leaves_(leaves), leaf_ids_(leaf_ids), chunks_(*chunks) {}

  Status Field(const FieldSchema& f, size_t num_rows, ColumnData* out) {
    FRAZIL_RETURN_IF_ERROR(Node(f, 0, 0, 0, num_rows, out, &out->values));
    if (next_ != chunks_.size()) return Status::Corruption("leaves left over after the field");
    return Status::Ok();
  }

 private:
  static uint64_t At(const std::vector<uint64_t>& v, size_t i) { return v.empty() ? 0 : v[i]; }

  Result<DecodedChunk*> First() {
    if (next_ >= chunks_.size()) return Status::Corruption("the schema has more leaves than were read");
    DecodedChunk& c = chunks_[next_];
    const LeafColumn& leaf = leaves_[leaf_ids_[next_]];
    const auto n = static_cast<size_t>(c.num_values);
    if ((leaf.max_def > 0 && c.defs.size() != n) || (leaf.max_rep > 0 && c.reps.size() != n))
      return Status::Corruption("levels missing");
    return &c;
  }

  Status Node(const FieldSchema& f, uint64_t parent_def, uint64_t rep_level, uint64_t rep_def, size_t slots,
              ColumnData* col, ValueVector* prim) {
    using S = FieldSchema::Shape;
    const uint64_t def = parent_def + (f.required ? 0 : 1);
    FRAZIL_ASSIGN_OR_RETURN(DecodedChunk * c, First());
    const auto levels = static_cast<size_t>(c->num_values);
    if (f.shape == S::kPrimitive) {
      const LeafColumn& leaf = leaves_[leaf_ids_[next_++]];
      if (def != static_cast<uint64_t>(leaf.max_def) || rep_level != static_cast<uint64_t>(leaf.max_rep))
        return Status::Corruption("column " + f.name + ": levels disagree with the schema");
      const ValueType vt = f.value.type;
      const size_t present = c->values.size(vt);
      prim->Reserve(vt, std::min(slots, levels));
      size_t next = 0, count = 0;
      bool any_null = false;
      for (size_t i = 0; i < levels; ++i) {
        const uint64_t d = At(c->defs, i);
        if (d > def || At(c->reps, i) > rep_level)
          return Status::Corruption("level above the column's maximum");
        if (d < rep_def) continue;
        if (count++ >= slots)
          return Status::Corruption("column " + f.name + ": more entries than its parent has");
        if (d == def) {
          if (next >= present) return Status::Corruption("fewer values than definition levels say");
          if (any_null) prim->is_null.push_back(0);
          prim->AppendFrom(c->values, next++, vt);
        } else {
          if (!any_null) prim->is_null.assign(count - 1, 0);
          any_null = true;
          prim->is_null.push_back(1);
          prim->AppendDefault(vt);
        }
      }
      if (count != slots)
        return Status::Corruption("column " + f.name + ": fewer entries than its parent has");
      if (next != present) return Status::Corruption("more values than definition levels say");
      return Status::Ok();
    }
    // The node's slots and nulls; for lists and maps, their entries.
    col->is_null.clear();
    col->offsets.clear();
    const bool repeated = f.shape != S::kStruct;
    if (repeated) col->offsets.push_back(0);
    size_t count = 0, entries = 0;
    bool any_null = false;
    for (size_t i = 0; i < levels; ++i) {
      const uint64_t d = At(c->defs, i), r = At(c->reps, i);
      if (d >= rep_def && r <= rep_level) {
        if (count > 0 && repeated) col->offsets.push_back(static_cast<int32_t>(entries));
        if (count++ >= slots)
          return Status::Corruption("column " + f.name + ": more entries than its parent has");
        const bool null = d < def;
        col->is_null.push_back(null);
        any_null |= null;
      } else if (repeated && r == rep_level + 1 && d <= def) {
        return Status::Corruption("column " + f.name + ": a repeated entry without a parent");
      }
      if (repeated && d > def && r <= rep_level + 1) {
        if (count == 0) return Status::Corruption("column " + f.name + ": an entry before its first row");
        if (++entries > static_cast<size_t>(INT32_MAX)) return Status::Corruption("too many entries");
      }
    }
    if (repeated && count > 0) col->offsets.push_back(static_cast<int32_t>(entries));
    if (count != slots) return Status::Corruption("column " + f.name + ": fewer entries than its parent has");
    if (!any_null) col->is_null.clear();
    if (f.shape == S::kStruct) {
      col->children.resize(f.children.size());
      for (size_t k = 0; k < f.children.size(); ++k) {
        ColumnData& cd = col->children[k];
        FRAZIL_RETURN_IF_ERROR(Node(f.children[k], def, rep_level, rep_def, slots, &cd, &cd.values));
      }
      return Status::Ok();
    }
    const uint64_t inner = def + 1;
    if (f.shape == S::kMap) {
      FRAZIL_RETURN_IF_ERROR(Node(f.children[0], inner, rep_level + 1, inner, entries, nullptr, &col->keys));
    }
    const FieldSchema& e = f.children.back();
    if (e.is_primitive()) return Node(e, inner, rep_level + 1, inner, entries, nullptr, &col->values);
    col->children.resize(1);
    return Node(e, inner, rep_level + 1, inner, entries, &col->children[0], &col->children[0].values);
  }

  const std::vector<LeafColumn>& leaves_;
  const std::vector<size_t>& leaf_ids_;
  std::vector<DecodedChunk>& chunks_;
  size_t next_ = 0;  // the chunk of the next leaf
};

// A top-level field's rows from the decoded chunks of its leaves (one for
// a primitive; element, or key and value, for a list or map; any number
// for nested fields).
Status AssembleField(const FieldSchema& f, const std::vector<LeafColumn>& leaves_,
                     const std::vector<size_t>& leaf_ids, size_t num_rows,
                     std::vector<DecodedChunk>* chunks_in, ColumnData* out) {
  std::vector<DecodedChunk>& chunks = *chunks_in;
  const ValueType vt = f.value.type;
  if (f.shape == FieldSchema::Shape::kPrimitive) {
    DecodedChunk& c = chunks[0];
    const LeafColumn& leaf = leaves_[leaf_ids[0]];
    if (static_cast<size_t>(c.num_values) != num_rows)
      return Status::Corruption("value count differs from the row count");
    const size_t present = c.values.size(vt);
    if (present == num_rows) {
      out->values = std::move(c.values);  // no nulls: the decoded values are the column
      return Status::Ok();
    }
    out->values.Reserve(vt, num_rows);
    out->values.is_null.assign(num_rows, 0);
    size_t next = 0;
    for (size_t r = 0; r < num_rows; ++r) {
      if (c.defs[r] == static_cast<uint64_t>(leaf.max_def)) {
        if (next >= present) return Status::Corruption("fewer values than definition levels say");
        out->values.AppendFrom(c.values, next++, vt);
      } else {
        out->values.AppendDefault(vt);
        out->values.is_null[r] = 1;
      }
    }
    if (next != present) return Status::Corruption("more values than definition levels say");
    return Status::Ok();
  }
  if (f.shape == FieldSchema::Shape::kStruct || !f.has_primitive_values())
    return Assembler(leaves_, leaf_ids, chunks_in).Field(f, num_rows, out);
  // Lists and maps of primitives: the structure comes from the element (or value) leaf.
  const bool is_map = f.shape == FieldSchema::Shape::kMap;
  DecodedChunk& vc = chunks[is_map ? 1 : 0];
  const LeafColumn& vleaf = leaves_[leaf_ids[is_map ? 1 : 0]];
  const int16_t d0 = f.required ? 0 : 1;
  const size_t levels = static_cast<size_t>(vc.num_values);
  if (vc.defs.size() != levels || vc.reps.size() != levels) return Status::Corruption("levels missing");
  // Pass 1: rows, offsets and which entries are null, from the levels alone.
  std::vector<uint8_t> entry_null;
  entry_null.reserve(levels);
  out->offsets.reserve(num_rows + 1);
  out->offsets.push_back(0);
  out->is_null.reserve(num_rows);
  size_t rows = 0, entries = 0;
  bool any_null_row = false, any_null_entry = false;
  for (size_t i = 0; i < levels; ++i) {
    const uint64_t def = vc.defs[i];
    if (vc.reps[i] == 0) {
      if (rows > 0) out->offsets.push_back(static_cast<int32_t>(entries));
      ++rows;
      const bool null_row = def < static_cast<uint64_t>(d0);
      out->is_null.push_back(null_row);
      any_null_row |= null_row;
      if (null_row || def == static_cast<uint64_t>(d0)) continue;  // null or empty
    } else if (def <= static_cast<uint64_t>(d0) || rows == 0) {
      return Status::Corruption("repeated entry without a parent");
    }
    const bool null_entry = def != static_cast<uint64_t>(vleaf.max_def);
    entry_null.push_back(null_entry);
    any_null_entry |= null_entry;
    ++entries;
  }
  if (rows > 0) out->offsets.push_back(static_cast<int32_t>(entries));
  if (rows != num_rows) {
    return Status::Corruption(std::to_string(rows) + " rows of levels where the row group has " +
                              std::to_string(num_rows));
  }
  if (!any_null_row) out->is_null.clear();  // "no nulls" is an empty flag vector
  // Pass 2: the values, moved whole when no entry is null.
  const size_t present = vc.values.size(vt);
  if (!any_null_entry) {
    if (present != entries)
      return Status::Corruption("value count differs from the entries the levels describe");
    out->values = std::move(vc.values);
  } else {
    out->values.Reserve(vt, entries);
    out->values.is_null = std::move(entry_null);
    size_t next = 0;
    for (size_t e = 0; e < entries; ++e) {
      if (out->values.is_null[e]) {
        out->values.AppendDefault(vt);
      } else {
        if (next >= present) return Status::Corruption("fewer values than definition levels say");
        out->values.AppendFrom(vc.values, next++, vt);
      }
    }
    if (next != present) return Status::Corruption("more values than definition levels say");
  }
  if (is_map) {
    // Keys are required: one per entry, in order.
    const size_t keys = chunks[0].values.size(f.children.at(0).value.type);
    if (keys != entries || chunks[0].num_values != vc.num_values) {
      return Status::Corruption("map has " + std::to_string(keys) + " keys for " + std::to_string(entries) +
                                " entries");
    }
    out->keys = std::move(chunks[0].values);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<FileReader>> FileReader::Open(std::unique_ptr<InputFile> file) {
  std::unique_ptr<FileReader> r(new FileReader(std::move(file)));
  const std::string& name = r->file_->name();
  const uint64_t size = r->file_->Size();
  if (size < 12)
    return Status::Corruption(name + ": " + std::to_string(size) + " bytes is too short for Parquet");
  // The footer's length is at the end: read a block that holds most
  // footers whole, so a remote file opens with one request.
  const uint64_t guess = std::min<uint64_t>(size, kFooterReadBytes);
  std::vector<uint8_t> block(static_cast<size_t>(guess));
  FRAZIL_RETURN_IF_ERROR(r->file_->ReadAt(size - guess, block));
  const uint8_t* tail = block.data() + block.size() - 8;
  // The leading magic costs a request of its own on a remote file; it is
  // checked there only when the block covers it (the chunks are found by
  // the footer's offsets, which are checked against the file).
  bool head_ok = true;
  if (guess == size) {
    head_ok = std::memcmp(block.data(), "PAR1", 4) == 0;
  } else if (r->file_->read_ahead() == 0) {
    uint8_t head[4];
    FRAZIL_RETURN_IF_ERROR(r->file_->ReadAt(0, head));
    head_ok = std::memcmp(head, "PAR1", 4) == 0;
  }
  if (!head_ok || std::memcmp(tail + 4, "PAR1", 4) != 0) {
    return Status::Corruption(name + ": bad magic (not a Parquet file, or encrypted)");
  }
  uint32_t footer_len = DecodeFixed32(tail);
  if (footer_len == 0 || footer_len > size - 12 || footer_len > kMaxFooterBytes) {
    return Status::Corruption(name + ": footer length " + std::to_string(footer_len) +
                              " out of range for a " + std::to_string(size) + "-byte file");
  }
  r->data_end_ = size - 8 - footer_len;
  std::vector<uint8_t> footer;
  if (footer_len + 8 <= guess) {
    block.resize(block.size() - 8);
    block.erase(block.begin(), block.end() - footer_len);
    footer = std::move(block);
  } else {
    footer.resize(footer_len);
    FRAZIL_RETURN_IF_ERROR(r->file_->ReadAt(r->data_end_, footer));
  }
  Status st = DecodeFileMetaData(footer, &r->meta_);
  if (!st.ok()) return st.WithContext(name);
  auto schema = FromParquetSchema(r->meta_.schema, &r->leaves_);
  if (!schema.ok()) return schema.status().WithContext(name);
  r->schema_ = std::move(schema).value();
  int64_t rows = 0;
  for (const auto& g : r->meta_.row_groups) {
    if (g.columns.size() != r->leaves_.size()) {
      return Status::Corruption(name + ": a row group has " + std::to_string(g.columns.size()) +
                                " columns, the schema " + std::to_string(r->leaves_.size()));
    }
    if (g.num_rows < 0) return Status::Corruption(name + ": negative row count");
    for (const auto& c : g.columns) {
      if (!c.meta_data) return Status::Corruption(name + ": column chunk without metadata");
    }
    rows += g.num_rows;
  }
  if (rows != r->meta_.num_rows) {
    return Status::Corruption(name + ": row groups hold " + std::to_string(rows) + " rows, the footer says " +
                              std::to_string(r->meta_.num_rows));
  }
  return r;
}

std::optional<size_t> FileReader::FieldIndex(int32_t field_id) const {
  for (size_t i = 0; i < schema_.fields.size(); ++i) {
    if (schema_.fields[i].field_id == field_id) return i;
  }
  return std::nullopt;
}

std::vector<size_t> FileReader::SelectRowGroups(int32_t field_id, int64_t lo, int64_t hi) const {
  std::vector<size_t> out;
  std::optional<size_t> leaf;
  for (size_t l = 0; l < leaves_.size(); ++l) {
    if (leaves_[l].field_id == field_id && leaves_[l].role == LeafColumn::Role::kValue) leaf = l;
  }
  for (size_t g = 0; g < meta_.row_groups.size(); ++g) {
    if (!leaf) {
      out.push_back(g);
      continue;
    }
    const ColumnMetaData& m = *meta_.row_groups[g].columns[*leaf].meta_data;
    const PhysicalType p = leaves_[*leaf].physical;
    bool keep = true;
    if (m.statistics && (p == PhysicalType::kInt64 || p == PhysicalType::kInt32)) {
      const Statistics& s = *m.statistics;
      // min_value/max_value follow the column order; the deprecated min/max
      // are signed-order for integers too, so either serves here.
      const std::optional<std::string>& mn = s.min_value ? s.min_value : s.min;
      const std::optional<std::string>& mx = s.max_value ? s.max_value : s.max;
      const size_t w = p == PhysicalType::kInt64 ? 8 : 4;
      auto decode = [&](const std::string& b) -> int64_t {
        const auto* q = reinterpret_cast<const uint8_t*>(b.data());
        return w == 8 ? static_cast<int64_t>(DecodeFixed64(q)) : static_cast<int32_t>(DecodeFixed32(q));
      };
      if (mn && mx && mn->size() == w && mx->size() == w) keep = decode(*mx) >= lo && decode(*mn) <= hi;
    }
    if (keep) out.push_back(g);
  }
  return out;
}

Result<RowBatch> FileReader::ReadRowGroup(size_t row_group, const std::vector<size_t>& fields) {
  if (row_group >= meta_.row_groups.size())
    return Status::OutOfRange("no row group " + std::to_string(row_group));
  std::vector<size_t> wanted = fields;
  if (wanted.empty()) {
    for (size_t i = 0; i < schema_.fields.size(); ++i) wanted.push_back(i);
  }
  RowBatch batch;
  batch.num_rows = static_cast<size_t>(meta_.row_groups[row_group].num_rows);
  for (size_t f : wanted) {
    if (f >= schema_.fields.size()) return Status::InvalidArgument("no field " + std::to_string(f));
    ColumnData col;
    Status st = ReadField(row_group, f, batch.num_rows, &col);
    if (!st.ok())
      return st.WithContext(file_->name() + ": row group " + std::to_string(row_group) + ", column " +
                            schema_.fields[f].name);
    batch.columns.push_back(std::move(col));
  }
  return batch;
}

Status FileReader::ReadField(size_t row_group, size_t field, size_t num_rows, ColumnData* out) {
  const FieldSchema& f = schema_.fields[field];
  std::vector<size_t> leaf_ids;
  for (size_t l = 0; l < leaves_.size(); ++l) {
    if (leaves_[l].field_index == field) leaf_ids.push_back(l);
  }
  std::vector<DecodedChunk> chunks(leaf_ids.size());
  for (size_t k = 0; k < leaf_ids.size(); ++k) {
    const ColumnMetaData& m = *meta_.row_groups[row_group].columns[leaf_ids[k]].meta_data;
    if (m.num_values == 0) continue;  // an empty row group (pyarrow writes one for an empty table)
    FRAZIL_ASSIGN_OR_RETURN(uint64_t start, ChunkStart(m, data_end_));
    // Not a vector: it would zero-fill what the read overwrites at once.
    const size_t n = static_cast<size_t>(m.total_compressed_size);
    std::unique_ptr<uint8_t[]> bytes(new uint8_t[n]);
    FRAZIL_RETURN_IF_ERROR(file_->ReadAt(static_cast<uint64_t>(start), std::span(bytes.get(), n)));
    FRAZIL_RETURN_IF_ERROR(
        ReadColumnChunk(std::span<const uint8_t>(bytes.get(), n), m, leaves_[leaf_ids[k]], &chunks[k]));
  }
  return AssembleField(f, leaves_, leaf_ids, num_rows, &chunks, out);
}

Result<std::unique_ptr<RowGroupReader>> FileReader::OpenRowGroup(size_t row_group,
                                                                 const std::vector<size_t>& fields) {
  if (row_group >= meta_.row_groups.size())
    return Status::OutOfRange("no row group " + std::to_string(row_group));
  std::unique_ptr<RowGroupReader> r(new RowGroupReader());
  r->name_ = file_->name() + ": row group " + std::to_string(row_group);
  r->rows_left_ = static_cast<size_t>(meta_.row_groups[row_group].num_rows);
  std::vector<size_t> wanted = fields;
  if (wanted.empty()) {
    for (size_t i = 0; i < schema_.fields.size(); ++i) wanted.push_back(i);
  }
  for (size_t f : wanted) {
    if (f >= schema_.fields.size()) return Status::InvalidArgument("no field " + std::to_string(f));
    RowGroupReader::Field field;
    field.schema = &schema_.fields[f];
    for (size_t l = 0; l < leaves_.size(); ++l) {
      if (leaves_[l].field_index != f) continue;
      const ColumnMetaData& m = *meta_.row_groups[row_group].columns[l].meta_data;
      // An empty chunk (pyarrow writes an empty row group for an empty table) is not read.
      auto start = m.num_values == 0 ? Result<uint64_t>(uint64_t{0}) : ChunkStart(m, data_end_);
      if (!start.ok()) return start.status().WithContext(r->name_ + ", column " + field.schema->name);
      field.leaf_ids.push_back(l);
      field.cursors.push_back(std::make_unique<ColumnChunkCursor>(
          file_.get(), *start, m.num_values == 0 ? 0 : static_cast<uint64_t>(m.total_compressed_size), &m,
          &leaves_[l]));
    }
    r->fields_.push_back(std::move(field));
  }
  r->leaves_ = &leaves_;
  return r;
}

Result<RowBatch> RowGroupReader::Next(size_t max_rows) {
  RowBatch batch;
  batch.num_rows = std::min(max_rows, rows_left_);
  for (auto& f : fields_) {
    std::vector<DecodedChunk> chunks(f.cursors.size());
    ColumnData col;
    Status st = Status::Ok();
    for (size_t k = 0; k < f.cursors.size() && st.ok(); ++k)
      st = f.cursors[k]->TakeRows(batch.num_rows, &chunks[k]);
    if (st.ok()) st = AssembleField(*f.schema, *leaves_, f.leaf_ids, batch.num_rows, &chunks, &col);
    if (!st.ok()) return st.WithContext(name_ + ", column " + f.schema->name);
    batch.columns.push_back(std::move(col));
  }
  rows_left_ -= batch.num_rows;
  return batch;
}

RowGroupReader::~RowGroupReader() = default;

}  // namespace frazil::parquet
