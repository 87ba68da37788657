#include "frazil/schema/rfc3339.h"

#include <chrono>

namespace frazil::schema {

namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t k = 0; k < n; ++k) {
    const char c = s[pos + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// time-offset at `pos`, ending the string: `Z`/`z` or `+HH:MM`/`-HH:MM`, in
// minutes east of UTC.
std::optional<int64_t> ParseOffset(std::string_view s, size_t pos) {
  if (pos + 1 == s.size() && (s[pos] == 'Z' || s[pos] == 'z')) return 0;
  int oh, om;
  if (pos + 6 != s.size() || (s[pos] != '+' && s[pos] != '-') || s[pos + 3] != ':' ||
      !Digits(s, pos + 1, 2, &oh) || !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59)
    return std::nullopt;
  return (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
}

}  // namespace

std::optional<int64_t> ParseRfc3339Date(std::string_view s, size_t* end) {
  int y, m, d;
  if (!Digits(s, 0, 4, &y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, &m) || s[7] != '-' ||
      !Digits(s, 8, 2, &d))
    return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(m)},
                                        std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  *end = 10;
  return std::chrono::sys_days{ymd}.time_since_epoch().count();
}

// HH:MM:SS[.fraction] at `pos`: microseconds of the day (digits past the
// sixth are dropped).
std::optional<int64_t> ParseRfc3339Time(std::string_view s, size_t pos, size_t* end) {
  int h, mi, se;
  if (!Digits(s, pos, 2, &h) || pos + 8 > s.size() || s[pos + 2] != ':' || !Digits(s, pos + 3, 2, &mi) ||
      s[pos + 5] != ':' || !Digits(s, pos + 6, 2, &se) || h > 23 || mi > 59 || se > 60)
    return std::nullopt;
  int64_t micros = ((h * 60LL + mi) * 60 + std::min(se, 59)) * 1000000;
  size_t p = pos + 8;
  if (p < s.size() && s[p] == '.') {
    ++p;
    int64_t scale = 100000;
    const size_t first = p;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (scale > 0) micros += (s[p] - '0') * scale;
      scale /= 10;
      ++p;
    }
    if (p == first) return std::nullopt;
  }
  *end = p;
  return micros;
}

std::optional<int64_t> ParseRfc3339Timestamp(std::string_view s, bool zoned) {
  size_t p;
  auto days = ParseRfc3339Date(s, &p);
  if (!days || p >= s.size() || (s[p] != 'T' && s[p] != 't' && s[p] != ' ')) return std::nullopt;
  auto tod = ParseRfc3339Time(s, p + 1, &p);
  if (!tod) return std::nullopt;
  int64_t offset_minutes = 0;
  if (p != s.size() || zoned) {
    auto offset = ParseOffset(s, p);
    if (!offset) return std::nullopt;
    offset_minutes = *offset;
  }
  return *days * 86400000000LL + *tod - offset_minutes * 60000000LL;
}

bool IsRfc3339Date(std::string_view s) {
  size_t end;
  return ParseRfc3339Date(s, &end) && end == s.size();
}

bool IsRfc3339FullTime(std::string_view s) {
  size_t end;
  return ParseRfc3339Time(s, 0, &end) && ParseOffset(s, end).has_value();
}

bool IsRfc3339DateTime(std::string_view s) { return ParseRfc3339Timestamp(s, /*zoned=*/true).has_value(); }

}  // namespace frazil::schema
