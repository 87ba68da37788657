#include "frazil/iceberg/parquet_data_file.h"

#include "frazil/iceberg/bounds.h"

namespace frazil::iceberg {
namespace {

constexpr size_t kTruncateLength = 16;

Result<parquet::ValueSpec> ValueSpecFor(const Type& t) {
  parquet::ValueSpec v;
  switch (t.id) {
    case TypeId::kBoolean:
      v.type = parquet::ValueType::kBoolean;
      break;
    case TypeId::kInt:
      v.type = parquet::ValueType::kInt32;
      break;
    case TypeId::kLong:
      v.type = parquet::ValueType::kInt64;
      break;
    case TypeId::kFloat:
      v.type = parquet::ValueType::kFloat;
      break;
    case TypeId::kDouble:
      v.type = parquet::ValueType::kDouble;
      break;
    case TypeId::kDate:
      v.type = parquet::ValueType::kDate;
      break;
    case TypeId::kTimestamp:
      v.type = parquet::ValueType::kTimestamp;
      break;
    case TypeId::kTimestampTz:
      v.type = parquet::ValueType::kTimestampTz;
      break;
    case TypeId::kString:
      v.type = parquet::ValueType::kString;
      break;
    case TypeId::kBinary:
      v.type = parquet::ValueType::kBinary;
      break;
    case TypeId::kUuid:
      v.type = parquet::ValueType::kUuid;
      break;
    case TypeId::kFixed:
      v.type = parquet::ValueType::kFixed;
      v.fixed_length = t.length;
      break;
    case TypeId::kDecimal:
      v.type = parquet::ValueType::kDecimal;
      v.precision = t.precision;
      v.scale = t.scale;
      break;
    default:
      return Status::InvalidArgument("Parquet data files of type " + t.ToString() + " are not supported");
  }
  return v;
}

// Whether field `id` is a primitive reached from the top through structs
// only: Iceberg keeps counts and bounds for those leaves alone (Java's
// Parquet metrics do the same), since a leaf inside a list or map has a
// level entry per empty or null collection, which is no value of it.
bool OutsideRepeated(const std::vector<NestedField>& fields, int32_t id) {
  for (const auto& f : fields) {
    if (f.id == id) return f.type->IsPrimitive();
    if (f.type->id == TypeId::kStruct && OutsideRepeated(f.type->fields, id)) return true;
  }
  return false;
}

Result<parquet::FieldSchema> FieldSchemaFor(const NestedField& f) {
  parquet::FieldSchema pf;
  pf.name = f.name;
  pf.field_id = f.id;
  pf.required = f.required;
  const Type& t = *f.type;
  if (t.IsPrimitive()) {
    FRAZIL_ASSIGN_OR_RETURN(pf.value, ValueSpecFor(t));
    return pf;
  }
  const std::vector<NestedField>& children = t.id == TypeId::kStruct ? t.fields : t.children;
  if ((t.id == TypeId::kList && children.size() != 1) || (t.id == TypeId::kMap && children.size() != 2))
    return Status::InvalidArgument("column " + f.name + " of type " + t.ToString() + " is malformed");
  if (t.id == TypeId::kMap && !children[0].type->IsPrimitive())
    return Status::InvalidArgument("column " + f.name + " of type " + t.ToString() +
                                   ": data files support primitive map keys only");
  pf.shape = t.id == TypeId::kStruct ? parquet::FieldSchema::Shape::kStruct
             : t.id == TypeId::kList ? parquet::FieldSchema::Shape::kList
                                     : parquet::FieldSchema::Shape::kMap;
  for (const auto& c : children) {
    auto child = FieldSchemaFor(c);
    if (!child.ok()) return child.status().WithContext("column " + f.name);
    pf.children.push_back(std::move(child).value());
  }
  parquet::Normalize(&pf);
  return pf;
}

size_t Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xe) return 3;
  if ((lead >> 3) == 0x1e) return 4;
  return 1;  // invalid: treat bytewise
}

// Byte length of the first n code points of s.
size_t PrefixBytes(const std::string& s, size_t n) {
  size_t pos = 0;
  for (size_t cp = 0; cp < n && pos < s.size(); ++cp) pos += Utf8Length(static_cast<unsigned char>(s[pos]));
  return std::min(pos, s.size());
}

std::string EncodeUtf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return out;
}

uint32_t DecodeUtf8(const std::string& s, size_t pos, size_t len) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[pos + i])); };
  switch (len) {
    case 2:
      return ((b(0) & 0x1f) << 6) | (b(1) & 0x3f);
    case 3:
      return ((b(0) & 0x0f) << 12) | ((b(1) & 0x3f) << 6) | (b(2) & 0x3f);
    case 4:
      return ((b(0) & 0x07) << 18) | ((b(1) & 0x3f) << 12) | ((b(2) & 0x3f) << 6) | (b(3) & 0x3f);
    default:
      return b(0);
  }
}

// Whether a file's column has the tree the read schema wants: the same
// shapes and field ids all the way down (types are checked by the reader).
bool SameTree(const parquet::FieldSchema& a, const parquet::FieldSchema& b) {
  if (a.shape != b.shape || a.children.size() != b.children.size()) return false;
  for (size_t k = 0; k < a.children.size(); ++k) {
    const int32_t ia = a.children[k].field_id, ib = b.children[k].field_id;
    if ((ia != 0 && ib != 0 && ia != ib) || !SameTree(a.children[k], b.children[k])) return false;
  }
  return true;
}

// A column of `n` null slots shaped as `f`.
parquet::ColumnData NullColumn(const parquet::FieldSchema& f, size_t n) {
  using S = parquet::FieldSchema::Shape;
  parquet::ColumnData c;
  if (f.shape == S::kPrimitive) {
    c.values.is_null.assign(n, 1);
    for (size_t r = 0; r < n; ++r) c.values.AppendDefault(f.value.type);
    return c;
  }
  c.is_null.assign(n, 1);
  if (f.shape == S::kStruct) {
    for (const auto& child : f.children) c.children.push_back(NullColumn(child, n));
    return c;
  }
  c.offsets.assign(n + 1, 0);
  if (!f.children.empty() && !f.children.back().is_primitive())
    c.children.push_back(NullColumn(f.children.back(), 0));
  return c;
}

// Whether a file's column `have` reads as `want` by field id (Iceberg's
// projection): the same shape wherever both have a node; struct fields
// the file lacks (added later) read as null, fields it has that the read
// schema lacks are skipped. `path` names the column in errors.
Status CheckProjection(const parquet::FieldSchema& have, const parquet::FieldSchema& want,
                       const std::string& path) {
  using S = parquet::FieldSchema::Shape;
  if (have.shape != want.shape) return Status::Corruption("column " + path + " has another shape");
  if (want.shape == S::kStruct) {
    for (const auto& w : want.children) {
      for (const auto& h : have.children)
        if (h.field_id == w.field_id) FRAZIL_RETURN_IF_ERROR(CheckProjection(h, w, path + "." + w.name));
    }
    return Status::Ok();
  }
  if (want.shape == S::kPrimitive) return Status::Ok();
  // A list's element, a map's key and value: present in both.
  if (have.children.size() != want.children.size())
    return Status::Corruption("column " + path + " has another shape");
  for (size_t k = 0; k < want.children.size(); ++k)
    FRAZIL_RETURN_IF_ERROR(
        CheckProjection(have.children[k], want.children[k], path + "." + want.children[k].name));
  return Status::Ok();
}

// `c`, read with the file's tree `have` (`slots` slots), reshaped as
// `want` (CheckProjection passed). Primitives keep their vectors: the
// promotions Iceberg allows (int to long, float to double, decimal
// precision) share one in-memory form.
parquet::ColumnData Project(const parquet::FieldSchema& have, const parquet::FieldSchema& want,
                            parquet::ColumnData c, size_t slots) {
  using S = parquet::FieldSchema::Shape;
  if (want.shape == S::kPrimitive) return c;
  if (want.shape == S::kStruct) {
    parquet::ColumnData out;
    out.is_null = std::move(c.is_null);
    for (const auto& w : want.children) {
      size_t j = 0;
      while (j < have.children.size() && have.children[j].field_id != w.field_id) ++j;
      out.children.push_back(j < have.children.size()
                                 ? Project(have.children[j], w, std::move(c.children[j]), slots)
                                 : NullColumn(w, slots));
    }
    return out;
  }
  // List or map: the element (or value) below, one slot per entry.
  const parquet::FieldSchema& h = have.children.back();
  const parquet::FieldSchema& w = want.children.back();
  if (!w.is_primitive() && !c.children.empty()) {
    const size_t entries = c.offsets.empty() ? 0 : static_cast<size_t>(c.offsets.back());
    c.children[0] = Project(h, w, std::move(c.children[0]), entries);
  }
  return c;
}

}  // namespace

Result<parquet::FileSchema> ParquetSchemaFor(const Schema& schema) {
  parquet::FileSchema out;
  for (const auto& f : schema.fields) {
    FRAZIL_ASSIGN_OR_RETURN(parquet::FieldSchema pf, FieldSchemaFor(f));
    out.fields.push_back(std::move(pf));
  }
  return out;
}

std::string TruncateLowerBound(const Type& type, const std::string& bound) {
  if (type.id == TypeId::kString) return bound.substr(0, PrefixBytes(bound, kTruncateLength));
  if (type.id == TypeId::kBinary) return bound.substr(0, kTruncateLength);
  return bound;
}

std::optional<std::string> TruncateUpperBound(const Type& type, const std::string& bound) {
  if (type.id == TypeId::kBinary) {
    if (bound.size() <= kTruncateLength) return bound;
    std::string out = bound.substr(0, kTruncateLength);
    while (!out.empty()) {
      auto last = static_cast<unsigned char>(out.back());
      if (last != 0xff) {
        out.back() = static_cast<char>(last + 1);
        return out;
      }
      out.pop_back();
    }
    return std::nullopt;
  }
  if (type.id == TypeId::kString) {
    size_t cut = PrefixBytes(bound, kTruncateLength);
    if (cut >= bound.size()) return bound;
    std::string prefix = bound.substr(0, cut);
    // Increment the last code point that can be incremented (skipping the
    // surrogate range), dropping those after it.
    std::vector<size_t> starts;
    for (size_t pos = 0; pos < prefix.size(); pos += Utf8Length(static_cast<unsigned char>(prefix[pos])))
      starts.push_back(pos);
    while (!starts.empty()) {
      size_t pos = starts.back();
      size_t len = std::min(Utf8Length(static_cast<unsigned char>(prefix[pos])), prefix.size() - pos);
      uint32_t cp = DecodeUtf8(prefix, pos, len) + 1;
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xe000;
      if (cp <= 0x10ffff) return prefix.substr(0, pos) + EncodeUtf8(cp);
      starts.pop_back();
      prefix.resize(pos);
    }
    return std::nullopt;
  }
  return bound;
}

Result<DataFile> DescribeDataFile(const Schema& schema, const std::string& location,
                                  const parquet::WriteResult& written, int32_t spec_id,
                                  PartitionValues partition) {
  DataFile f;
  f.file_path = location;
  f.spec_id = spec_id;
  f.partition = std::move(partition);
  f.record_count = written.record_count;
  f.file_size_in_bytes = static_cast<int64_t>(written.file_size);
  f.split_offsets = written.split_offsets;
  for (const auto& c : written.columns) {
    f.column_sizes[c.field_id] += c.column_size;
    // Counts and bounds for primitives outside lists and maps (see
    // OutsideRepeated); a leaf below null structs counts their rows as nulls.
    if (!OutsideRepeated(schema.fields, c.field_id)) continue;
    f.value_counts[c.field_id] = c.value_count;
    f.null_value_counts[c.field_id] = c.null_count;
    const NestedField* field = schema.FindField(c.field_id);
    if (!field) continue;
    if (c.lower_bound) {
      FRAZIL_ASSIGN_OR_RETURN(std::string lo, BoundFromParquetStatistic(*field->type, *c.lower_bound));
      f.lower_bounds[c.field_id] = TruncateLowerBound(*field->type, lo);
    }
    if (c.upper_bound) {
      FRAZIL_ASSIGN_OR_RETURN(std::string hi, BoundFromParquetStatistic(*field->type, *c.upper_bound));
      if (auto up = TruncateUpperBound(*field->type, hi)) f.upper_bounds[c.field_id] = *up;
    }
  }
  return f;
}

Result<std::unique_ptr<DataFileWriter>> DataFileWriter::Open(FileIO* io, const std::string& location,
                                                             const Schema& schema, int32_t spec_id,
                                                             PartitionValues partition,
                                                             const parquet::WriterOptions& options) {
  FRAZIL_ASSIGN_OR_RETURN(parquet::FileSchema file_schema, ParquetSchemaFor(schema));
  FRAZIL_ASSIGN_OR_RETURN(auto sink, io->NewOutput(location));
  std::unique_ptr<DataFileWriter> w(new DataFileWriter(schema, location, spec_id, std::move(partition)));
  FRAZIL_ASSIGN_OR_RETURN(w->writer_,
                          parquet::FileWriter::Open(std::move(file_schema), options, std::move(sink)));
  return w;
}

Result<DataFile> DataFileWriter::Close() {
  FRAZIL_ASSIGN_OR_RETURN(parquet::WriteResult written, writer_->Close());
  return DescribeDataFile(schema_, location_, written, spec_id_, std::move(partition_));
}

Result<DataFile> WriteDataFile(FileIO* io, const std::string& location, const Schema& schema, int32_t spec_id,
                               PartitionValues partition,
                               const std::vector<const parquet::RowBatch*>& batches,
                               const parquet::WriterOptions& options) {
  FRAZIL_ASSIGN_OR_RETURN(auto writer,
                          DataFileWriter::Open(io, location, schema, spec_id, std::move(partition), options));
  for (const auto* b : batches) FRAZIL_RETURN_IF_ERROR(writer->Write(*b));
  return writer->Close();
}

Result<std::unique_ptr<DataFileReader>> DataFileReader::Open(FileIO* io, const std::string& location,
                                                             const Schema& read_schema,
                                                             std::vector<int32_t> field_ids,
                                                             std::optional<uint64_t> file_size) {
  FRAZIL_ASSIGN_OR_RETURN(auto input, io->OpenInput(location, file_size));
  auto opened = parquet::FileReader::Open(std::move(input));
  if (!opened.ok()) return opened.status().WithContext("data file " + location);
  std::unique_ptr<DataFileReader> r(new DataFileReader());
  r->reader_ = std::move(opened).value();
  FRAZIL_ASSIGN_OR_RETURN(parquet::FileSchema wanted, ParquetSchemaFor(read_schema));
  for (int32_t id : field_ids) {
    const parquet::FieldSchema* want = nullptr;
    for (const auto& f : wanted.fields)
      if (f.field_id == id) want = &f;
    if (!want) return Status::InvalidArgument("no top-level column with field id " + std::to_string(id));
    auto idx = r->reader_->FieldIndex(id);
    if (!idx && want->required)
      return Status::Corruption("data file " + location + " lacks required column " + want->name);
    if (idx) {
      const auto& have = r->reader_->schema().fields[*idx];
      if (have.shape != want->shape)
        return Status::Corruption("data file " + location + ": column " + want->name + " has another shape");
      if (!SameTree(have, *want)) {
        // Written before a nested column evolved: read by field id.
        Status st = CheckProjection(have, *want, want->name);
        if (!st.ok()) return st.WithContext("data file " + location);
        r->projected_[r->fields_.size()] = have;
      }
    }
    r->fields_.push_back(*want);
    r->file_index_.push_back(idx);
  }
  return r;
}

int64_t DataFileReader::RowGroupFirstRow(size_t index) const {
  int64_t first = 0;
  const auto& groups = reader_->metadata().row_groups;
  for (size_t g = 0; g < index && g < groups.size(); ++g) first += groups[g].num_rows;
  return first;
}

std::vector<size_t> DataFileReader::PresentColumns() const {
  std::vector<size_t> present;
  for (const auto& idx : file_index_)
    if (idx) present.push_back(*idx);
  return present;
}

Result<parquet::RowBatch> DataFileReader::ReadRowGroup(size_t index) {
  FRAZIL_ASSIGN_OR_RETURN(parquet::RowBatch read, reader_->ReadRowGroup(index, PresentColumns()));
  return FillMissing(std::move(read));
}

Result<DataFileReader::RowGroupStream> DataFileReader::OpenRowGroup(size_t index) {
  RowGroupStream s;
  s.file_ = this;
  FRAZIL_ASSIGN_OR_RETURN(s.rows_, reader_->OpenRowGroup(index, PresentColumns()));
  return s;
}

Result<parquet::RowBatch> DataFileReader::RowGroupStream::Next(size_t max_rows) {
  FRAZIL_ASSIGN_OR_RETURN(parquet::RowBatch read, rows_->Next(max_rows));
  return file_->FillMissing(std::move(read));
}

parquet::RowBatch DataFileReader::FillMissing(parquet::RowBatch read) const {
  if (read.columns.size() == fields_.size() && projected_.empty()) return read;
  // Fill the columns the file does not have with nulls.
  parquet::RowBatch out;
  out.num_rows = read.num_rows;
  size_t next = 0;
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (file_index_[i]) {
      auto p = projected_.find(i);
      out.columns.push_back(p == projected_.end() ? std::move(read.columns[next])
                                                  : Project(p->second, fields_[i],
                                                            std::move(read.columns[next]), read.num_rows));
      ++next;
      continue;
    }
    parquet::ColumnData c = NullColumn(fields_[i], read.num_rows);
    out.columns.push_back(std::move(c));
  }
  return out;
}

}  // namespace frazil::iceberg
