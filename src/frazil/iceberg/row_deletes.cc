#include "frazil/iceberg/row_deletes.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>

#include "frazil/iceberg/location.h"
#include "frazil/parquet/file_reader.h"

namespace frazil::iceberg {
namespace {

enum class Kind { kInts, kDoubles, kBytes, kDecimals };

Kind KindOf(parquet::ValueType t) {
  switch (t) {
    case parquet::ValueType::kFloat:
    case parquet::ValueType::kDouble:
      return Kind::kDoubles;
    case parquet::ValueType::kString:
    case parquet::ValueType::kBinary:
    case parquet::ValueType::kFixed:
    case parquet::ValueType::kUuid:
      return Kind::kBytes;
    case parquet::ValueType::kDecimal:
      return Kind::kDecimals;
    default:
      return Kind::kInts;
  }
}

// Appends value i of a primitive column to a tuple key. Values are encoded
// by their in-memory kind, so int and long (or float and double) columns
// holding the same number give the same key, as after type promotion.
void AppendKey(const parquet::ValueVector& v, parquet::ValueType t, size_t i, std::string* out) {
  if (v.IsNull(i)) {
    out->push_back('\0');
    return;
  }
  out->push_back('\1');
  switch (KindOf(t)) {
    case Kind::kInts:
      out->append(reinterpret_cast<const char*>(&v.ints[i]), sizeof(int64_t));
      break;
    case Kind::kDoubles: {
      double d = v.doubles[i] == 0 ? 0.0 : v.doubles[i];  // -0 equals 0
      out->append(reinterpret_cast<const char*>(&d), sizeof d);
      break;
    }
    case Kind::kBytes: {
      std::string_view s = v.bytes[i];
      auto n = static_cast<uint32_t>(s.size());
      out->append(reinterpret_cast<const char*>(&n), sizeof n);
      out->append(s);
      break;
    }
    case Kind::kDecimals:
      out->append(reinterpret_cast<const char*>(&v.decimals[i]), sizeof(__int128));
      break;
  }
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

Status CheckReadable(const DataFile& f) {
  if (IEquals(f.file_format, "PUFFIN"))
    return Status::InvalidArgument("delete file " + f.file_path +
                                   " is a deletion vector (Iceberg v3, Puffin), which Frazil cannot read");
  if (!IEquals(f.file_format, "PARQUET"))
    return Status::InvalidArgument("delete file " + f.file_path + " is in format " + f.file_format +
                                   "; Frazil reads Parquet delete files only");
  return Status::Ok();
}

Result<std::unique_ptr<parquet::FileReader>> OpenDeleteFile(FileIO* io, const DataFile& f) {
  FRAZIL_RETURN_IF_ERROR(CheckReadable(f));
  FRAZIL_ASSIGN_OR_RETURN(auto input, io->OpenInput(f.file_path, KnownSize(f)));
  auto reader = parquet::FileReader::Open(std::move(input));
  if (!reader.ok()) return reader.status().WithContext("delete file " + f.file_path);
  return reader;
}

Status LoadPositions(FileIO* io, const DataFile& f, std::string_view data_path, std::vector<int64_t>* out) {
  FRAZIL_ASSIGN_OR_RETURN(auto reader, OpenDeleteFile(io, f));
  auto path_idx = reader->FieldIndex(kDeleteFilePathFieldId);
  auto pos_idx = reader->FieldIndex(kDeletePosFieldId);
  if (!path_idx || !pos_idx)
    return Status::Corruption("position delete file " + f.file_path + " lacks the file_path or pos column");
  const auto& fields = reader->schema().fields;
  if (fields[*path_idx].shape != parquet::FieldSchema::Shape::kPrimitive ||
      KindOf(fields[*path_idx].value.type) != Kind::kBytes ||
      fields[*pos_idx].shape != parquet::FieldSchema::Shape::kPrimitive ||
      KindOf(fields[*pos_idx].value.type) != Kind::kInts)
    return Status::Corruption("position delete file " + f.file_path +
                              " has mistyped file_path or pos columns");
  for (size_t g = 0; g < reader->num_row_groups(); ++g) {
    auto batch = reader->ReadRowGroup(g, {*path_idx, *pos_idx});
    if (!batch.ok()) return batch.status().WithContext("position delete file " + f.file_path);
    const auto& paths = batch->columns[0].values;
    const auto& pos = batch->columns[1].values;
    for (size_t i = 0; i < batch->num_rows; ++i) {
      if (paths.IsNull(i) || pos.IsNull(i))
        return Status::Corruption("position delete file " + f.file_path + " has a null file_path or pos");
      std::string_view p = paths.bytes[i];
      if (p == data_path || SameLocation(p, data_path))  // Java engines write `file:/p`
        out->push_back(pos.ints[i]);
    }
  }
  return Status::Ok();
}

Status LoadEqualityKeys(FileIO* io, const DataFile& f, std::unordered_set<std::string>* keys) {
  if (f.equality_ids.empty())
    return Status::Corruption("equality delete file " + f.file_path + " has no equality field ids");
  FRAZIL_ASSIGN_OR_RETURN(auto reader, OpenDeleteFile(io, f));
  std::vector<size_t> columns;
  std::vector<parquet::ValueType> types;
  for (int32_t id : f.equality_ids) {
    auto idx = reader->FieldIndex(id);
    if (!idx)
      return Status::Corruption("equality delete file " + f.file_path + " lacks its equality column " +
                                std::to_string(id));
    const auto& field = reader->schema().fields[*idx];
    if (field.shape != parquet::FieldSchema::Shape::kPrimitive)
      return Status::InvalidArgument("equality delete file " + f.file_path + " compares column " +
                                     field.name + ", which is not a primitive; Frazil cannot apply it");
    columns.push_back(*idx);
    types.push_back(field.value.type);
  }
  for (size_t g = 0; g < reader->num_row_groups(); ++g) {
    auto batch = reader->ReadRowGroup(g, columns);
    if (!batch.ok()) return batch.status().WithContext("equality delete file " + f.file_path);
    for (size_t i = 0; i < batch->num_rows; ++i) {
      std::string key;
      for (size_t c = 0; c < columns.size(); ++c) AppendKey(batch->columns[c].values, types[c], i, &key);
      keys->insert(std::move(key));
    }
  }
  return Status::Ok();
}

}  // namespace

bool RowDeletes::PositionDeleted(int64_t pos) const {
  return std::binary_search(positions_.begin(), positions_.end(), pos);
}

std::vector<int32_t> RowDeletes::EqualityFieldIds() const {
  std::vector<int32_t> out;
  for (const auto& g : groups_)
    for (int32_t id : g.field_ids)
      if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  return out;
}

Result<std::vector<uint8_t>> RowDeletes::DeletedRows(const parquet::RowBatch& batch, int64_t first_row,
                                                     const std::vector<parquet::FieldSchema>& fields) const {
  std::vector<uint8_t> out(batch.num_rows, 0);
  if (batch.columns.size() != fields.size())
    return Status::InvalidArgument("row batch has " + std::to_string(batch.columns.size()) +
                                   " columns; its fields name " + std::to_string(fields.size()));
  // Positions: the sorted deleted positions inside this row group.
  auto it = std::lower_bound(positions_.begin(), positions_.end(), first_row);
  for (; it != positions_.end() && *it < first_row + static_cast<int64_t>(batch.num_rows); ++it)
    out[static_cast<size_t>(*it - first_row)] = 1;
  for (const auto& g : groups_) {
    std::vector<size_t> columns;
    for (int32_t id : g.field_ids) {
      size_t c = 0;
      while (c < fields.size() && fields[c].field_id != id) ++c;
      if (c == fields.size())
        return Status::InvalidArgument("equality deletes compare field " + std::to_string(id) +
                                       ", which the read does not project");
      if (fields[c].shape != parquet::FieldSchema::Shape::kPrimitive)
        return Status::InvalidArgument("equality deletes compare column " + fields[c].name +
                                       ", which is not a primitive");
      columns.push_back(c);
    }
    std::string key;
    for (size_t r = 0; r < batch.num_rows; ++r) {
      if (out[r]) continue;
      key.clear();
      for (size_t c : columns) AppendKey(batch.columns[c].values, fields[c].value.type, r, &key);
      if (g.keys.count(key)) out[r] = 1;
    }
  }
  return out;
}

Result<RowDeletes> LoadRowDeletes(FileIO* io, const ScanTask& task) {
  RowDeletes out;
  std::map<std::vector<int32_t>, size_t> group_of;
  for (const auto& f : task.deletes) {
    Status st;
    if (f.content == FileContent::kPositionDeletes) {
      st = LoadPositions(io, f, task.file.file_path, &out.positions_);
    } else if (f.content == FileContent::kEqualityDeletes) {
      std::vector<int32_t> ids = f.equality_ids;
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      auto [g, added] = group_of.emplace(ids, out.groups_.size());
      if (added) out.groups_.push_back({f.equality_ids, {}});
      // Tuples are keyed in the group's column order, the first file's.
      DataFile ordered = f;
      ordered.equality_ids = out.groups_[g->second].field_ids;
      st = LoadEqualityKeys(io, ordered, &out.groups_[g->second].keys);
    } else {
      st = Status::Corruption("file " + f.file_path + " is planned as a delete file but holds data");
    }
    if (!st.ok()) return st.WithContext("deletes of data file " + task.file.file_path);
  }
  std::sort(out.positions_.begin(), out.positions_.end());
  out.positions_.erase(std::unique(out.positions_.begin(), out.positions_.end()), out.positions_.end());
  return out;
}

parquet::RowBatch RemoveRows(const parquet::RowBatch& batch, const std::vector<parquet::FieldSchema>& fields,
                             const std::vector<uint8_t>& deleted) {
  parquet::RowBatch out;
  for (size_t r = 0; r < batch.num_rows; ++r) out.num_rows += deleted[r] ? 0 : 1;
  auto copy_value = [](const parquet::ValueVector& src, size_t i, parquet::ValueType t,
                       parquet::ValueVector* dst) {
    dst->AppendFrom(src, i, t);
    if (!src.is_null.empty()) dst->is_null.push_back(src.is_null[i]);
  };
  for (size_t c = 0; c < batch.columns.size(); ++c) {
    const parquet::ColumnData& src = batch.columns[c];
    const parquet::FieldSchema& field = fields[c];
    parquet::ColumnData dst;
    if (field.shape == parquet::FieldSchema::Shape::kPrimitive) {
      dst.values.Reserve(field.value.type, out.num_rows);
      for (size_t r = 0; r < batch.num_rows; ++r)
        if (!deleted[r]) copy_value(src.values, r, field.value.type, &dst.values);
    } else {
      // Lists, maps and structs, nested to any depth.
      size_t have = 0;
      for (size_t r = 0; r < batch.num_rows; ++r) {
        if (!deleted[r]) parquet::AppendColumnRow(field, src, r, have++, &dst);
      }
      if (have == 0 && !field.is_primitive() && field.shape != parquet::FieldSchema::Shape::kStruct)
        dst.offsets.push_back(0);
    }
    out.columns.push_back(std::move(dst));
  }
  return out;
}

Result<parquet::RowBatch> ReadLiveRows(DataFileReader* reader, size_t index, const RowDeletes& deletes) {
  FRAZIL_ASSIGN_OR_RETURN(parquet::RowBatch batch, reader->ReadRowGroup(index));
  if (deletes.empty()) return batch;
  FRAZIL_ASSIGN_OR_RETURN(auto deleted,
                          deletes.DeletedRows(batch, reader->RowGroupFirstRow(index), reader->fields()));
  if (std::find(deleted.begin(), deleted.end(), 1) == deleted.end()) return batch;
  return RemoveRows(batch, reader->fields(), deleted);
}

}  // namespace frazil::iceberg
