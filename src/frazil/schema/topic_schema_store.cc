#include "frazil/schema/topic_schema_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>

#include "frazil/schema/sqlite_statement.h"

namespace frazil::schema {

namespace {

Status SqlError(int rc, const char* what) {
  // sqlite3_errstr, not errmsg: the connection is shared between threads.
  return Status::IoError(std::string("topic schema store: ") + what + ": " + sqlite3_errstr(rc));
}

using Stmt = SqlStatement;

}  // namespace

Result<ValidationPolicy> ParseValidationPolicy(std::string_view name) {
  std::string n(name);
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n == "none") return ValidationPolicy::kNone;
  if (n == "warn") return ValidationPolicy::kWarn;
  if (n == "enforce") return ValidationPolicy::kEnforce;
  return Status::InvalidArgument("invalid validation policy '" + std::string(name.substr(0, 64)) +
                                 "': must be 'none', 'warn', or 'enforce'");
}

const char* ValidationPolicyName(ValidationPolicy p) {
  switch (p) {
    case ValidationPolicy::kNone:
      return "none";
    case ValidationPolicy::kWarn:
      return "warn";
    case ValidationPolicy::kEnforce:
      return "enforce";
  }
  return "?";
}

Result<std::unique_ptr<TopicSchemaStore>> TopicSchemaStore::Open(const std::string& db_path) {
  sqlite3* db = nullptr;
  if (int rc = sqlite3_open_v2(db_path.c_str(), &db,
                               SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
      rc != SQLITE_OK) {
    sqlite3_close_v2(db);
    return Status::IoError("cannot open topic schema store " + db_path + ": " + sqlite3_errstr(rc));
  }
  std::unique_ptr<TopicSchemaStore> s(new TopicSchemaStore(db));
  // The metadata store's other connections may hold the write lock briefly.
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  int rc = sqlite3_exec(
      db,
      "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS topic_schemas (topic TEXT PRIMARY KEY "
      "NOT NULL, subject TEXT NOT NULL, validation_policy TEXT NOT NULL, payload_validation "
      "INTEGER NOT NULL, seq INTEGER NOT NULL)",
      nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string m = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return Status::IoError("topic schema store: " + m);
  }
  FRAZIL_RETURN_IF_ERROR(s->Load());
  return s;
}

TopicSchemaStore::~TopicSchemaStore() { sqlite3_close_v2(db_); }

Status TopicSchemaStore::Load() {
  std::map<std::string, std::shared_ptr<const TopicSchemaConfig>> topics;
  uint64_t max_seq = 0;
  Stmt st;
  int rc = sqlite3_prepare_v2(
      db_, "SELECT topic, subject, validation_policy, payload_validation, seq FROM topic_schemas", -1, &st.s,
      nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "prepare");
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    auto c = std::make_shared<TopicSchemaConfig>();
    c->subject = ColumnText(st.s, 1);
    auto policy = ParseValidationPolicy(ColumnText(st.s, 2));
    if (!policy.ok())
      return Status::Corruption("topic schema store: topic " + ColumnText(st.s, 0) + ": " +
                                policy.status().message());
    c->policy = *policy;
    c->payload_validation = sqlite3_column_int64(st.s, 3) != 0;
    max_seq = std::max(max_seq, static_cast<uint64_t>(sqlite3_column_int64(st.s, 4)));
    topics[ColumnText(st.s, 0)] = std::move(c);
  }
  if (rc != SQLITE_DONE) return SqlError(rc, "load");
  MutexLock l(&mu_);
  topics_ = std::move(topics);
  configured_.store(topics_.size(), std::memory_order_release);
  seq_ = max_seq;
  return Status::Ok();
}

Status TopicSchemaStore::Persist(const std::string& topic, const TopicSchemaConfig* c, uint64_t seq) {
  Stmt st;
  const char* sql =
      c ? "INSERT INTO topic_schemas (topic, subject, validation_policy, payload_validation, seq) "
          "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (topic) DO UPDATE SET subject = excluded.subject, "
          "validation_policy = excluded.validation_policy, payload_validation = "
          "excluded.payload_validation, seq = excluded.seq WHERE excluded.seq > topic_schemas.seq"
        : "DELETE FROM topic_schemas WHERE topic = ?1 AND seq < ?5";
  int rc = sqlite3_prepare_v2(db_, sql, -1, &st.s, nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "prepare");
  BindText(st.s, 1, topic);
  if (c) {
    BindText(st.s, 2, c->subject);
    BindText(st.s, 3, ValidationPolicyName(c->policy));
    sqlite3_bind_int64(st.s, 4, c->payload_validation ? 1 : 0);
  }
  sqlite3_bind_int64(st.s, 5, static_cast<sqlite3_int64>(seq));
  rc = sqlite3_step(st.s);
  if (rc != SQLITE_DONE) return SqlError(rc, "write");
  return Status::Ok();
}

std::shared_ptr<const TopicSchemaConfig> TopicSchemaStore::Get(const std::string& topic) {
  MutexLock l(&mu_);
  auto it = topics_.find(topic);
  return it == topics_.end() ? nullptr : it->second;
}

Status TopicSchemaStore::Set(const std::string& topic, const TopicSchemaConfig& config) {
  auto c = std::make_shared<const TopicSchemaConfig>(config);
  uint64_t seq;
  {
    MutexLock l(&mu_);
    topics_[topic] = c;
    configured_.store(topics_.size(), std::memory_order_release);
    seq = ++seq_;
  }
  return Persist(topic, c.get(), seq);
}

Result<std::pair<std::shared_ptr<const TopicSchemaConfig>, bool>> TopicSchemaStore::AssignIfAbsent(
    const std::string& topic, const std::string& subject) {
  std::shared_ptr<const TopicSchemaConfig> c;
  uint64_t seq;
  {
    MutexLock l(&mu_);
    auto it = topics_.find(topic);
    if (it != topics_.end()) return std::make_pair(it->second, false);
    auto fresh = std::make_shared<TopicSchemaConfig>();
    fresh->subject = subject;
    c = fresh;
    topics_[topic] = c;
    configured_.store(topics_.size(), std::memory_order_release);
    seq = ++seq_;
  }
  if (auto st = Persist(topic, c.get(), seq); !st.ok()) {
    MutexLock l(&mu_);
    if (auto it = topics_.find(topic); it != topics_.end() && it->second == c) topics_.erase(it);
    configured_.store(topics_.size(), std::memory_order_release);
    return st;
  }
  return std::make_pair(c, true);
}

Status TopicSchemaStore::UpdatePolicy(const std::string& topic, ValidationPolicy policy,
                                      bool payload_validation) {
  std::shared_ptr<const TopicSchemaConfig> c;
  uint64_t seq;
  {
    MutexLock l(&mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end())
      return Status::NotFound("topic '" + topic + "' has no schema subject configured");
    auto next = std::make_shared<TopicSchemaConfig>(*it->second);
    next->policy = policy;
    next->payload_validation = payload_validation;
    c = next;
    it->second = c;
    seq = ++seq_;
  }
  return Persist(topic, c.get(), seq);
}

Status TopicSchemaStore::Remove(const std::string& topic) {
  uint64_t seq;
  {
    MutexLock l(&mu_);
    if (topics_.erase(topic) == 0) return Status::Ok();
    configured_.store(topics_.size(), std::memory_order_release);
    seq = ++seq_;
  }
  return Persist(topic, nullptr, seq);
}

}  // namespace frazil::schema
