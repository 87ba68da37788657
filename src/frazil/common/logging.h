// Process-wide logging: levels and timestamps, through spdlog.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

#include "frazil/common/status.h"

namespace frazil {

// Sets the level from a name: trace, debug, info, warn, error, off.
Status SetLogLevel(std::string_view level);

// Installs the default logger's pattern ("2026-11-24 19:30:00.123 [info] ...").
void InitLogging();

}  // namespace frazil

#define FRAZIL_LOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define FRAZIL_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define FRAZIL_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define FRAZIL_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define FRAZIL_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
