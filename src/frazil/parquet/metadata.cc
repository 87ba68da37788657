#include "frazil/parquet/metadata.h"

#include "frazil/parquet/thrift_compact.h"

namespace frazil::parquet {

using thrift::FieldHeader;
using thrift::Type;

namespace {

// ---------------------------------------------------------------------------
// Encoding

void EncodeLogicalType(thrift::Writer& w, const LogicalType& lt) {
  using K = LogicalType::Kind;
  auto empty = [&](int16_t id) {
    w.FieldStructBegin(id);
    w.EndStruct();
  };
  w.FieldStructBegin(10);
  switch (lt.kind) {
    case K::kString:
      empty(1);
      break;
    case K::kMap:
      empty(2);
      break;
    case K::kList:
      empty(3);
      break;
    case K::kEnum:
      empty(4);
      break;
    case K::kDecimal:
      w.FieldStructBegin(5);
      w.FieldI32(1, lt.scale);
      w.FieldI32(2, lt.precision);
      w.EndStruct();
      break;
    case K::kDate:
      empty(6);
      break;
    case K::kTime:
    case K::kTimestamp:
      w.FieldStructBegin(lt.kind == K::kTime ? 7 : 8);
      w.FieldBool(1, lt.adjusted_to_utc);
      w.FieldStructBegin(2);
      empty(lt.unit == TimeUnit::kMillis ? 1 : lt.unit == TimeUnit::kMicros ? 2 : 3);
      w.EndStruct();
      w.EndStruct();
      break;
    case K::kInteger:
      w.FieldStructBegin(10);
      w.FieldByte(1, lt.bit_width);
      w.FieldBool(2, lt.is_signed);
      w.EndStruct();
      break;
    case K::kJson:
      empty(12);
      break;
    case K::kBson:
      empty(13);
      break;
    case K::kUuid:
      empty(14);
      break;
    case K::kUnknown:
      empty(11);
      break;
    case K::kNone:
    case K::kOther:
      break;
  }
  w.EndStruct();
}

void EncodeSchemaElement(thrift::Writer& w, const SchemaElement& e) {
  w.ElemStructBegin();
  if (e.type) w.FieldI32(1, static_cast<int32_t>(*e.type));
  if (e.type_length) w.FieldI32(2, *e.type_length);
  if (e.repetition) w.FieldI32(3, static_cast<int32_t>(*e.repetition));
  w.FieldString(4, e.name);
  if (e.num_children) w.FieldI32(5, *e.num_children);
  if (e.converted_type) w.FieldI32(6, static_cast<int32_t>(*e.converted_type));
  if (e.scale) w.FieldI32(7, *e.scale);
  if (e.precision) w.FieldI32(8, *e.precision);
  if (e.field_id) w.FieldI32(9, *e.field_id);
  if (e.logical_type.kind != LogicalType::Kind::kNone) EncodeLogicalType(w, e.logical_type);
  w.EndStruct();
}

void FieldStringOpt(thrift::Writer& w, int16_t id, const std::optional<std::string>& s) {
  if (s) w.FieldString(id, *s);
}

void EncodeStatistics(thrift::Writer& w, int16_t id, const Statistics& s) {
  w.FieldStructBegin(id);
  FieldStringOpt(w, 1, s.max);
  FieldStringOpt(w, 2, s.min);
  if (s.null_count) w.FieldI64(3, *s.null_count);
  if (s.distinct_count) w.FieldI64(4, *s.distinct_count);
  FieldStringOpt(w, 5, s.max_value);
  FieldStringOpt(w, 6, s.min_value);
  if (s.is_max_value_exact) w.FieldBool(7, *s.is_max_value_exact);
  if (s.is_min_value_exact) w.FieldBool(8, *s.is_min_value_exact);
  w.EndStruct();
}

void EncodeColumnMetaData(thrift::Writer& w, const ColumnMetaData& m) {
  w.FieldStructBegin(3);
  w.FieldI32(1, static_cast<int32_t>(m.type));
  w.FieldListBegin(2, Type::kI32, m.encodings.size());
  for (auto e : m.encodings) w.ElemI32(static_cast<int32_t>(e));
  w.FieldListBegin(3, Type::kBinary, m.path_in_schema.size());
  for (const auto& p : m.path_in_schema) w.ElemString(p);
  w.FieldI32(4, static_cast<int32_t>(m.codec));
  w.FieldI64(5, m.num_values);
  w.FieldI64(6, m.total_uncompressed_size);
  w.FieldI64(7, m.total_compressed_size);
  w.FieldI64(9, m.data_page_offset);
  if (m.dictionary_page_offset) w.FieldI64(11, *m.dictionary_page_offset);
  if (m.statistics) EncodeStatistics(w, 12, *m.statistics);
  w.EndStruct();
}

// ---------------------------------------------------------------------------
// Decoding: each function reads the fields of one struct whose BeginStruct
// has been called, skipping fields it does not know.

template <typename Fn>
Status ReadStruct(thrift::Reader& r, Fn&& on_field) {
  FRAZIL_RETURN_IF_ERROR(r.BeginStruct());
  for (;;) {
    FieldHeader h;
    FRAZIL_RETURN_IF_ERROR(r.ReadFieldHeader(&h));
    if (h.type == Type::kStop) return Status::Ok();
    FRAZIL_RETURN_IF_ERROR(on_field(h));
  }
}

template <typename Fn>
Status ReadList(thrift::Reader& r, Fn&& on_elem) {
  Type elem;
  uint32_t n;
  FRAZIL_RETURN_IF_ERROR(r.ReadListHeader(&elem, &n));
  for (uint32_t i = 0; i < n; ++i) FRAZIL_RETURN_IF_ERROR(on_elem(elem));
  return Status::Ok();
}

Status Expect(const FieldHeader& h, Type t) {
  if (h.type != t) {
    return Status::Corruption("parquet metadata: field " + std::to_string(h.id) + " has thrift type " +
                              std::to_string(static_cast<int>(h.type)) + ", expected " +
                              std::to_string(static_cast<int>(t)));
  }
  return Status::Ok();
}

template <typename E>
Status ReadEnum(thrift::Reader& r, const FieldHeader& h, E* out) {
  FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kI32));
  int32_t v;
  FRAZIL_RETURN_IF_ERROR(r.ReadI32(&v));
  *out = static_cast<E>(v);
  return Status::Ok();
}

Status ReadI32Field(thrift::Reader& r, const FieldHeader& h, int32_t* out) {
  FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kI32));
  return r.ReadI32(out);
}

Status ReadI64Field(thrift::Reader& r, const FieldHeader& h, int64_t* out) {
  FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kI64));
  return r.ReadI64(out);
}

Status ReadStringField(thrift::Reader& r, const FieldHeader& h, std::string* out) {
  FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kBinary));
  return r.ReadBinary(out);
}

Status SkipStruct(thrift::Reader& r) { return r.Skip(Type::kStruct); }

Status ReadTimeUnit(thrift::Reader& r, TimeUnit* unit) {
  return ReadStruct(r, [&](const FieldHeader& h) -> Status {
    if (h.id == 1) *unit = TimeUnit::kMillis;
    if (h.id == 2) *unit = TimeUnit::kMicros;
    if (h.id == 3) *unit = TimeUnit::kNanos;
    return r.Skip(h.type);
  });
}

Status ReadLogicalType(thrift::Reader& r, LogicalType* lt) {
  using K = LogicalType::Kind;
  return ReadStruct(r, [&](const FieldHeader& h) -> Status {
    if (h.type != Type::kStruct) return r.Skip(h.type);
    switch (h.id) {
      case 1:
        lt->kind = K::kString;
        return SkipStruct(r);
      case 2:
        lt->kind = K::kMap;
        return SkipStruct(r);
      case 3:
        lt->kind = K::kList;
        return SkipStruct(r);
      case 4:
        lt->kind = K::kEnum;
        return SkipStruct(r);
      case 5:
        lt->kind = K::kDecimal;
        return ReadStruct(r, [&](const FieldHeader& f) -> Status {
          if (f.id == 1) return ReadI32Field(r, f, &lt->scale);
          if (f.id == 2) return ReadI32Field(r, f, &lt->precision);
          return r.Skip(f.type);
        });
      case 6:
        lt->kind = K::kDate;
        return SkipStruct(r);
      case 7:
      case 8:
        lt->kind = h.id == 7 ? K::kTime : K::kTimestamp;
        return ReadStruct(r, [&](const FieldHeader& f) -> Status {
          if (f.id == 1) return r.ReadBool(f, &lt->adjusted_to_utc);
          if (f.id == 2 && f.type == Type::kStruct) return ReadTimeUnit(r, &lt->unit);
          return r.Skip(f.type);
        });
      case 10:
        lt->kind = K::kInteger;
        return ReadStruct(r, [&](const FieldHeader& f) -> Status {
          if (f.id == 1 && f.type == Type::kByte) return r.ReadByte(&lt->bit_width);
          if (f.id == 2) return r.ReadBool(f, &lt->is_signed);
          return r.Skip(f.type);
        });
      case 11:
        lt->kind = K::kUnknown;
        return SkipStruct(r);
      case 12:
        lt->kind = K::kJson;
        return SkipStruct(r);
      case 13:
        lt->kind = K::kBson;
        return SkipStruct(r);
      case 14:
        lt->kind = K::kUuid;
        return SkipStruct(r);
      default:
        lt->kind = K::kOther;
        return SkipStruct(r);
    }
  });
}

Status ReadSchemaElement(thrift::Reader& r, SchemaElement* e) {
  bool has_name = false;
  FRAZIL_RETURN_IF_ERROR(ReadStruct(r, [&](const FieldHeader& h) -> Status {
    int32_t v;
    switch (h.id) {
      case 1:
        FRAZIL_RETURN_IF_ERROR(ReadI32Field(r, h, &v));
        e->type = static_cast<PhysicalType>(v);
        return Status::Ok();
      case 2:
        FRAZIL_RETURN_IF_ERROR(ReadI32Field(r, h, &v));
        e->type_length = v;
        return Status::Ok();
      case 3:
        FRAZIL_RETURN_IF_ERROR(ReadI32Field(r, h, &v));
        e->repetition = static_cast<Repetition>(v);
        return Status::Ok();
      case 4:
        has_name = true;
        return ReadStringField(r, h, &e->name);
      case 5:
        FRAZIL_RETURN_IF_ERROR(ReadI32Field(r, h, &v));
        e->num_children = v;
        return Status::Ok();
      case 6:
        FRAZIL_RETURN_IF_ERROR(ReadI32Field(r, h, &v));
        e->converted_type = static_cast<ConvertedType>(v);
        e->converted_type_raw = v;
        return Status::Ok();
      case 7:
        FRAZIL_RETURN_IF_ERROR(ReadI32Field(r, h, &v));
        e->scale = v;
        return Status::Ok();
      case 8:
        FRAZIL_RETURN_IF_ERROR(ReadI32Field(r, h, &v));
        e->precision = v;
        return Status::Ok();
      case 9:
        FRAZIL_RETURN_IF_ERROR(ReadI32Field(r, h, &v));
        e->field_id = v;
        return Status::Ok();
      case 10:
        FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kStruct));
        return ReadLogicalType(r, &e->logical_type);
      default:
        return r.Skip(h.type);
    }
  }));
  if (!has_name) return Status::Corruption("parquet schema element without a name");
  return Status::Ok();
}

Status ReadStatistics(thrift::Reader& r, Statistics* s) {
  return ReadStruct(r, [&](const FieldHeader& h) -> Status {
    std::string str;
    int64_t v;
    bool b;
    switch (h.id) {
      case 1:
        FRAZIL_RETURN_IF_ERROR(ReadStringField(r, h, &str));
        s->max = str;
        return Status::Ok();
      case 2:
        FRAZIL_RETURN_IF_ERROR(ReadStringField(r, h, &str));
        s->min = str;
        return Status::Ok();
      case 3:
        FRAZIL_RETURN_IF_ERROR(ReadI64Field(r, h, &v));
        s->null_count = v;
        return Status::Ok();
      case 4:
        FRAZIL_RETURN_IF_ERROR(ReadI64Field(r, h, &v));
        s->distinct_count = v;
        return Status::Ok();
      case 5:
        FRAZIL_RETURN_IF_ERROR(ReadStringField(r, h, &str));
        s->max_value = str;
        return Status::Ok();
      case 6:
        FRAZIL_RETURN_IF_ERROR(ReadStringField(r, h, &str));
        s->min_value = str;
        return Status::Ok();
      case 7:
        FRAZIL_RETURN_IF_ERROR(r.ReadBool(h, &b));
        s->is_max_value_exact = b;
        return Status::Ok();
      case 8:
        FRAZIL_RETURN_IF_ERROR(r.ReadBool(h, &b));
        s->is_min_value_exact = b;
        return Status::Ok();
      default:
        return r.Skip(h.type);
    }
  });
}

Status ReadColumnMetaData(thrift::Reader& r, ColumnMetaData* m) {
  return ReadStruct(r, [&](const FieldHeader& h) -> Status {
    int64_t v;
    switch (h.id) {
      case 1:
        return ReadEnum(r, h, &m->type);
      case 2:
        FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kList));
        return ReadList(r, [&](Type t) -> Status {
          if (t != Type::kI32) return Status::Corruption("parquet: encodings list of non-i32");
          int32_t e;
          FRAZIL_RETURN_IF_ERROR(r.ReadI32(&e));
          m->encodings.push_back(static_cast<Encoding>(e));
          return Status::Ok();
        });
      case 3:
        FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kList));
        return ReadList(r, [&](Type t) -> Status {
          if (t != Type::kBinary) return Status::Corruption("parquet: path_in_schema of non-strings");
          m->path_in_schema.emplace_back();
          return r.ReadBinary(&m->path_in_schema.back());
        });
      case 4:
        return ReadEnum(r, h, &m->codec);
      case 5:
        return ReadI64Field(r, h, &m->num_values);
      case 6:
        return ReadI64Field(r, h, &m->total_uncompressed_size);
      case 7:
        return ReadI64Field(r, h, &m->total_compressed_size);
      case 9:
        return ReadI64Field(r, h, &m->data_page_offset);
      case 11:
        FRAZIL_RETURN_IF_ERROR(ReadI64Field(r, h, &v));
        m->dictionary_page_offset = v;
        return Status::Ok();
      case 12:
        FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kStruct));
        m->statistics.emplace();
        return ReadStatistics(r, &*m->statistics);
      default:
        return r.Skip(h.type);
    }
  });
}

Status ReadColumnChunk(thrift::Reader& r, ColumnChunk* c) {
  return ReadStruct(r, [&](const FieldHeader& h) -> Status {
    switch (h.id) {
      case 2:
        return ReadI64Field(r, h, &c->file_offset);
      case 3:
        FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kStruct));
        c->meta_data.emplace();
        return ReadColumnMetaData(r, &*c->meta_data);
      default:
        return r.Skip(h.type);
    }
  });
}

Status ReadRowGroup(thrift::Reader& r, RowGroup* g) {
  return ReadStruct(r, [&](const FieldHeader& h) -> Status {
    int64_t v;
    int32_t i;
    switch (h.id) {
      case 1:
        FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kList));
        return ReadList(r, [&](Type t) -> Status {
          if (t != Type::kStruct) return Status::Corruption("parquet: row group columns of non-structs");
          g->columns.emplace_back();
          return ReadColumnChunk(r, &g->columns.back());
        });
      case 2:
        return ReadI64Field(r, h, &g->total_byte_size);
      case 3:
        return ReadI64Field(r, h, &g->num_rows);
      case 5:
        FRAZIL_RETURN_IF_ERROR(ReadI64Field(r, h, &v));
        g->file_offset = v;
        return Status::Ok();
      case 6:
        FRAZIL_RETURN_IF_ERROR(ReadI64Field(r, h, &v));
        g->total_compressed_size = v;
        return Status::Ok();
      case 7:
        if (h.type != Type::kI16) return r.Skip(h.type);
        FRAZIL_RETURN_IF_ERROR(r.ReadI32(&i));
        g->ordinal = static_cast<int16_t>(i);
        return Status::Ok();
      default:
        return r.Skip(h.type);
    }
  });
}

Status ReadPageHeaderFields(thrift::Reader& r, PageHeader* p) {
  return ReadStruct(r, [&](const FieldHeader& h) -> Status {
    int32_t v;
    switch (h.id) {
      case 1:
        return ReadEnum(r, h, &p->type);
      case 2:
        return ReadI32Field(r, h, &p->uncompressed_page_size);
      case 3:
        return ReadI32Field(r, h, &p->compressed_page_size);
      case 4:
        FRAZIL_RETURN_IF_ERROR(ReadI32Field(r, h, &v));
        p->crc = v;
        return Status::Ok();
      case 5: {
        FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kStruct));
        auto& d = p->data_page_header.emplace();
        return ReadStruct(r, [&](const FieldHeader& f) -> Status {
          switch (f.id) {
            case 1:
              return ReadI32Field(r, f, &d.num_values);
            case 2:
              return ReadEnum(r, f, &d.encoding);
            case 3:
              return ReadEnum(r, f, &d.definition_level_encoding);
            case 4:
              return ReadEnum(r, f, &d.repetition_level_encoding);
            default:
              return r.Skip(f.type);
          }
        });
      }
      case 7: {
        FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kStruct));
        auto& d = p->dictionary_page_header.emplace();
        return ReadStruct(r, [&](const FieldHeader& f) -> Status {
          bool b;
          switch (f.id) {
            case 1:
              return ReadI32Field(r, f, &d.num_values);
            case 2:
              return ReadEnum(r, f, &d.encoding);
            case 3:
              FRAZIL_RETURN_IF_ERROR(r.ReadBool(f, &b));
              d.is_sorted = b;
              return Status::Ok();
            default:
              return r.Skip(f.type);
          }
        });
      }
      case 8: {
        FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kStruct));
        auto& d = p->data_page_header_v2.emplace();
        return ReadStruct(r, [&](const FieldHeader& f) -> Status {
          switch (f.id) {
            case 1:
              return ReadI32Field(r, f, &d.num_values);
            case 2:
              return ReadI32Field(r, f, &d.num_nulls);
            case 3:
              return ReadI32Field(r, f, &d.num_rows);
            case 4:
              return ReadEnum(r, f, &d.encoding);
            case 5:
              return ReadI32Field(r, f, &d.definition_levels_byte_length);
            case 6:
              return ReadI32Field(r, f, &d.repetition_levels_byte_length);
            case 7:
              return r.ReadBool(f, &d.is_compressed);
            default:
              return r.Skip(f.type);
          }
        });
      }
      default:
        return r.Skip(h.type);
    }
  });
}

}  // namespace

void EncodeFileMetaData(const FileMetaData& m, std::vector<uint8_t>* out) {
  thrift::Writer w(out);
  w.BeginStruct();
  w.FieldI32(1, m.version);
  w.FieldListBegin(2, Type::kStruct, m.schema.size());
  for (const auto& e : m.schema) EncodeSchemaElement(w, e);
  w.FieldI64(3, m.num_rows);
  w.FieldListBegin(4, Type::kStruct, m.row_groups.size());
  for (const auto& g : m.row_groups) {
    w.ElemStructBegin();
    w.FieldListBegin(1, Type::kStruct, g.columns.size());
    for (const auto& c : g.columns) {
      w.ElemStructBegin();
      w.FieldI64(2, c.file_offset);
      if (c.meta_data) EncodeColumnMetaData(w, *c.meta_data);
      w.EndStruct();
    }
    w.FieldI64(2, g.total_byte_size);
    w.FieldI64(3, g.num_rows);
    if (g.file_offset) w.FieldI64(5, *g.file_offset);
    if (g.total_compressed_size) w.FieldI64(6, *g.total_compressed_size);
    if (g.ordinal) w.FieldI16(7, *g.ordinal);
    w.EndStruct();
  }
  if (!m.key_value_metadata.empty()) {
    w.FieldListBegin(5, Type::kStruct, m.key_value_metadata.size());
    for (const auto& kv : m.key_value_metadata) {
      w.ElemStructBegin();
      w.FieldString(1, kv.key);
      if (kv.value) w.FieldString(2, *kv.value);
      w.EndStruct();
    }
  }
  if (m.created_by) w.FieldString(6, *m.created_by);
  if (!m.column_orders_type_defined.empty()) {
    w.FieldListBegin(7, Type::kStruct, m.column_orders_type_defined.size());
    for (size_t i = 0; i < m.column_orders_type_defined.size(); ++i) {
      w.ElemStructBegin();
      w.FieldStructBegin(1);  // TYPE_ORDER
      w.EndStruct();
      w.EndStruct();
    }
  }
  w.EndStruct();
}

Status DecodeFileMetaData(std::span<const uint8_t> data, FileMetaData* m) {
  thrift::Reader r(data);
  bool has_schema = false;
  Status st = ReadStruct(r, [&](const FieldHeader& h) -> Status {
    switch (h.id) {
      case 1:
        return ReadI32Field(r, h, &m->version);
      case 2:
        FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kList));
        has_schema = true;
        return ReadList(r, [&](Type t) -> Status {
          if (t != Type::kStruct) return Status::Corruption("parquet: schema list of non-structs");
          m->schema.emplace_back();
          return ReadSchemaElement(r, &m->schema.back());
        });
      case 3:
        return ReadI64Field(r, h, &m->num_rows);
      case 4:
        FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kList));
        return ReadList(r, [&](Type t) -> Status {
          if (t != Type::kStruct) return Status::Corruption("parquet: row_groups list of non-structs");
          m->row_groups.emplace_back();
          return ReadRowGroup(r, &m->row_groups.back());
        });
      case 5:
        FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kList));
        return ReadList(r, [&](Type t) -> Status {
          if (t != Type::kStruct) return Status::Corruption("parquet: key_value_metadata of non-structs");
          auto& kv = m->key_value_metadata.emplace_back();
          return ReadStruct(r, [&](const FieldHeader& f) -> Status {
            if (f.id == 1) return ReadStringField(r, f, &kv.key);
            if (f.id == 2) {
              kv.value.emplace();
              return ReadStringField(r, f, &*kv.value);
            }
            return r.Skip(f.type);
          });
        });
      case 6: {
        std::string s;
        FRAZIL_RETURN_IF_ERROR(ReadStringField(r, h, &s));
        m->created_by = s;
        return Status::Ok();
      }
      case 7:
        FRAZIL_RETURN_IF_ERROR(Expect(h, Type::kList));
        return ReadList(r, [&](Type t) -> Status {
          if (t != Type::kStruct) return Status::Corruption("parquet: column_orders of non-structs");
          bool type_defined = false;
          FRAZIL_RETURN_IF_ERROR(ReadStruct(r, [&](const FieldHeader& f) -> Status {
            type_defined = type_defined || f.id == 1;
            return r.Skip(f.type);
          }));
          m->column_orders_type_defined.push_back(type_defined);
          return Status::Ok();
        });
      default:
        return r.Skip(h.type);
    }
  });
  if (!st.ok()) return st.WithContext("parquet footer");
  if (!has_schema || m->schema.empty()) return Status::Corruption("parquet footer has no schema");
  return Status::Ok();
}

void EncodePageHeader(const PageHeader& h, std::vector<uint8_t>* out) {
  thrift::Writer w(out);
  w.BeginStruct();
  w.FieldI32(1, static_cast<int32_t>(h.type));
  w.FieldI32(2, h.uncompressed_page_size);
  w.FieldI32(3, h.compressed_page_size);
  if (h.crc) w.FieldI32(4, *h.crc);
  if (h.data_page_header) {
    const auto& d = *h.data_page_header;
    w.FieldStructBegin(5);
    w.FieldI32(1, d.num_values);
    w.FieldI32(2, static_cast<int32_t>(d.encoding));
    w.FieldI32(3, static_cast<int32_t>(d.definition_level_encoding));
    w.FieldI32(4, static_cast<int32_t>(d.repetition_level_encoding));
    w.EndStruct();
  }
  if (h.dictionary_page_header) {
    const auto& d = *h.dictionary_page_header;
    w.FieldStructBegin(7);
    w.FieldI32(1, d.num_values);
    w.FieldI32(2, static_cast<int32_t>(d.encoding));
    if (d.is_sorted) w.FieldBool(3, *d.is_sorted);
    w.EndStruct();
  }
  if (h.data_page_header_v2) {
    const auto& d = *h.data_page_header_v2;
    w.FieldStructBegin(8);
    w.FieldI32(1, d.num_values);
    w.FieldI32(2, d.num_nulls);
    w.FieldI32(3, d.num_rows);
    w.FieldI32(4, static_cast<int32_t>(d.encoding));
    w.FieldI32(5, d.definition_levels_byte_length);
    w.FieldI32(6, d.repetition_levels_byte_length);
    w.FieldBool(7, d.is_compressed);
    w.EndStruct();
  }
  w.EndStruct();
}

Status DecodePageHeader(std::span<const uint8_t> data, PageHeader* out, size_t* consumed) {
  thrift::Reader r(data);
  Status st = ReadPageHeaderFields(r, out);
  if (!st.ok()) return st.WithContext("parquet page header");
  *consumed = r.position();
  return Status::Ok();
}

}  // namespace frazil::parquet
