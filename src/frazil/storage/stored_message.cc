#include "frazil/storage/stored_message.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "danube_api.pb.h"
#include "frazil/common/coding.h"

namespace frazil::storage {
namespace {

// See docs/formats/stored-record.md.
constexpr uint8_t kMarker = 0x00;  // no serialized protobuf message starts with 0
constexpr uint8_t kVersion = 1;
constexpr uint64_t kHasRoutingKey = 1, kHasSchemaId = 2, kHasSchemaVersion = 4;
constexpr uint64_t kKnownFlags = kHasRoutingKey | kHasSchemaId | kHasSchemaVersion;

void PutVarint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

void PutBytes(std::vector<uint8_t>& out, const std::string& s) {
  PutVarint(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) v >>= 7, ++n;
  return n;
}

class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> in) : p_(in.data()), end_(in.data() + in.size()) {}

  Status Varint(const char* what, uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return Truncated(what);
      uint8_t b = *p_++;
      if (shift == 63 && b > 1) break;
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *v = result;
        return Status::Ok();
      }
    }
    return Status::Corruption(std::string("stored record: ") + what + " is not a valid varint");
  }
  Status Fixed64(const char* what, uint64_t* v) {
    if (end_ - p_ < 8) return Truncated(what);
    *v = DecodeFixed64(p_);
    p_ += 8;
    return Status::Ok();
  }
  Status Bytes(const char* what, std::string* s) {
    uint64_t n;
    FRAZIL_RETURN_IF_ERROR(Varint(what, &n));
    if (n > static_cast<uint64_t>(end_ - p_))
      return Status::Corruption(std::string("stored record: ") + what + " of " + std::to_string(n) +
                                " bytes runs past the record's end");
    s->assign(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return Status::Ok();
  }
  bool done() const { return p_ == end_; }
  size_t left() const { return static_cast<size_t>(end_ - p_); }

 private:
  static Status Truncated(const char* what) {
    return Status::Corruption(std::string("stored record: truncated in ") + what);
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

Result<StoredMessage> DecodeV1(std::span<const uint8_t> record) {
  Cursor c(record.subspan(2));
  StoredMessage m;
  uint64_t flags, v;
  FRAZIL_RETURN_IF_ERROR(c.Varint("flags", &flags));
  if (flags & ~kKnownFlags)
    return Status::Corruption("stored record: unknown flags " + std::to_string(flags & ~kKnownFlags));
  FRAZIL_RETURN_IF_ERROR(c.Varint("producer id", &m.producer_id));
  FRAZIL_RETURN_IF_ERROR(c.Fixed64("publish time", &v));
  m.publish_time_ms = static_cast<int64_t>(v);
  FRAZIL_RETURN_IF_ERROR(c.Bytes("producer name", &m.producer_name));
  if (flags & kHasRoutingKey) FRAZIL_RETURN_IF_ERROR(c.Bytes("routing key", &m.routing_key.emplace()));
  uint64_t count;
  FRAZIL_RETURN_IF_ERROR(c.Varint("attribute count", &count));
  // Each attribute takes at least two bytes: a count beyond that is corrupt,
  // and must not size an allocation.
  if (count > c.left() / 2)
    return Status::Corruption("stored record: " + std::to_string(count) + " attributes cannot fit in " +
                              std::to_string(c.left()) + " bytes");
  m.attributes.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    auto& [key, value] = m.attributes[i];
    FRAZIL_RETURN_IF_ERROR(c.Bytes("attribute key", &key));
    FRAZIL_RETURN_IF_ERROR(c.Bytes("attribute value", &value));
    if (i > 0 && !(m.attributes[i - 1].first < key))
      return Status::Corruption("stored record: attribute keys are not unique and ascending");
  }
  if (flags & kHasSchemaId) FRAZIL_RETURN_IF_ERROR(c.Varint("schema id", &m.schema_id.emplace()));
  if (flags & kHasSchemaVersion) {
    FRAZIL_RETURN_IF_ERROR(c.Varint("schema version", &v));
    if (v > UINT32_MAX)
      return Status::Corruption("stored record: schema version " + std::to_string(v) + " > 2^32-1");
    m.schema_version = static_cast<uint32_t>(v);
  }
  FRAZIL_RETURN_IF_ERROR(c.Bytes("payload", &m.payload));
  if (!c.done())
    return Status::Corruption("stored record: " + std::to_string(c.left()) + " bytes after the payload");
  return m;
}

// Records written before the format existed: a serialized
// danube::StreamMessage (request id, subscription and message id unset but
// for the producer id).
Result<StoredMessage> DecodeLegacy(std::span<const uint8_t> record) {
  danube::StreamMessage pb;
  if (!pb.ParseFromArray(record.data(), static_cast<int>(record.size())))
    return Status::Corruption("stored record: neither the current format nor a legacy protobuf message");
  StoredMessage m;
  m.producer_id = pb.msg_id().producer_id();
  m.publish_time_ms = static_cast<int64_t>(pb.publish_time());
  m.producer_name = pb.producer_name();
  if (pb.has_routing_key()) m.routing_key = pb.routing_key();
  std::map<std::string, std::string> sorted(pb.attributes().begin(), pb.attributes().end());
  m.attributes.assign(sorted.begin(), sorted.end());
  m.payload = pb.payload();
  if (pb.has_schema_id()) m.schema_id = pb.schema_id();
  if (pb.has_schema_version()) m.schema_version = pb.schema_version();
  return m;
}

}  // namespace

size_t StoredMessage::MemoryBytes() const {
  size_t n = sizeof(StoredMessage) + producer_name.capacity() + payload.capacity();
  if (routing_key) n += routing_key->capacity();
  for (const auto& [k, v] : attributes) n += sizeof(attributes[0]) + k.capacity() + v.capacity();
  return n;
}

std::vector<uint8_t> EncodeStoredMessage(const StoredMessage& m) {
  uint64_t flags = (m.routing_key ? kHasRoutingKey : 0) | (m.schema_id ? kHasSchemaId : 0) |
                   (m.schema_version ? kHasSchemaVersion : 0);
  size_t size = 2 + 1 + VarintSize(m.producer_id) + 8 + VarintSize(m.producer_name.size()) +
                m.producer_name.size() + VarintSize(m.attributes.size()) + VarintSize(m.payload.size()) +
                m.payload.size() + 20;
  if (m.routing_key) size += VarintSize(m.routing_key->size()) + m.routing_key->size();
  for (const auto& [k, v] : m.attributes) size += 10 + k.size() + v.size();
  std::vector<uint8_t> out;
  out.reserve(size);
  out.push_back(kMarker);
  out.push_back(kVersion);
  PutVarint(out, flags);
  PutVarint(out, m.producer_id);
  uint8_t t[8];
  EncodeFixed64(t, static_cast<uint64_t>(m.publish_time_ms));
  out.insert(out.end(), t, t + 8);
  PutBytes(out, m.producer_name);
  if (m.routing_key) PutBytes(out, *m.routing_key);
  // Keys unique and ascending whatever order the caller used (last value wins).
  std::vector<std::pair<std::string, std::string>> attrs;
  const auto* sorted = &m.attributes;
  const bool strictly_ascending =
      std::adjacent_find(m.attributes.begin(), m.attributes.end(), [](const auto& a, const auto& b) {
        return !(a.first < b.first);
      }) == m.attributes.end();
  if (!strictly_ascending) {
    std::map<std::string, std::string> unique;
    for (const auto& [k, v] : m.attributes) unique[k] = v;
    attrs.assign(unique.begin(), unique.end());
    sorted = &attrs;
  }
  PutVarint(out, sorted->size());
  for (const auto& [k, v] : *sorted) {
    PutBytes(out, k);
    PutBytes(out, v);
  }
  if (m.schema_id) PutVarint(out, *m.schema_id);
  if (m.schema_version) PutVarint(out, *m.schema_version);
  PutBytes(out, m.payload);
  return out;
}

Result<StoredMessage> DecodeStoredMessage(std::span<const uint8_t> record) {
  if (record.empty() || record[0] != kMarker) return DecodeLegacy(record);
  if (record.size() < 2) return Status::Corruption("stored record: truncated after the marker");
  if (record[1] != kVersion)
    return Status::Corruption("stored record: unknown version " + std::to_string(record[1]));
  return DecodeV1(record);
}

}  // namespace frazil::storage
