// `frazil topics list|describe|delete`: the broker's admin endpoints
// (docs/formats/admin-api.md) from the shell.
#pragma once

#include <string>

namespace frazil::cli {

struct TopicsArgs {
  std::string http = "127.0.0.1:9040";  // the broker's --http address
  std::string topic;                    // describe / delete
  bool json = false;                    // print the endpoint's JSON as is
};

// Exit codes: 0 done, 1 the broker refused or is unreachable, 2 bad usage.
int RunTopicsList(const TopicsArgs& args);
int RunTopicsDescribe(const TopicsArgs& args);
int RunTopicsDelete(const TopicsArgs& args);

}  // namespace frazil::cli
