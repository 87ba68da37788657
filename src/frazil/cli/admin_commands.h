// `frazil topics ...` and `frazil namespaces ...`: the broker's HTTP admin
// API (docs/formats/danube-admin.md) from the shell.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace frazil::cli {

struct TopicsArgs {
  std::string http = "127.0.0.1:9040";  // the broker's --http address
  std::string topic;                    // describe / delete / create / subscriptions / unsubscribe
  std::string subscription;             // unsubscribe
  std::string ns;                       // namespaces create / delete / topics
  int64_t partitions = -1;              // create: -1 for a plain topic (the broker checks the rest)
  bool reliable = false;                // create: reliable dispatch
  // retention: limits to set (as given: the broker checks them), or back
  // to the broker's default; none of these: show it.
  std::string max_age_ms, max_bytes;
  bool retention_default = false;
  bool json = false;             // print the endpoint's JSON as is
  std::vector<std::string> set;  // failure-policy: key=value fields to set
  int64_t max_unacked = -1;      // dispatch-config: the window to set (-1: show it)
};

// Exit codes: 0 done, 1 the broker refused or is unreachable, 2 bad usage.
int RunTopicsList(const TopicsArgs& args);
int RunTopicsDescribe(const TopicsArgs& args);
int RunTopicsDelete(const TopicsArgs& args);
int RunTopicsCreate(const TopicsArgs& args);
int RunTopicsSubscriptions(const TopicsArgs& args);
int RunTopicsUnsubscribe(const TopicsArgs& args);
int RunTopicsRetention(const TopicsArgs& args);
// A subscription's failure policy / dispatch configuration: shown, or set
// (--set key=value..., --max-unacked N); printed as the API's JSON.
int RunTopicsFailurePolicy(const TopicsArgs& args);
int RunTopicsDispatchConfig(const TopicsArgs& args);
int RunNamespacesList(const TopicsArgs& args);
int RunNamespacesCreate(const TopicsArgs& args);
int RunNamespacesDelete(const TopicsArgs& args);
int RunNamespacesTopics(const TopicsArgs& args);

}  // namespace frazil::cli
