// Topics' schema configuration (Danube's per-topic schema context): the
// subject a topic is bound to, its validation policy and whether payloads
// are validated. Kept in memory for the produce path and in a table of the
// broker's metadata store (docs/formats/schema-registry.md), one statement
// per change with no lock held across it.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "frazil/common/mutex.h"
#include "frazil/common/status.h"

struct sqlite3;

namespace frazil::schema {

// Danube's policies: none (no checks), warn (checked, failures logged and
// counted, the message stored), enforce (a failure refuses the message).
enum class ValidationPolicy { kNone, kWarn, kEnforce };
Result<ValidationPolicy> ParseValidationPolicy(std::string_view name);  // any case
const char* ValidationPolicyName(ValidationPolicy p);                   // lower case, as Danube answers

struct TopicSchemaConfig {
  std::string subject;
  // Danube's defaults for a topic a producer binds to a subject.
  ValidationPolicy policy = ValidationPolicy::kWarn;
  bool payload_validation = false;
};

class TopicSchemaStore {
 public:
  // Opens (creating its table if needed) the store in the SQLite file at
  // `db_path` and loads it.
  static Result<std::unique_ptr<TopicSchemaStore>> Open(const std::string& db_path);
  ~TopicSchemaStore();

  // The topic's configuration (null: none). Cheap: the produce path asks.
  std::shared_ptr<const TopicSchemaConfig> Get(const std::string& topic) EXCLUDES(mu_);
  // No topic has a configuration: the produce path then checks nothing and
  // takes no lock (most brokers, most of the time).
  bool Empty() const { return configured_.load(std::memory_order_acquire) == 0; }
  // Replaces the topic's configuration (ConfigureTopicSchema).
  Status Set(const std::string& topic, const TopicSchemaConfig& config) EXCLUDES(mu_);
  // A topic without a subject gets `subject` with the default policy (the
  // first producer that names a subject binds the topic to it, as in
  // Danube). Returns the configuration in effect and whether it was
  // assigned now.
  Result<std::pair<std::shared_ptr<const TopicSchemaConfig>, bool>> AssignIfAbsent(const std::string& topic,
                                                                                   const std::string& subject)
      EXCLUDES(mu_);
  // Changes a configured topic's policy (NOT_FOUND if it has none).
  Status UpdatePolicy(const std::string& topic, ValidationPolicy policy, bool payload_validation)
      EXCLUDES(mu_);
  // Forgets the topic's configuration (topic deleted). No configuration: OK.
  Status Remove(const std::string& topic) EXCLUDES(mu_);

 private:
  explicit TopicSchemaStore(sqlite3* db) : db_(db) {}
  Status Load() EXCLUDES(mu_);
  // Writes (or with `config` null deletes) the row; the sequence number
  // makes the latest change win on disk as it did in memory.
  Status Persist(const std::string& topic, const TopicSchemaConfig* config, uint64_t seq);

  // Serialized-mode connection: every write is one autocommit statement.
  sqlite3* const db_;
  Mutex mu_;
  std::map<std::string, std::shared_ptr<const TopicSchemaConfig>> topics_ GUARDED_BY(mu_);
  uint64_t seq_ GUARDED_BY(mu_) = 0;
  // topics_.size(), stored after every change of topics_ (under mu_).
  std::atomic<size_t> configured_{0};
};

}  // namespace frazil::schema
