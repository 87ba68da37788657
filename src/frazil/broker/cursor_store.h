// The embedded metadata store for subscriptions: which subscriptions exist
// on which topic, their type, and their acknowledged cursor (every offset
// below it is acknowledged); also the topics, their retention, the
// namespaces operators created and the broker's id. An SQLite file under the data directory.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "frazil/broker/failure_policy.h"
#include "frazil/common/mutex.h"
#include "frazil/common/status.h"
#include "frazil/storage/table_retention.h"

struct sqlite3;

namespace frazil::broker {

struct SubscriptionRecord {
  std::string topic;
  std::string subscription;
  int32_t type = 0;  // ConsumerRequest.SubscriptionType
  uint64_t cursor = 0;
};

// What an operator set on a subscription through the admin API (table
// subscription_config); unset parts keep the broker's defaults.
struct SubscriptionConfig {
  std::string topic;
  std::string subscription;
  std::optional<FailurePolicy> failure_policy;
  std::optional<uint32_t> max_unacked;  // SubscriptionDispatchConfig.max_unacked_messages
};

class CursorStore {
 public:
  static Result<std::unique_ptr<CursorStore>> Open(const std::string& path);
  ~CursorStore();

  Result<std::vector<SubscriptionRecord>> LoadAll();
  // Inserts or updates many records in one transaction.
  Status Save(const std::vector<SubscriptionRecord>& records);
  Status Remove(const std::string& topic, const std::string& subscription);
  // Subscription configurations (removed with their subscription or topic).
  Result<std::vector<SubscriptionConfig>> LoadConfigs();
  // Sets the parts `config` has (a policy, a max_unacked), keeping the others.
  Status SaveConfig(const SubscriptionConfig& config);
  // Forgets a topic and all its subscriptions.
  Status RemoveTopic(const std::string& topic);

  // Topics and their dispatch strategy (reliable or not), fixed at creation.
  Result<std::vector<std::pair<std::string, bool>>> LoadTopics();
  Status SaveTopic(const std::string& topic, bool reliable);
  // Many topics in one transaction (a first start over thousands of WALs).
  Status SaveTopics(const std::vector<std::pair<std::string, bool>>& topics);

  // Namespaces an operator created (a topic's namespace exists as long as
  // the topic does, declared or not).
  Result<std::vector<std::string>> LoadNamespaces();
  // AlreadyExists if it was saved before.
  Status SaveNamespace(const std::string& ns);
  // NotFound if it was never saved.
  Status RemoveNamespace(const std::string& ns);
  // Topics' own retention (those without one follow the broker's default).
  Result<std::vector<std::pair<std::string, storage::RetentionPolicy>>> LoadRetention();
  Status SaveRetention(const std::string& topic, const storage::RetentionPolicy& policy);
  // Not an error if the topic had none.
  Status RemoveRetention(const std::string& topic);

  // This broker's id, chosen at random the first time and kept.
  Result<uint64_t> BrokerId();

 private:
  // Runs `sql` once per row (bound by `bind(stmt, row)`) in one transaction.
  template <class Row, class Bind>
  Status WriteRows(const char* sql, const std::vector<Row>& rows, Bind bind) EXCLUDES(mu_);
  explicit CursorStore(sqlite3* db) : db_(db) {}
  // Serializes use of the connection (a transaction spans several calls).
  // The one lock in the broker held across I/O, by design: a leaf, taken
  // with no other lock held, and only the store's own callers (cursor
  // flush on the upkeep executor, topic and subscription creation and
  // deletion) wait on it, never the produce, dispatch or ack paths.
  Mutex mu_;
  sqlite3* const db_ PT_GUARDED_BY(mu_);
};

}  // namespace frazil::broker
