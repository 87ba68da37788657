// An environment for the AWS credential chain that reads from a map, so
// tests choose what AWS_* variables a resolver sees.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "frazil/net/aws_credentials.h"

namespace frazil::testing {

struct FakeEnv {
  std::map<std::string, std::string> vars;
  net::Environment env() const {
    return net::Environment{[this](const std::string& n) -> std::optional<std::string> {
      auto it = vars.find(n);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    }};
  }
};

}  // namespace frazil::testing
