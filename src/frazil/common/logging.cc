#include "frazil/common/logging.h"

#include <string>

namespace frazil {

void InitLogging() { spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e [%^%l%$] %v"); }

Status SetLogLevel(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept "off" when asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return Status::InvalidArgument("unknown log level '" + std::string(level) +
                                   "' (expected trace, debug, info, warn, error or off)");
  }
  spdlog::set_level(parsed);
  return Status::Ok();
}

}  // namespace frazil
