// The embedded metadata store for subscriptions: which subscriptions exist
// on which topic, their type, and their acknowledged cursor (every offset
// below it is acknowledged). An SQLite file under the data directory.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "frazil/common/status.h"

struct sqlite3;

namespace frazil::broker {

struct SubscriptionRecord {
  std::string topic;
  std::string subscription;
  int32_t type = 0;  // ConsumerRequest.SubscriptionType
  uint64_t cursor = 0;
};

class CursorStore {
 public:
  static Result<std::unique_ptr<CursorStore>> Open(const std::string& path);
  ~CursorStore();

  Result<std::vector<SubscriptionRecord>> LoadAll();
  // Inserts or updates many records in one transaction.
  Status Save(const std::vector<SubscriptionRecord>& records);
  Status Remove(const std::string& topic, const std::string& subscription);
  // Forgets a topic and all its subscriptions.
  Status RemoveTopic(const std::string& topic);

  // Topics and their dispatch strategy (reliable or not), fixed at creation.
  Result<std::vector<std::pair<std::string, bool>>> LoadTopics();
  Status SaveTopic(const std::string& topic, bool reliable);

 private:
  explicit CursorStore(sqlite3* db) : db_(db) {}
  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace frazil::broker
