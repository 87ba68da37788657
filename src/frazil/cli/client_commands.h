// `frazil produce` and `frazil consume`: Danube-protocol clients shaped like
// danube-cli, for trying a broker from the shell.
#pragma once

#include <cstdint>
#include <string>

namespace frazil::cli {

struct ProduceArgs {
  std::string server = "http://127.0.0.1:6650";
  std::string topic;
  std::string message;
  std::string file;  // payload from a file instead of `message`
  int64_t count = 1;
  int64_t interval_ms = 500;
  std::string attributes;  // k1:v1,k2:v2
  std::string routing_key;
  int partitions = 0;
  bool reliable = false;
  std::string producer_name;
};

struct ConsumeArgs {
  std::string server = "http://127.0.0.1:6650";
  std::string topic;
  std::string subscription;
  std::string sub_type = "shared";  // exclusive | shared | failover | key_shared
  int64_t max_messages = 0;         // 0: until interrupted
  std::string from = "latest";      // earliest | latest (for a new subscription)
  std::string consumer_name;
};

int RunProduce(const ProduceArgs& args);
int RunConsume(const ConsumeArgs& args);

}  // namespace frazil::cli
