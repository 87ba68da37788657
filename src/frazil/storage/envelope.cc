#include "frazil/storage/envelope.h"

#include <algorithm>
#include <map>

#include "frazil/iceberg/bounds.h"

namespace frazil::storage {

using iceberg::NestedField;
using iceberg::Primitive;
using iceberg::TypeId;

iceberg::Schema EnvelopeSchema() {
  iceberg::Schema s;
  s.fields = {
      {kOffset, "offset", true, Primitive(TypeId::kLong), "position of the message in its topic"},
      {kPublishTime, "publish_time", true, Primitive(TypeId::kTimestampTz), ""},
      {kProducerName, "producer_name", false, Primitive(TypeId::kString), ""},
      {kProducerId, "producer_id", false, Primitive(TypeId::kLong), ""},
      {kRoutingKey, "routing_key", false, Primitive(TypeId::kString), ""},
      {kAttributes, "attributes", false,
       iceberg::MapOf(10, Primitive(TypeId::kString), 11, false, Primitive(TypeId::kString)), ""},
      {kPayload, "payload", false, Primitive(TypeId::kBinary), ""},
      {kSchemaId, "schema_id", false, Primitive(TypeId::kLong), ""},
      {kSchemaVersion, "schema_version", false, Primitive(TypeId::kInt), ""},
  };
  s.identifier_field_ids = {kOffset};
  return s;
}

Result<iceberg::Schema> EnvelopeWriteSchema(const iceberg::Schema& current) {
  iceberg::Schema want = EnvelopeSchema(), out;
  out.schema_id = current.schema_id;
  out.identifier_field_ids = {kOffset};
  for (const auto& w : want.fields) {
    auto it = std::find_if(current.fields.begin(), current.fields.end(),
                           [&](const NestedField& f) { return f.id == w.id; });
    if (it == current.fields.end())
      return Status::InvalidArgument("topic table has no column with field id " + std::to_string(w.id) +
                                     " (" + w.name +
                                     "): another engine dropped it, and the broker cannot write rows");
    // Promotions Iceberg allows (int to long) still take the broker's values.
    bool same = it->type->id == w.type->id || (w.type->id == TypeId::kInt && it->type->id == TypeId::kLong);
    if (w.type->id == TypeId::kMap)
      same = it->type->id == TypeId::kMap && it->type->children.size() == 2 &&
             it->type->children[0].id == 10 && it->type->children[1].id == 11 &&
             it->type->children[0].type->id == TypeId::kString &&
             it->type->children[1].type->id == TypeId::kString;
    if (!same)
      return Status::InvalidArgument("topic table column " + it->name + " (field id " + std::to_string(w.id) +
                                     ") has a type the broker cannot write");
    out.fields.push_back(*it);
  }
  return out;
}

Result<int32_t> EnvelopeSpecId(const iceberg::TableMetadata& m) {
  for (const auto& spec : m.partition_specs) {
    if (spec.fields.size() != 1) continue;
    const auto& f = spec.fields[0];
    if (f.source_id == kPublishTime && f.transform.kind == iceberg::TransformKind::kDay) return spec.spec_id;
  }
  return Status::InvalidArgument("topic table has no day(publish_time) partition spec to write with");
}

iceberg::PartitionSpec EnvelopePartitionSpec() {
  iceberg::PartitionSpec spec;
  spec.fields.push_back(
      {kPublishTime, 1000, "publish_time_day", iceberg::Transform{iceberg::TransformKind::kDay, 0}});
  return spec;
}

iceberg::SortOrder EnvelopeSortOrder() {
  iceberg::SortOrder o;
  o.order_id = 1;
  o.fields.push_back({"identity", kOffset, "asc", "nulls-first"});
  return o;
}

namespace {

void Optional(parquet::ValueVector* v, bool present, size_t rows_before) {
  if (present && v->is_null.empty()) return;
  if (v->is_null.empty()) v->is_null.assign(rows_before, 0);
  v->is_null.push_back(present ? 0 : 1);
}

}  // namespace

Result<std::vector<EnvelopeBatch>> EnvelopeBatches(const std::vector<wal::WalRecord>& records,
                                                   size_t max_days, size_t* used) {
  std::map<int64_t, EnvelopeBatch> by_day;
  constexpr int64_t kMicrosPerDay = 86400LL * 1000000;
  for (const auto& r : records) {
    auto decoded = DecodeStoredMessage(r.payload);
    if (!decoded.ok())
      return Status::Corruption("WAL record at offset " + std::to_string(r.offset) +
                                " is not a stored message: " + decoded.status().message());
    const StoredMessage& m = *decoded;
    auto micros = m.publish_time_ms * 1000;
    int64_t day = micros >= 0 ? micros / kMicrosPerDay : -((-micros + kMicrosPerDay - 1) / kMicrosPerDay);
    if (max_days > 0 && by_day.size() >= max_days && !by_day.count(day)) break;  // the rest: a later batch
    auto [it, fresh] = by_day.try_emplace(day);
    EnvelopeBatch& b = it->second;
    if (used) ++*used;
    if (fresh) {
      b.day = day;
      b.first_offset = r.offset;
      b.rows.columns.resize(9);
      b.rows.columns[kAttributes - 1].offsets.push_back(0);
    }
    b.last_offset = r.offset;
    auto& c = b.rows.columns;
    size_t n = b.rows.num_rows;
    c[kOffset - 1].values.ints.push_back(static_cast<int64_t>(r.offset));
    c[kPublishTime - 1].values.ints.push_back(micros);
    c[kProducerName - 1].values.bytes.push_back(m.producer_name);
    c[kProducerId - 1].values.ints.push_back(static_cast<int64_t>(m.producer_id));
    Optional(&c[kRoutingKey - 1].values, m.routing_key.has_value(), n);
    c[kRoutingKey - 1].values.bytes.push_back(m.routing_key.value_or(""));
    // Attributes come sorted by key (DecodeStoredMessage), so files do not
    // depend on hash order.
    auto& a = c[kAttributes - 1];
    for (const auto& [k, v] : m.attributes) {
      a.keys.bytes.push_back(k);
      a.values.bytes.push_back(v);
    }
    a.offsets.push_back(static_cast<int32_t>(a.values.bytes.size()));
    c[kPayload - 1].values.bytes.push_back(m.payload);
    Optional(&c[kSchemaId - 1].values, m.schema_id.has_value(), n);
    c[kSchemaId - 1].values.ints.push_back(m.schema_id ? static_cast<int64_t>(*m.schema_id) : 0);
    Optional(&c[kSchemaVersion - 1].values, m.schema_version.has_value(), n);
    c[kSchemaVersion - 1].values.ints.push_back(m.schema_version ? static_cast<int64_t>(*m.schema_version)
                                                                 : 0);
    b.rows.num_rows = n + 1;
  }
  std::vector<EnvelopeBatch> out;
  for (auto& [day, b] : by_day) out.push_back(std::move(b));
  return out;
}

std::optional<int64_t> OffsetBound(const iceberg::DataFile& file, bool upper) {
  const auto& bounds = upper ? file.upper_bounds : file.lower_bounds;
  auto it = bounds.find(kOffset);
  if (it == bounds.end()) return std::nullopt;
  auto v = iceberg::FromBound(*iceberg::Primitive(iceberg::TypeId::kLong), it->second);
  if (!v.ok()) return std::nullopt;
  return v->l;
}

std::vector<int32_t> EnvelopeFieldIds() {
  return {kOffset,     kPublishTime, kProducerName, kProducerId,   kRoutingKey,
          kAttributes, kPayload,     kSchemaId,     kSchemaVersion};
}

Status EnvelopeRecords(const parquet::RowBatch& rows, uint64_t from, uint64_t end,
                       std::vector<OffsetMessage>* out, size_t* foreign, const std::vector<bool>* deleted) {
  const auto& c = rows.columns;
  if (c.size() != 9) return Status::InvalidArgument("topic table rows need the 9 envelope columns");
  const auto& offset = c[kOffset - 1].values;
  const auto& attrs = c[kAttributes - 1];
  if (offset.ints.size() != rows.num_rows || attrs.offsets.size() != rows.num_rows + 1)
    return Status::Corruption("topic table rows: column sizes do not match the row count");
  for (size_t i = 0; i < rows.num_rows; ++i) {
    if (deleted && i < deleted->size() && (*deleted)[i]) continue;
    // Offset is a required column; a null can only come from a broken file.
    if (offset.IsNull(i)) return Status::Corruption("topic table row without an offset");
    if (offset.ints[i] < 0 || static_cast<uint64_t>(offset.ints[i]) >= end) {
      if (foreign) ++*foreign;
      continue;
    }
    auto off = static_cast<uint64_t>(offset.ints[i]);
    if (off < from) continue;
    auto m = std::make_shared<StoredMessage>();
    m->producer_id = static_cast<uint64_t>(c[kProducerId - 1].values.ints[i]);
    m->payload = std::string(c[kPayload - 1].values.bytes[i]);
    // Microseconds in the table, milliseconds in the message (what the
    // producer gave): floor, so times before 1970 round the same way.
    int64_t micros = c[kPublishTime - 1].values.ints[i];
    m->publish_time_ms = micros >= 0 ? micros / 1000 : -((-micros + 999) / 1000);
    m->producer_name = std::string(c[kProducerName - 1].values.bytes[i]);
    if (attrs.is_null.empty() || !attrs.is_null[i]) {
      // A null map reads as no attributes. Keys are unique and sorted, as
      // a decoded message holds them (another engine may have written them
      // in any order, or twice: the last wins).
      std::map<std::string, std::string> sorted;
      for (int32_t j = attrs.offsets[i]; j < attrs.offsets[i + 1]; ++j)
        sorted[std::string(attrs.keys.bytes[static_cast<size_t>(j)])] =
            std::string(attrs.values.bytes[static_cast<size_t>(j)]);
      m->attributes.assign(std::make_move_iterator(sorted.begin()), std::make_move_iterator(sorted.end()));
    }
    if (!c[kSchemaId - 1].values.IsNull(i))
      m->schema_id = static_cast<uint64_t>(c[kSchemaId - 1].values.ints[i]);
    if (!c[kSchemaVersion - 1].values.IsNull(i))
      m->schema_version = static_cast<uint32_t>(c[kSchemaVersion - 1].values.ints[i]);
    if (!c[kRoutingKey - 1].values.IsNull(i))
      m->routing_key = std::string(c[kRoutingKey - 1].values.bytes[i]);
    out->push_back(OffsetMessage{off, std::move(m)});
  }
  return Status::Ok();
}

}  // namespace frazil::storage
