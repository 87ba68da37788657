// Test driver for the Parquet layer, so that Python tests can put our
// writer and reader next to pyarrow and DuckDB:
//
//   parquet_tool write SPEC.json OUT.parquet   # schema, rows, options -> file; prints the WriteResult as
//   JSON parquet_tool read IN.parquet [FIELD_ID...]  # file -> {"schema":..., "rows":[...]} on stdout
//   parquet_tool select IN.parquet FIELD_ID LO HI  # row groups whose statistics may hold [LO, HI]
//
// Values in JSON: null; numbers; strings for string columns; {"hex": "..."}
// for binary, fixed and uuid; decimals as strings of the unscaled integer;
// floats that JSON cannot hold as {"float": "nan" | "inf" | "-inf"};
// lists as arrays; maps as arrays of [key, value] pairs; structs as objects
// by field name.
//
// A field is {"name", "id", "required", "type", ...}: a primitive type (with
// "length", "precision", "scale"); "struct" with "fields"; "list" with an
// "element" field; "map" with "key" and "value" fields (nested fields name
// themselves only where a struct needs it). The older flat form,
// {"shape": "list" | "map", "type": <element type>, "element_id" | "key_id",
// "value_id", ...}, still works.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "frazil/parquet/compression.h"
#include "frazil/parquet/file_reader.h"
#include "frazil/parquet/file_writer.h"
#include "hex.h"

using json = nlohmann::json;
using namespace frazil;
using namespace frazil::parquet;

using frazil::tools::Hex;
using frazil::tools::Unhex;

namespace {

[[noreturn]] void Die(const std::string& msg) {
  std::cerr << "parquet_tool: " << msg << "\n";
  std::exit(1);
}

ValueType ParseType(const std::string& s) {
  static const std::map<std::string, ValueType> m = {{"boolean", ValueType::kBoolean},
                                                     {"int", ValueType::kInt32},
                                                     {"long", ValueType::kInt64},
                                                     {"float", ValueType::kFloat},
                                                     {"double", ValueType::kDouble},
                                                     {"string", ValueType::kString},
                                                     {"binary", ValueType::kBinary},
                                                     {"fixed", ValueType::kFixed},
                                                     {"date", ValueType::kDate},
                                                     {"timestamp", ValueType::kTimestamp},
                                                     {"timestamptz", ValueType::kTimestampTz},
                                                     {"uuid", ValueType::kUuid},
                                                     {"decimal", ValueType::kDecimal}};
  auto it = m.find(s);
  if (it == m.end()) Die("unknown type " + s);
  return it->second;
}

ValueSpec ParseSpec(const json& j) {
  ValueSpec v;
  v.type = ParseType(j.at("type").get<std::string>());
  v.fixed_length = j.value("length", 0);
  v.precision = j.value("precision", 0);
  v.scale = j.value("scale", 0);
  return v;
}

__int128 ParseI128(const std::string& s) {
  __int128 v = 0;
  bool neg = !s.empty() && s[0] == '-';
  for (size_t i = neg ? 1 : 0; i < s.size(); ++i) v = v * 10 + (s[i] - '0');
  return neg ? -v : v;
}

std::string I128ToString(__int128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  unsigned __int128 u =
      neg ? static_cast<unsigned __int128>(-(v + 1)) + 1 : static_cast<unsigned __int128>(v);
  std::string s;
  while (u > 0) {
    s.push_back(static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  if (neg) s.push_back('-');
  return std::string(s.rbegin(), s.rend());
}

void AppendValue(const json& j, const ValueSpec& spec, ValueVector* v) {
  const bool null = j.is_null();
  v->is_null.push_back(null);  // every entry is flagged; all-false is valid too
  switch (spec.type) {
    case ValueType::kFloat:
    case ValueType::kDouble: {
      double d = 0;
      if (!null) {
        if (j.is_object()) {
          std::string f = j.at("float");
          d = f == "nan" ? NAN : f == "inf" ? INFINITY : -INFINITY;
        } else {
          d = j.get<double>();
        }
      }
      v->doubles.push_back(d);
      break;
    }
    case ValueType::kString:
      v->bytes.push_back(null ? "" : j.get<std::string>());
      break;
    case ValueType::kBinary:
    case ValueType::kFixed:
    case ValueType::kUuid:
      v->bytes.push_back(null ? "" : Unhex(j.at("hex").get<std::string>()));
      break;
    case ValueType::kDecimal:
      v->decimals.push_back(null ? 0 : ParseI128(j.get<std::string>()));
      break;
    case ValueType::kBoolean:
      v->ints.push_back(null ? 0 : j.get<bool>());
      break;
    default:
      v->ints.push_back(null ? 0 : j.get<int64_t>());
      break;
  }
}

json ValueToJson(const ValueVector& v, size_t i, const ValueSpec& spec) {
  if (v.IsNull(i)) return nullptr;
  switch (spec.type) {
    case ValueType::kFloat:
    case ValueType::kDouble: {
      double d = v.doubles[i];
      if (std::isnan(d)) return json{{"float", "nan"}};
      if (std::isinf(d)) return json{{"float", d > 0 ? "inf" : "-inf"}};
      return d;
    }
    case ValueType::kString:
      return std::string(v.bytes[i]);
    case ValueType::kBinary:
    case ValueType::kFixed:
    case ValueType::kUuid:
      return json{{"hex", Hex(v.bytes[i])}};
    case ValueType::kDecimal:
      return I128ToString(v.decimals[i]);
    case ValueType::kBoolean:
      return v.ints[i] != 0;
    default:
      return v.ints[i];
  }
}

FieldSchema ParseField(const json& f) {
  FieldSchema fs;
  fs.name = f.value("name", "");
  fs.field_id = f.at("id");
  fs.required = f.value("required", false);
  const std::string type = f.at("type");
  if (type == "struct") {
    fs.shape = FieldSchema::Shape::kStruct;
    for (const auto& c : f.at("fields")) fs.children.push_back(ParseField(c));
    return fs;
  }
  if (type == "list") {
    fs.shape = FieldSchema::Shape::kList;
    fs.children.push_back(ParseField(f.at("element")));
    fs.children[0].name = "element";
  } else if (type == "map") {
    fs.shape = FieldSchema::Shape::kMap;
    fs.children.push_back(ParseField(f.at("key")));
    fs.children.push_back(ParseField(f.at("value")));
    fs.children[0].name = "key";
    fs.children[1].name = "value";
  } else {
    std::string shape = f.value("shape", "primitive");
    fs.value = ParseSpec(f);
    if (shape == "list") {
      fs.shape = FieldSchema::Shape::kList;
      fs.element_id = f.at("element_id");
      fs.element_required = f.value("element_required", false);
    } else if (shape == "map") {
      fs.shape = FieldSchema::Shape::kMap;
      fs.key_id = f.at("key_id");
      fs.value_id = f.at("value_id");
      fs.value_required = f.value("value_required", false);
    }
  }
  Normalize(&fs);
  return fs;
}

// Appends one JSON cell as a slot of `col` (or of `prim`, for primitives),
// which holds `have` slots.
void AppendCell(const json& cell, const FieldSchema& f, size_t have, ColumnData* col, ValueVector* prim) {
  if (f.is_primitive()) {
    AppendValue(cell, f.value, prim);
    return;
  }
  col->is_null.resize(have, 0);
  col->is_null.push_back(cell.is_null());
  if (f.shape == FieldSchema::Shape::kStruct) {
    col->children.resize(f.children.size());
    for (size_t k = 0; k < f.children.size(); ++k) {
      const FieldSchema& c = f.children[k];
      const json& v = cell.is_null() || !cell.contains(c.name) ? json(nullptr) : cell.at(c.name);
      AppendCell(v, c, have, &col->children[k], &col->children[k].values);
    }
    return;
  }
  if (col->offsets.empty()) col->offsets.push_back(0);
  const FieldSchema& e = f.children.back();
  if (!e.is_primitive()) col->children.resize(1);
  int32_t n = 0;
  for (const auto& item : cell.is_null() ? json::array() : cell) {
    const size_t at = static_cast<size_t>(col->offsets.back() + n);
    const json& v = f.shape == FieldSchema::Shape::kMap ? item.at(1) : item;
    if (f.shape == FieldSchema::Shape::kMap) AppendValue(item.at(0), f.children[0].value, &col->keys);
    if (e.is_primitive()) {
      AppendValue(v, e.value, &col->values);
    } else {
      AppendCell(v, e, at, &col->children[0], &col->children[0].values);
    }
    ++n;
  }
  col->offsets.push_back(col->offsets.back() + n);
}

json CellToJson(const FieldSchema& f, const ColumnData* col, const ValueVector* prim, size_t i) {
  if (f.is_primitive()) return ValueToJson(*prim, i, f.value);
  if (!col->is_null.empty() && col->is_null[i]) return nullptr;
  if (f.shape == FieldSchema::Shape::kStruct) {
    json o = json::object();
    for (size_t k = 0; k < f.children.size(); ++k)
      o[f.children[k].name] = CellToJson(f.children[k], &col->children[k], &col->children[k].values, i);
    return o;
  }
  json items = json::array();
  const FieldSchema& e = f.children.back();
  for (auto j = static_cast<size_t>(col->offsets[i]); j < static_cast<size_t>(col->offsets[i + 1]); ++j) {
    json v = e.is_primitive() ? ValueToJson(col->values, j, e.value)
                              : CellToJson(e, &col->children[0], &col->children[0].values, j);
    if (f.shape == FieldSchema::Shape::kMap) {
      items.push_back(json::array({ValueToJson(col->keys, j, f.children[0].value), v}));
    } else {
      items.push_back(v);
    }
  }
  return items;
}

json SpecToJson(const ValueSpec& s);

json FieldToJson(const FieldSchema& fs) {
  json j;
  if (fs.shape == FieldSchema::Shape::kPrimitive || fs.has_primitive_values()) {
    j = SpecToJson(fs.value);
    j["shape"] = fs.shape == FieldSchema::Shape::kList  ? "list"
                 : fs.shape == FieldSchema::Shape::kMap ? "map"
                                                        : "primitive";
    if (fs.shape == FieldSchema::Shape::kList) j["element_id"] = fs.element_id;
    if (fs.shape == FieldSchema::Shape::kMap) {
      j["key_id"] = fs.key_id;
      j["value_id"] = fs.value_id;
    }
  } else if (fs.shape == FieldSchema::Shape::kStruct) {
    j["type"] = "struct";
    for (const auto& c : fs.children) j["fields"].push_back(FieldToJson(c));
  } else {
    j["type"] = fs.shape == FieldSchema::Shape::kList ? "list" : "map";
    if (fs.shape == FieldSchema::Shape::kMap) j["key"] = FieldToJson(fs.children[0]);
    j[fs.shape == FieldSchema::Shape::kList ? "element" : "value"] = FieldToJson(fs.children.back());
  }
  j["name"] = fs.name;
  j["id"] = fs.field_id;
  j["required"] = fs.required;
  return j;
}

json SpecToJson(const ValueSpec& s) {
  json j{{"type", ValueTypeName(s.type)}};
  if (s.type == ValueType::kFixed) j["length"] = s.fixed_length;
  if (s.type == ValueType::kDecimal) {
    j["precision"] = s.precision;
    j["scale"] = s.scale;
  }
  return j;
}

int Write(const std::string& spec_path, const std::string& out_path) {
  std::ifstream in(spec_path);
  json spec = json::parse(in);
  FileSchema schema;
  for (const auto& f : spec.at("fields")) schema.fields.push_back(ParseField(f));
  WriterOptions opts;
  const json o = spec.value("options", json::object());
  if (o.contains("codec")) {
    auto c = ParseCodec(o["codec"]);
    if (!c.ok()) Die(c.status().ToString());
    opts.codec = *c;
  }
  opts.compression_level = o.value("level", 3);
  opts.page_bytes = o.value("page_bytes", opts.page_bytes);
  opts.row_group_bytes = o.value("row_group_bytes", opts.row_group_bytes);
  opts.dictionary_bytes_limit = o.value("dictionary_bytes_limit", opts.dictionary_bytes_limit);
  opts.dictionary_for_byte_arrays = o.value("dictionary", true);
  opts.delta_for_integers = o.value("delta", true);
  const json metadata = o.value("metadata", json::object());  // not a temporary: items() refers into it
  for (auto& [k, v] : metadata.items()) opts.key_value_metadata.push_back({k, v.get<std::string>()});

  auto sink = OpenFileSink(out_path);
  if (!sink.ok()) Die(sink.status().ToString());
  auto w = FileWriter::Open(schema, opts, std::move(sink).value());
  if (!w.ok()) Die(w.status().ToString());
  // Rows arrive in batches of `batch_rows` so that row groups can be cut.
  const auto& rows = spec.at("rows");
  const size_t batch_rows = spec.value("batch_rows", size_t{1000});
  for (size_t begin = 0; begin < rows.size(); begin += batch_rows) {
    size_t end = std::min(rows.size(), begin + batch_rows);
    RowBatch b;
    b.num_rows = end - begin;
    b.columns.resize(schema.fields.size());
    for (size_t c = 0; c < schema.fields.size(); ++c) {
      for (size_t r = begin; r < end; ++r)
        AppendCell(rows[r].at(c), schema.fields[c], r - begin, &b.columns[c], &b.columns[c].values);
      if (end == begin && !schema.fields[c].is_primitive() &&
          schema.fields[c].shape != FieldSchema::Shape::kStruct)
        b.columns[c].offsets.push_back(0);
    }
    Status st = (*w)->Write(b);
    if (!st.ok()) Die(st.ToString());
  }
  auto res = (*w)->Close();
  if (!res.ok()) Die(res.status().ToString());
  json out{{"record_count", res->record_count},
           {"file_size", res->file_size},
           {"split_offsets", res->split_offsets}};
  for (const auto& m : res->columns) {
    json c{{"field_id", m.field_id},
           {"value_count", m.value_count},
           {"null_count", m.null_count},
           {"column_size", m.column_size}};
    if (m.lower_bound) c["lower_bound"] = Hex(*m.lower_bound);
    if (m.upper_bound) c["upper_bound"] = Hex(*m.upper_bound);
    out["columns"].push_back(c);
  }
  std::cout << out.dump() << "\n";
  return 0;
}

int Read(const std::string& path, const std::vector<int32_t>& ids) {
  auto file = OpenInputFile(path);
  if (!file.ok()) Die(file.status().ToString());
  auto r = FileReader::Open(std::move(file).value());
  if (!r.ok()) Die(r.status().ToString());
  std::vector<size_t> fields;
  for (int32_t id : ids) {
    auto idx = (*r)->FieldIndex(id);
    if (!idx) Die("no field with id " + std::to_string(id));
    fields.push_back(*idx);
  }
  if (fields.empty()) {
    for (size_t i = 0; i < (*r)->schema().fields.size(); ++i) fields.push_back(i);
  }
  json out;
  for (size_t f : fields) {
    json j = FieldToJson((*r)->schema().fields[f]);
    out["schema"].push_back(j);
  }
  out["rows"] = json::array();
  out["row_groups"] = (*r)->num_row_groups();
  for (size_t g = 0; g < (*r)->num_row_groups(); ++g) {
    auto batch = (*r)->ReadRowGroup(g, fields);
    if (!batch.ok()) Die(batch.status().ToString());
    for (size_t row = 0; row < batch->num_rows; ++row) {
      json jr = json::array();
      for (size_t k = 0; k < fields.size(); ++k) {
        const FieldSchema& fs = (*r)->schema().fields[fields[k]];
        jr.push_back(CellToJson(fs, &batch->columns[k], &batch->columns[k].values, row));
      }
      out["rows"].push_back(jr);
    }
  }
  // Damaged files can hold invalid UTF-8 in string columns; show it, do not abort.
  std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::string(argv[1]) == "write") return Write(argv[2], argv[3]);
  if (argc >= 3 && std::string(argv[1]) == "read") {
    std::vector<int32_t> ids;
    for (int i = 3; i < argc; ++i) ids.push_back(std::stoi(argv[i]));
    return Read(argv[2], ids);
  }
  if (argc == 6 && std::string(argv[1]) == "select") {
    auto file = OpenInputFile(argv[2]);
    if (!file.ok()) Die(file.status().ToString());
    auto r = FileReader::Open(std::move(file).value());
    if (!r.ok()) Die(r.status().ToString());
    json out = (*r)->SelectRowGroups(std::stoi(argv[3]), std::stoll(argv[4]), std::stoll(argv[5]));
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::cerr << "usage: parquet_tool write SPEC.json OUT.parquet | read IN.parquet [FIELD_ID...] | select "
               "IN.parquet FIELD_ID LO HI\n";
  return 2;
}
