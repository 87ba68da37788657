// Partition transforms (table spec, "Partition Transforms"; hashing per
// Appendix B) and partition specs with their JSON form.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/iceberg/schema.h"

namespace frazil::iceberg {

// A source value for a transform. Which member is used follows the source
// type: `l` for int, long, date (days), time and timestamps (micros); `s`
// for string (UTF-8), binary, fixed and uuid (16 bytes, big-endian);
// `decimal` for the unscaled decimal.
struct Value {
  int64_t l = 0;
  std::string s;
  __int128 decimal = 0;
};

enum class TransformKind { kIdentity, kBucket, kTruncate, kYear, kMonth, kDay, kHour, kVoid };

struct Transform {
  TransformKind kind = TransformKind::kIdentity;
  int32_t param = 0;  // bucket count or truncate width

  static Result<Transform> Parse(
      const std::string& text);  // "identity", "bucket[16]", "truncate[4]", "day", ...
  std::string ToString() const;

  // Whether this transform applies to a source type, and its result type.
  Result<TypePtr> ResultType(const Type& source) const;
  // The partition value of `v` (of type `source`); nullopt for void.
  Result<std::optional<Value>> Apply(const Type& source, const Value& v) const;
};

// Murmur3 x86 32-bit, seed 0: Iceberg's bucket hash.
int32_t Murmur3_32(const void* data, size_t n);
// The bucket hash of a value, as Appendix B defines per type.
Result<int32_t> BucketHash(const Type& source, const Value& v);

struct PartitionField {
  int32_t source_id = 0;
  int32_t field_id = 0;  // 1000 and up
  std::string name;
  Transform transform;
};

struct PartitionSpec {
  int32_t spec_id = 0;
  std::vector<PartitionField> fields;

  int32_t LastFieldId() const;  // 999 when unpartitioned
};

// Checks each field's source exists in `schema` and the transform applies to it.
Result<PartitionSpec> PartitionSpecFromJson(const nlohmann::json& j, const Schema& schema);
nlohmann::json PartitionSpecToJson(const PartitionSpec& spec);

}  // namespace frazil::iceberg
