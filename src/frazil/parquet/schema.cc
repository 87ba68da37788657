#include "frazil/parquet/schema.h"

#include <set>

namespace frazil::parquet {

const char* ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kBoolean:
      return "boolean";
    case ValueType::kInt32:
      return "int";
    case ValueType::kInt64:
      return "long";
    case ValueType::kFloat:
      return "float";
    case ValueType::kDouble:
      return "double";
    case ValueType::kString:
      return "string";
    case ValueType::kBinary:
      return "binary";
    case ValueType::kFixed:
      return "fixed";
    case ValueType::kDate:
      return "date";
    case ValueType::kTimestamp:
      return "timestamp";
    case ValueType::kTimestampTz:
      return "timestamptz";
    case ValueType::kUuid:
      return "uuid";
    case ValueType::kDecimal:
      return "decimal";
  }
  return "unknown";
}

int32_t DecimalBytes(int32_t precision) {
  // The largest unscaled value is 10^p - 1; find n with 2^(8n-1) > 10^p - 1.
  for (int32_t n = 1; n <= 16; ++n) {
    long double max = 1;
    for (int i = 0; i < 8 * n - 1; ++i) max *= 2;
    long double need = 1;
    for (int i = 0; i < precision; ++i) need *= 10;
    if (max >= need) return n;
  }
  return 16;
}

namespace {

Status CheckValue(const ValueSpec& v, const std::string& name) {
  if (v.type == ValueType::kFixed && v.fixed_length <= 0) {
    return Status::InvalidArgument("column " + name + ": fixed type needs a positive length");
  }
  if (v.type == ValueType::kDecimal &&
      (v.precision < 1 || v.precision > 38 || v.scale < 0 || v.scale > v.precision)) {
    return Status::InvalidArgument("column " + name + ": decimal(" + std::to_string(v.precision) + "," +
                                   std::to_string(v.scale) +
                                   ") is out of range (precision 1..38, 0 <= scale <= precision)");
  }
  return Status::Ok();
}

// Fills the physical type and annotations of a leaf element.
void Annotate(const ValueSpec& v, SchemaElement* e, LeafColumn* leaf) {
  using K = LogicalType::Kind;
  auto set = [&](PhysicalType p) {
    e->type = p;
    leaf->physical = p;
  };
  switch (v.type) {
    case ValueType::kBoolean:
      set(PhysicalType::kBoolean);
      break;
    case ValueType::kInt32:
      set(PhysicalType::kInt32);
      break;
    case ValueType::kInt64:
      set(PhysicalType::kInt64);
      break;
    case ValueType::kFloat:
      set(PhysicalType::kFloat);
      break;
    case ValueType::kDouble:
      set(PhysicalType::kDouble);
      break;
    case ValueType::kString:
      set(PhysicalType::kByteArray);
      e->converted_type = ConvertedType::kUtf8;
      e->logical_type.kind = K::kString;
      break;
    case ValueType::kBinary:
      set(PhysicalType::kByteArray);
      break;
    case ValueType::kFixed:
      set(PhysicalType::kFixedLenByteArray);
      e->type_length = leaf->type_length = v.fixed_length;
      break;
    case ValueType::kDate:
      set(PhysicalType::kInt32);
      e->converted_type = ConvertedType::kDate;
      e->logical_type.kind = K::kDate;
      break;
    case ValueType::kTimestamp:
    case ValueType::kTimestampTz:
      set(PhysicalType::kInt64);
      e->converted_type = ConvertedType::kTimestampMicros;
      e->logical_type.kind = K::kTimestamp;
      e->logical_type.unit = TimeUnit::kMicros;
      e->logical_type.adjusted_to_utc = v.type == ValueType::kTimestampTz;
      break;
    case ValueType::kUuid:
      set(PhysicalType::kFixedLenByteArray);
      e->type_length = leaf->type_length = 16;
      e->logical_type.kind = K::kUuid;
      break;
    case ValueType::kDecimal:
      set(PhysicalType::kFixedLenByteArray);
      e->type_length = leaf->type_length = DecimalBytes(v.precision);
      e->converted_type = ConvertedType::kDecimal;
      e->scale = v.scale;
      e->precision = v.precision;
      e->logical_type.kind = K::kDecimal;
      e->logical_type.scale = v.scale;
      e->logical_type.precision = v.precision;
      break;
  }
}

Repetition Rep(bool required) { return required ? Repetition::kRequired : Repetition::kOptional; }

}  // namespace

void Normalize(FieldSchema* f) {
  using S = FieldSchema::Shape;
  if (f->shape == S::kList && f->children.empty()) {
    FieldSchema e;
    e.name = "element";
    e.field_id = f->element_id;
    e.required = f->element_required;
    e.value = f->value;
    f->children.push_back(std::move(e));
  } else if (f->shape == S::kMap && f->children.empty()) {
    FieldSchema k;
    k.name = "key";
    k.field_id = f->key_id;
    k.required = true;
    k.value = ValueSpec{ValueType::kString};
    FieldSchema v;
    v.name = "value";
    v.field_id = f->value_id;
    v.required = f->value_required;
    v.value = f->value;
    f->children.push_back(std::move(k));
    f->children.push_back(std::move(v));
  }
  for (auto& c : f->children) Normalize(&c);
  if (f->shape == S::kList && f->children.size() == 1) {
    f->element_id = f->children[0].field_id;
    f->element_required = f->children[0].required;
    if (f->children[0].is_primitive()) f->value = f->children[0].value;
  } else if (f->shape == S::kMap && f->children.size() == 2) {
    f->key_id = f->children[0].field_id;
    f->value_id = f->children[1].field_id;
    f->value_required = f->children[1].required;
    if (f->children[1].is_primitive()) f->value = f->children[1].value;
  }
}

void Normalize(FileSchema* s) {
  for (auto& f : s->fields) Normalize(&f);
}

namespace {

// Deeper schemas are refused: recursion over a file's schema stays bounded.
constexpr int kMaxDepth = 64;

// Lays out the (normalized) schema tree as schema elements and leaves.
class SchemaLayout {
 public:
  SchemaLayout(std::vector<SchemaElement>* out, std::vector<LeafColumn>* leaves)
      : out_(out), leaves_(leaves) {}

  // `def` and `rep` are the levels at which the parent is present.
  Status Emit(const FieldSchema& f, size_t top, LeafColumn::Role role, int16_t def, int16_t rep,
              bool outside_repeated, std::vector<std::string> path, int depth) {
    using S = FieldSchema::Shape;
    path.push_back(f.name);
    const std::string what = Join(path);
    if (depth > kMaxDepth) return Status::InvalidArgument("column " + what + ": nested too deep");
    if (f.name.empty()) return Status::InvalidArgument("column " + what + ": a field has no name");
    FRAZIL_RETURN_IF_ERROR(UseId(f.field_id, "column " + what));
    const int16_t my_def = static_cast<int16_t>(def + (f.required ? 0 : 1));
    SchemaElement e;
    e.name = f.name;
    e.repetition = Rep(f.required);
    e.field_id = f.field_id;
    if (f.shape == S::kPrimitive) {
      if (!f.children.empty())
        return Status::InvalidArgument("column " + what + ": a primitive with children");
      FRAZIL_RETURN_IF_ERROR(CheckValue(f.value, what));
      LeafColumn leaf;
      Annotate(f.value, &e, &leaf);
      leaf.field_index = top;
      leaf.role = role;
      leaf.outside_repeated = outside_repeated;
      leaf.field_id = f.field_id;
      leaf.value = f.value;
      leaf.max_def = my_def;
      leaf.max_rep = rep;
      leaf.path = std::move(path);
      out_->push_back(e);
      leaves_->push_back(std::move(leaf));
      return Status::Ok();
    }
    if (f.shape == S::kStruct) {
      if (f.children.empty()) return Status::InvalidArgument("column " + what + ": a struct needs a field");
      std::set<std::string> names;
      for (const auto& c : f.children) {
        if (!names.insert(c.name).second)
          return Status::InvalidArgument("column " + what + ": field name " + c.name + " used twice");
      }
      e.num_children = static_cast<int32_t>(f.children.size());
      out_->push_back(e);
      for (const auto& c : f.children) {
        FRAZIL_RETURN_IF_ERROR(
            Emit(c, top, LeafColumn::Role::kStructField, my_def, rep, outside_repeated, path, depth + 1));
      }
      return Status::Ok();
    }
    const bool is_list = f.shape == S::kList;
    if (f.children.size() != (is_list ? 1u : 2u)) {
      return Status::InvalidArgument(
          "column " + what +
          (is_list ? ": a list needs one element type" : ": a map needs a key and a value type"));
    }
    if (!is_list && (!f.children[0].is_primitive() || !f.children[0].required)) {
      return Status::InvalidArgument("column " + what + ": map keys must be required primitives");
    }
    e.num_children = 1;
    e.converted_type = is_list ? ConvertedType::kList : ConvertedType::kMap;
    e.logical_type.kind = is_list ? LogicalType::Kind::kList : LogicalType::Kind::kMap;
    out_->push_back(e);
    SchemaElement repeated;
    repeated.name = is_list ? "list" : "key_value";
    repeated.repetition = Repetition::kRepeated;
    repeated.num_children = is_list ? 1 : 2;
    out_->push_back(repeated);
    path.push_back(repeated.name);
    const auto inner_def = static_cast<int16_t>(my_def + 1);
    const auto inner_rep = static_cast<int16_t>(rep + 1);
    if (is_list) {
      FieldSchema element = f.children[0];
      element.name = "element";  // the name LogicalTypes.md asks for
      return Emit(element, top, LeafColumn::Role::kListElement, inner_def, inner_rep, false, path, depth + 1);
    }
    FieldSchema key = f.children[0], value = f.children[1];
    key.name = "key";
    value.name = "value";
    FRAZIL_RETURN_IF_ERROR(
        Emit(key, top, LeafColumn::Role::kMapKey, inner_def, inner_rep, false, path, depth + 1));
    return Emit(value, top, LeafColumn::Role::kMapValue, inner_def, inner_rep, false, path, depth + 1);
  }

 private:
  static std::string Join(const std::vector<std::string>& path) {
    std::string s;
    for (const auto& p : path) s += (s.empty() ? "" : ".") + p;
    return s;
  }
  Status UseId(int32_t id, const std::string& what) {
    if (id <= 0)
      return Status::InvalidArgument(what + ": field id must be positive, got " + std::to_string(id));
    if (!ids_.insert(id).second)
      return Status::InvalidArgument(what + ": field id " + std::to_string(id) + " used twice");
    return Status::Ok();
  }

  std::vector<SchemaElement>* out_;
  std::vector<LeafColumn>* leaves_;
  std::set<int32_t> ids_;
};

}  // namespace

Result<std::vector<SchemaElement>> ToParquetSchema(const FileSchema& schema_in,
                                                   std::vector<LeafColumn>* leaves) {
  FileSchema schema = schema_in;
  Normalize(&schema);
  std::vector<SchemaElement> out;
  leaves->clear();
  SchemaElement root;
  root.name = "table";
  root.num_children = static_cast<int32_t>(schema.fields.size());
  out.push_back(root);
  std::set<std::string> names;
  SchemaLayout layout(&out, leaves);
  for (size_t i = 0; i < schema.fields.size(); ++i) {
    const FieldSchema& f = schema.fields[i];
    if (f.name.empty()) return Status::InvalidArgument("column " + std::to_string(i) + " has no name");
    if (!names.insert(f.name).second) return Status::InvalidArgument("column name " + f.name + " used twice");
    FRAZIL_RETURN_IF_ERROR(layout.Emit(f, i, LeafColumn::Role::kValue, 0, 0, true, {}, 0));
  }
  return out;
}

namespace {

Result<ValueSpec> ValueFromElement(const SchemaElement& e) {
  using K = LogicalType::Kind;
  if (!e.type) return Status::Corruption("parquet schema: leaf " + e.name + " has no physical type");
  ValueSpec v;
  const auto lk = e.logical_type.kind;
  const auto ct = e.converted_type_raw.value_or(-1);
  switch (*e.type) {
    case PhysicalType::kBoolean:
      v.type = ValueType::kBoolean;
      return v;
    case PhysicalType::kInt32:
    case PhysicalType::kInt64:
      // Java Iceberg writes small decimals as INT32 / INT64.
      if (lk == K::kDecimal || ct == static_cast<int>(ConvertedType::kDecimal)) {
        v.type = ValueType::kDecimal;
        v.precision = lk == K::kDecimal ? e.logical_type.precision : e.precision.value_or(0);
        v.scale = lk == K::kDecimal ? e.logical_type.scale : e.scale.value_or(0);
        return v;
      }
      if (*e.type == PhysicalType::kInt32) {
        v.type = (lk == K::kDate || ct == static_cast<int>(ConvertedType::kDate)) ? ValueType::kDate
                                                                                  : ValueType::kInt32;
        return v;
      }
      if (lk == K::kTimestamp || ct == static_cast<int>(ConvertedType::kTimestampMicros)) {
        if (lk == K::kTimestamp && e.logical_type.unit != TimeUnit::kMicros) {
          return Status::InvalidArgument("column " + e.name + ": only microsecond timestamps are supported");
        }
        // Without a logical type, the converted type means UTC-adjusted.
        bool utc = lk == K::kTimestamp ? e.logical_type.adjusted_to_utc : true;
        v.type = utc ? ValueType::kTimestampTz : ValueType::kTimestamp;
      } else {
        v.type = ValueType::kInt64;
      }
      return v;
    case PhysicalType::kFloat:
      v.type = ValueType::kFloat;
      return v;
    case PhysicalType::kDouble:
      v.type = ValueType::kDouble;
      return v;
    case PhysicalType::kByteArray:
      v.type = (lk == K::kString || lk == K::kJson || lk == K::kEnum || ct == 0) ? ValueType::kString
                                                                                 : ValueType::kBinary;
      return v;
    case PhysicalType::kFixedLenByteArray:
      if (!e.type_length || *e.type_length <= 0)
        return Status::Corruption("parquet schema: fixed column " + e.name + " without a length");
      if (lk == K::kUuid) {
        v.type = ValueType::kUuid;
      } else if (lk == K::kDecimal || ct == static_cast<int>(ConvertedType::kDecimal)) {
        v.type = ValueType::kDecimal;
        v.precision = lk == K::kDecimal ? e.logical_type.precision : e.precision.value_or(0);
        v.scale = lk == K::kDecimal ? e.logical_type.scale : e.scale.value_or(0);
        if (*e.type_length > 16)
          return Status::InvalidArgument("column " + e.name + ": decimals over 16 bytes are not supported");
      } else {
        v.type = ValueType::kFixed;
      }
      v.fixed_length = *e.type_length;
      return v;
    case PhysicalType::kInt96:
      break;
  }
  return Status::InvalidArgument("column " + e.name + ": physical type INT96 is not supported");
}

}  // namespace

namespace {

// Reads the schema tree from the flattened elements, depth first.
class SchemaParser {
 public:
  SchemaParser(const std::vector<SchemaElement>& el, std::vector<LeafColumn>* leaves)
      : el_(el), leaves_(leaves) {}

  size_t pos() const { return pos_; }

  Result<const SchemaElement*> Next() {
    if (pos_ >= el_.size()) return Status::Corruption("parquet schema: elements end inside a group");
    return &el_[pos_++];
  }

  // Parses `e` (already taken) and its children. `def`/`rep` are the levels
  // at which the parent is present; `as_required` reads a repeated element
  // of a legacy list as the required element itself.
  Result<FieldSchema> Parse(const SchemaElement& e, size_t top, LeafColumn::Role role, int16_t def,
                            int16_t rep, bool outside_repeated, std::vector<std::string> path, int depth,
                            bool as_required) {
    using S = FieldSchema::Shape;
    path.push_back(e.name);
    const std::string what = "column " + Join(path);
    if (depth > kMaxDepth) return Status::InvalidArgument(what + ": nested too deep");
    if (!e.repetition) return Status::Corruption("parquet schema: " + what + " has no repetition");
    if (*e.repetition == Repetition::kRepeated && !as_required) {
      // LogicalTypes.md: a repeated field outside a LIST or MAP is a
      // required list of required elements of the field's type.
      FieldSchema list;
      list.name = e.name;
      list.field_id = e.field_id.value_or(0);
      list.required = true;
      list.shape = S::kList;
      path.pop_back();
      FRAZIL_ASSIGN_OR_RETURN(FieldSchema element,
                              Parse(e, top, LeafColumn::Role::kListElement, static_cast<int16_t>(def + 1),
                                    static_cast<int16_t>(rep + 1), false, path, depth + 1, true));
      element.field_id = 0;
      list.children.push_back(std::move(element));
      Normalize(&list);
      return list;
    }
    FieldSchema f;
    f.name = e.name;
    f.field_id = e.field_id.value_or(0);
    f.required = as_required || *e.repetition == Repetition::kRequired;
    const int16_t my_def = static_cast<int16_t>(def + (f.required ? 0 : 1));
    if (!e.num_children) {
      FRAZIL_ASSIGN_OR_RETURN(f.value, ValueFromElement(e));
      LeafColumn leaf;
      leaf.field_index = top;
      leaf.role = role;
      leaf.outside_repeated = outside_repeated;
      leaf.field_id = f.field_id;
      leaf.value = f.value;
      leaf.physical = *e.type;
      leaf.type_length = e.type_length.value_or(0);
      leaf.max_def = my_def;
      leaf.max_rep = rep;
      leaf.path = std::move(path);
      leaves_->push_back(std::move(leaf));
      return f;
    }
    const int32_t n = *e.num_children;
    if (n <= 0 || static_cast<size_t>(n) > el_.size() - pos_)
      return Status::Corruption("parquet schema: " + what + " has a bad child count");
    const auto ct = e.converted_type_raw.value_or(-1);
    const bool is_list =
        e.logical_type.kind == LogicalType::Kind::kList || ct == static_cast<int>(ConvertedType::kList);
    const bool is_map = e.logical_type.kind == LogicalType::Kind::kMap ||
                        ct == static_cast<int>(ConvertedType::kMap) ||
                        ct == static_cast<int>(ConvertedType::kMapKeyValue);
    if (!is_list && !is_map) {
      f.shape = S::kStruct;
      for (int32_t c = 0; c < n; ++c) {
        FRAZIL_ASSIGN_OR_RETURN(const SchemaElement* ce, Next());
        FRAZIL_ASSIGN_OR_RETURN(FieldSchema child, Parse(*ce, top, LeafColumn::Role::kStructField, my_def,
                                                         rep, outside_repeated, path, depth + 1, false));
        f.children.push_back(std::move(child));
      }
      return f;
    }
    if (n != 1) return Status::InvalidArgument(what + ": a LIST or MAP group must have one child");
    FRAZIL_ASSIGN_OR_RETURN(const SchemaElement* r, Next());
    if (r->repetition != Repetition::kRepeated)
      return Status::InvalidArgument(what + ": expected a repeated field inside the " +
                                     (is_list ? "LIST" : "MAP"));
    path.push_back(r->name);
    const auto inner_def = static_cast<int16_t>(my_def + 1);
    const auto inner_rep = static_cast<int16_t>(rep + 1);
    const int32_t rn = r->num_children.value_or(0);
    if (rn < 0 || static_cast<size_t>(rn) > el_.size() - pos_)
      return Status::Corruption("parquet schema: " + what + " has a bad child count");
    if (is_list) {
      f.shape = S::kList;
      // The backward-compatibility rules of LogicalTypes.md: a repeated
      // primitive, a repeated group of several fields, or one named "array"
      // or "<list>_tuple" is itself the (required) element.
      const bool legacy = rn == 0 || rn > 1 || r->name == "array" || r->name == e.name + "_tuple";
      FieldSchema element;
      if (legacy) {
        path.pop_back();
        FRAZIL_ASSIGN_OR_RETURN(element, Parse(*r, top, LeafColumn::Role::kListElement, inner_def, inner_rep,
                                               false, path, depth + 1, true));
      } else {
        FRAZIL_ASSIGN_OR_RETURN(const SchemaElement* ce, Next());
        if (ce->repetition == Repetition::kRepeated)
          return Status::InvalidArgument(what + ": a list element cannot be repeated");
        FRAZIL_ASSIGN_OR_RETURN(element, Parse(*ce, top, LeafColumn::Role::kListElement, inner_def, inner_rep,
                                               false, path, depth + 1, false));
      }
      f.children.push_back(std::move(element));
      Normalize(&f);
      return f;
    }
    f.shape = S::kMap;
    if (rn != 2) return Status::InvalidArgument(what + ": map entries must have a key and a value");
    FRAZIL_ASSIGN_OR_RETURN(const SchemaElement* ke, Next());
    if (ke->num_children || ke->repetition != Repetition::kRequired)
      return Status::InvalidArgument(what + ": map keys must be required primitives");
    FRAZIL_ASSIGN_OR_RETURN(FieldSchema key, Parse(*ke, top, LeafColumn::Role::kMapKey, inner_def, inner_rep,
                                                   false, path, depth + 1, false));
    FRAZIL_ASSIGN_OR_RETURN(const SchemaElement* ve, Next());
    if (ve->repetition == Repetition::kRepeated)
      return Status::InvalidArgument(what + ": a map value cannot be repeated");
    FRAZIL_ASSIGN_OR_RETURN(FieldSchema value, Parse(*ve, top, LeafColumn::Role::kMapValue, inner_def,
                                                     inner_rep, false, path, depth + 1, false));
    f.children.push_back(std::move(key));
    f.children.push_back(std::move(value));
    Normalize(&f);
    return f;
  }

 private:
  static std::string Join(const std::vector<std::string>& path) {
    std::string s;
    for (const auto& p : path) s += (s.empty() ? "" : ".") + p;
    return s;
  }

  const std::vector<SchemaElement>& el_;
  std::vector<LeafColumn>* leaves_;
  size_t pos_ = 1;  // after the root
};

}  // namespace

Result<FileSchema> FromParquetSchema(const std::vector<SchemaElement>& el, std::vector<LeafColumn>* leaves) {
  leaves->clear();
  FileSchema schema;
  if (el.empty() || !el[0].num_children) return Status::Corruption("parquet schema has no root group");
  const int32_t top = *el[0].num_children;
  if (top < 0 || static_cast<size_t>(top) > el.size())
    return Status::Corruption("parquet schema: bad root child count");
  SchemaParser parser(el, leaves);
  for (int32_t c = 0; c < top; ++c) {
    FRAZIL_ASSIGN_OR_RETURN(const SchemaElement* e, parser.Next());
    FRAZIL_ASSIGN_OR_RETURN(FieldSchema f, parser.Parse(*e, schema.fields.size(), LeafColumn::Role::kValue, 0,
                                                        0, true, {}, 0, false));
    schema.fields.push_back(std::move(f));
  }
  if (parser.pos() != el.size())
    return Status::Corruption("parquet schema: elements left over after the root's children");
  return schema;
}

}  // namespace frazil::parquet
