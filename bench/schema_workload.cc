#include "schema_workload.h"

#include <cstdio>
#include <cstring>

namespace frazil::bench {
namespace {

const std::string kJsonSchema = R"({
  "type": "object",
  "properties": {
    "id": {"type": "integer"},
    "name": {"type": "string"},
    "score": {"type": "number"},
    "active": {"type": "boolean"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "created": {"type": "string", "format": "date-time"}
  },
  "required": ["id", "name"]
})";

const std::string kAvroSchema = R"({
  "type": "record", "name": "Event", "namespace": "frazil.bench",
  "fields": [
    {"name": "id", "type": "long"},
    {"name": "name", "type": "string"},
    {"name": "score", "type": "double"},
    {"name": "active", "type": "boolean"},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "created", "type": {"type": "long", "logicalType": "timestamp-millis"}}
  ]
})";

constexpr const char* kWords[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
                                  "hotel", "india", "juliet",  "kilo",  "lima", "mike",    "november"};
constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);

uint64_t Mix(uint64_t x) {  // splitmix64: values that vary, reproducibly
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

struct Record {
  int64_t id;
  std::string name;
  double score;
  bool active;
  std::string tags[3];
  int64_t created_ms;
};

Record MakeRecord(uint64_t producer, uint64_t seq) {
  const uint64_t r = Mix(producer * 1000003 + seq);
  Record rec;
  rec.id = static_cast<int64_t>(producer << 40 | seq);
  rec.name = std::string(kWords[r % kWordCount]) + "-" + kWords[(r >> 8) % kWordCount] + "-" +
             std::to_string((r >> 16) % 100000);
  rec.score = static_cast<double>((r >> 24) % 100000) / 100.0;
  rec.active = (r >> 40) & 1;
  for (int i = 0; i < 3; ++i) rec.tags[i] = kWords[(r >> (44 + 4 * i)) % kWordCount];
  rec.created_ms = 1764547200000 + static_cast<int64_t>(seq) * 7 + static_cast<int64_t>(producer);
  return rec;
}

void AppendJsonTime(int64_t ms, std::string* out) {
  // 2025-12-01 + an offset under a day: enough for varying, valid date-times.
  const int64_t in_day = ms % 86400000;
  char buf[40];
  std::snprintf(buf, sizeof(buf), "\"2025-12-01T%02d:%02d:%02d.%03dZ\"", static_cast<int>(in_day / 3600000),
                static_cast<int>(in_day / 60000 % 60), static_cast<int>(in_day / 1000 % 60),
                static_cast<int>(in_day % 1000));
  out->append(buf);
}

void AppendAvroLong(int64_t v, std::string* out) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    out->push_back(static_cast<char>((z & 0x7F) | 0x80));
    z >>= 7;
  }
  out->push_back(static_cast<char>(z));
}

void AppendAvroString(const std::string& s, std::string* out) {
  AppendAvroLong(static_cast<int64_t>(s.size()), out);
  out->append(s);
}

}  // namespace

const char* PayloadKindName(PayloadKind kind) { return kind == PayloadKind::kJson ? "json" : "avro"; }

const char* SchemaTypeOf(PayloadKind kind) { return kind == PayloadKind::kJson ? "json_schema" : "avro"; }

const std::string& SchemaDefinitionOf(PayloadKind kind) {
  return kind == PayloadKind::kJson ? kJsonSchema : kAvroSchema;
}

void MakeRecordPayload(PayloadKind kind, uint64_t producer, uint64_t seq, std::string* out) {
  const Record r = MakeRecord(producer, seq);
  out->clear();
  if (kind == PayloadKind::kJson) {
    char score[32];
    std::snprintf(score, sizeof(score), "%.2f", r.score);
    *out += "{\"id\":" + std::to_string(r.id) + ",\"name\":\"" + r.name + "\",\"score\":" + score +
            ",\"active\":" + (r.active ? "true" : "false") + ",\"tags\":[\"" + r.tags[0] + "\",\"" +
            r.tags[1] + "\",\"" + r.tags[2] + "\"],\"created\":";
    AppendJsonTime(r.created_ms, out);
    out->push_back('}');
    return;
  }
  AppendAvroLong(r.id, out);
  AppendAvroString(r.name, out);
  char d[8];
  std::memcpy(d, &r.score, 8);  // Avro doubles are little-endian IEEE 754, as this machine's
  out->append(d, 8);
  out->push_back(r.active ? 1 : 0);
  AppendAvroLong(3, out);  // one block of three items, then the end marker
  for (const auto& t : r.tags) AppendAvroString(t, out);
  AppendAvroLong(0, out);
  AppendAvroLong(r.created_ms, out);
}

}  // namespace frazil::bench
