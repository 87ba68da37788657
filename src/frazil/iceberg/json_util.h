// Checked reads from metadata JSON: a value of the wrong type or out of
// range is an error value, never an exception or a silently truncated int.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "frazil/common/status.h"

namespace frazil::iceberg {

// `j` as an integer of type T (int32_t or int64_t).
template <typename T>
Result<T> JsonInt(const nlohmann::json& j, const std::string& what) {
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<T>::max()))
      return Status::InvalidArgument(what + " is out of range");
    return static_cast<T>(u);
  }
  if (!j.is_number_integer()) return Status::InvalidArgument(what + " must be an integer");
  const int64_t v = j.get<int64_t>();
  if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
    return Status::InvalidArgument(what + " is out of range");
  }
  return static_cast<T>(v);
}

}  // namespace frazil::iceberg
