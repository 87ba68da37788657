// RFC 3339 dates and times, as JSON payloads carry them: read by the typed
// columns' decoder (date, time, timestamp columns) and by the validator for
// JSON Schema's `date`, `time` and `date-time` formats. Hand-written: the
// validator's library compiles a std::regex for every such string it
// checks, which cost ~0.5 ms a message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace frazil::schema {

// full-date "YYYY-MM-DD" at the start of `s` (month lengths and leap years
// checked): days since 1970-01-01; `*end` is where it ended (10).
std::optional<int64_t> ParseRfc3339Date(std::string_view s, size_t* end);
// partial-time "HH:MM:SS[.fraction]" at `pos`: microseconds of the day
// (digits past the sixth dropped; a leap second reads as :59); `*end` is
// where it ended.
std::optional<int64_t> ParseRfc3339Time(std::string_view s, size_t pos, size_t* end);
// date, `T` (or `t` or a space), time and `Z` or `±HH:MM`: microseconds
// since the epoch in UTC. With `zoned` false the offset may be absent.
std::optional<int64_t> ParseRfc3339Timestamp(std::string_view s, bool zoned);

// JSON Schema's formats, whole strings: `date` (full-date), `time`
// (full-time: with its offset), `date-time`.
bool IsRfc3339Date(std::string_view s);
bool IsRfc3339FullTime(std::string_view s);
bool IsRfc3339DateTime(std::string_view s);

}  // namespace frazil::schema
