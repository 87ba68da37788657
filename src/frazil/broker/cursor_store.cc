#include "frazil/broker/cursor_store.h"

#include <sqlite3.h>

#include "frazil/common/random_id.h"

namespace frazil::broker {
namespace {

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::IoError(std::string("metadata store: ") + m);
  }
  return Status::Ok();
}

// Text is bound and read by length, so names compare byte for byte (a
// C-string bind would cut "s\0x" to "s").
void BindText(sqlite3_stmt* st, int index, const std::string& text) {
  sqlite3_bind_text(st, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

std::string ColumnText(sqlite3_stmt* st, int column) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, column));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, column))) : std::string();
}

Status Error(sqlite3* db, const char* what) {
  return Status::IoError(std::string("metadata store ") + what + ": " + sqlite3_errmsg(db));
}

}  // namespace

Result<std::unique_ptr<CursorStore>> CursorStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string m = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return Status::IoError("cannot open metadata store " + path + ": " + m);
  }
  std::unique_ptr<CursorStore> s(new CursorStore(db));
  sqlite3_busy_timeout(db, 5000);
  FRAZIL_RETURN_IF_ERROR(Exec(db, "PRAGMA journal_mode=WAL"));
  FRAZIL_RETURN_IF_ERROR(
      Exec(db,
           "CREATE TABLE IF NOT EXISTS subscriptions (topic TEXT NOT NULL, subscription TEXT NOT "
           "NULL, type INTEGER NOT NULL, cursor INTEGER NOT NULL, PRIMARY KEY (topic, "
           "subscription))"));
  FRAZIL_RETURN_IF_ERROR(
      Exec(db,
           "CREATE TABLE IF NOT EXISTS topics (topic TEXT PRIMARY KEY NOT NULL, reliable INTEGER "
           "NOT NULL)"));
  // Policy columns are NULL when no failure policy was set.
  FRAZIL_RETURN_IF_ERROR(
      Exec(db,
           "CREATE TABLE IF NOT EXISTS subscription_config (topic TEXT NOT NULL, subscription TEXT NOT NULL, "
           "max_unacked INTEGER, max_redelivery_count INTEGER, ack_timeout_ms INTEGER, "
           "base_redelivery_delay_ms INTEGER, max_redelivery_delay_ms INTEGER, backoff_strategy INTEGER, "
           "poison_policy INTEGER, dead_letter_topic TEXT, PRIMARY KEY (topic, subscription))"));
  FRAZIL_RETURN_IF_ERROR(Exec(db, "CREATE TABLE IF NOT EXISTS namespaces (name TEXT PRIMARY KEY NOT NULL)"));
  FRAZIL_RETURN_IF_ERROR(
      Exec(db,
           "CREATE TABLE IF NOT EXISTS topic_retention (topic TEXT PRIMARY KEY NOT NULL, max_age_ms INTEGER "
           "NOT NULL, max_bytes INTEGER NOT NULL)"));
  FRAZIL_RETURN_IF_ERROR(
      Exec(db, "CREATE TABLE IF NOT EXISTS broker (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)"));
  return s;
}

CursorStore::~CursorStore() { sqlite3_close_v2(db_); }

Result<std::vector<SubscriptionRecord>> CursorStore::LoadAll() {
  MutexLock lock(&mu_);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT topic, subscription, type, cursor FROM subscriptions", -1, &st,
                         nullptr) != SQLITE_OK)
    return Error(db_, "read");
  std::vector<SubscriptionRecord> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    SubscriptionRecord r;
    r.topic = ColumnText(st, 0);
    r.subscription = ColumnText(st, 1);
    r.type = sqlite3_column_int(st, 2);
    r.cursor = static_cast<uint64_t>(sqlite3_column_int64(st, 3));
    out.push_back(std::move(r));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Error(db_, "read");
  return out;
}

Status CursorStore::Save(const std::vector<SubscriptionRecord>& records) {
  return WriteRows(
      "INSERT INTO subscriptions (topic, subscription, type, cursor) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (topic, subscription) DO UPDATE SET type = ?3, cursor = ?4",
      records, [](sqlite3_stmt* st, const SubscriptionRecord& r) {
        BindText(st, 1, r.topic);
        BindText(st, 2, r.subscription);
        sqlite3_bind_int(st, 3, r.type);
        sqlite3_bind_int64(st, 4, static_cast<sqlite3_int64>(r.cursor));
      });
}

Status CursorStore::RemoveTopic(const std::string& topic) {
  MutexLock lock(&mu_);
  for (const char* sql :
       {"DELETE FROM subscriptions WHERE topic = ?1", "DELETE FROM subscription_config WHERE topic = ?1",
        "DELETE FROM topics WHERE topic = ?1", "DELETE FROM topic_retention WHERE topic = ?1"}) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) return Error(db_, "delete topic");
    BindText(st, 1, topic);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return Error(db_, "delete topic");
  }
  return Status::Ok();
}

Status CursorStore::Remove(const std::string& topic, const std::string& subscription) {
  MutexLock lock(&mu_);
  for (const char* sql : {"DELETE FROM subscriptions WHERE topic = ?1 AND subscription = ?2",
                          "DELETE FROM subscription_config WHERE topic = ?1 AND subscription = ?2"}) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) return Error(db_, "delete");
    BindText(st, 1, topic);
    BindText(st, 2, subscription);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return Error(db_, "delete");
  }
  return Status::Ok();
}

Result<std::vector<SubscriptionConfig>> CursorStore::LoadConfigs() {
  MutexLock lock(&mu_);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(
          db_,
          "SELECT topic, subscription, max_unacked, max_redelivery_count, ack_timeout_ms, "
          "base_redelivery_delay_ms, max_redelivery_delay_ms, backoff_strategy, poison_policy, "
          "dead_letter_topic FROM subscription_config",
          -1, &st, nullptr) != SQLITE_OK)
    return Error(db_, "read");
  std::vector<SubscriptionConfig> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    SubscriptionConfig c;
    c.topic = ColumnText(st, 0);
    c.subscription = ColumnText(st, 1);
    if (sqlite3_column_type(st, 2) != SQLITE_NULL)
      c.max_unacked = static_cast<uint32_t>(sqlite3_column_int64(st, 2));
    if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
      FailurePolicy p;
      p.max_redelivery_count = static_cast<uint32_t>(sqlite3_column_int64(st, 3));
      p.ack_timeout_ms = static_cast<uint64_t>(sqlite3_column_int64(st, 4));
      p.base_redelivery_delay_ms = static_cast<uint64_t>(sqlite3_column_int64(st, 5));
      p.max_redelivery_delay_ms = static_cast<uint64_t>(sqlite3_column_int64(st, 6));
      p.backoff = static_cast<BackoffStrategy>(sqlite3_column_int(st, 7));
      p.poison = static_cast<PoisonPolicy>(sqlite3_column_int(st, 8));
      if (sqlite3_column_type(st, 9) != SQLITE_NULL) p.dead_letter_topic = ColumnText(st, 9);
      c.failure_policy = std::move(p);
    }
    out.push_back(std::move(c));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Error(db_, "read");
  return out;
}

Status CursorStore::SaveConfig(const SubscriptionConfig& config) {
  return WriteRows(
      // Only the parts given change: setting the policy keeps the dispatch
      // configuration and the other way round.
      "INSERT INTO subscription_config (topic, subscription, max_unacked, max_redelivery_count, "
      "ack_timeout_ms, base_redelivery_delay_ms, max_redelivery_delay_ms, backoff_strategy, poison_policy, "
      "dead_letter_topic) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
      "ON CONFLICT (topic, subscription) DO UPDATE SET max_unacked = COALESCE(?3, max_unacked), "
      "max_redelivery_count = CASE WHEN ?11 THEN ?4 ELSE max_redelivery_count END, "
      "ack_timeout_ms = CASE WHEN ?11 THEN ?5 ELSE ack_timeout_ms END, "
      "base_redelivery_delay_ms = CASE WHEN ?11 THEN ?6 ELSE base_redelivery_delay_ms END, "
      "max_redelivery_delay_ms = CASE WHEN ?11 THEN ?7 ELSE max_redelivery_delay_ms END, "
      "backoff_strategy = CASE WHEN ?11 THEN ?8 ELSE backoff_strategy END, "
      "poison_policy = CASE WHEN ?11 THEN ?9 ELSE poison_policy END, "
      "dead_letter_topic = CASE WHEN ?11 THEN ?10 ELSE dead_letter_topic END",
      std::vector<SubscriptionConfig>{config}, [](sqlite3_stmt* st, const SubscriptionConfig& c) {
        sqlite3_clear_bindings(st);  // unset parts stay NULL
        BindText(st, 1, c.topic);
        BindText(st, 2, c.subscription);
        if (c.max_unacked) sqlite3_bind_int64(st, 3, *c.max_unacked);
        sqlite3_bind_int(st, 11, c.failure_policy ? 1 : 0);
        if (const auto& p = c.failure_policy) {
          sqlite3_bind_int64(st, 4, p->max_redelivery_count);
          sqlite3_bind_int64(st, 5, static_cast<sqlite3_int64>(p->ack_timeout_ms));
          sqlite3_bind_int64(st, 6, static_cast<sqlite3_int64>(p->base_redelivery_delay_ms));
          sqlite3_bind_int64(st, 7, static_cast<sqlite3_int64>(p->max_redelivery_delay_ms));
          sqlite3_bind_int(st, 8, static_cast<int>(p->backoff));
          sqlite3_bind_int(st, 9, static_cast<int>(p->poison));
          if (p->dead_letter_topic) BindText(st, 10, *p->dead_letter_topic);
        }
      });
}

Result<std::vector<std::pair<std::string, bool>>> CursorStore::LoadTopics() {
  MutexLock lock(&mu_);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT topic, reliable FROM topics", -1, &st, nullptr) != SQLITE_OK)
    return Error(db_, "read");
  std::vector<std::pair<std::string, bool>> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    out.emplace_back(ColumnText(st, 0), sqlite3_column_int(st, 1) != 0);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Error(db_, "read");
  return out;
}

Status CursorStore::SaveTopic(const std::string& topic, bool reliable) {
  return SaveTopics({{topic, reliable}});
}

Status CursorStore::SaveTopics(const std::vector<std::pair<std::string, bool>>& topics) {
  return WriteRows("INSERT OR IGNORE INTO topics (topic, reliable) VALUES (?1, ?2)", topics,
                   [](sqlite3_stmt* st, const std::pair<std::string, bool>& t) {
                     BindText(st, 1, t.first);
                     sqlite3_bind_int(st, 2, t.second ? 1 : 0);
                   });
}

Result<std::vector<std::pair<std::string, storage::RetentionPolicy>>> CursorStore::LoadRetention() {
  MutexLock lock(&mu_);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT topic, max_age_ms, max_bytes FROM topic_retention", -1, &st, nullptr) !=
      SQLITE_OK)
    return Error(db_, "read");
  std::vector<std::pair<std::string, storage::RetentionPolicy>> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    out.emplace_back(ColumnText(st, 0),
                     storage::RetentionPolicy{sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2)});
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Error(db_, "read");
  return out;
}

Status CursorStore::SaveRetention(const std::string& topic, const storage::RetentionPolicy& policy) {
  return WriteRows(
      "INSERT INTO topic_retention (topic, max_age_ms, max_bytes) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (topic) DO UPDATE SET max_age_ms = ?2, max_bytes = ?3",
      std::vector<storage::RetentionPolicy>{policy},
      [&](sqlite3_stmt* st, const storage::RetentionPolicy& p) {
        BindText(st, 1, topic);
        sqlite3_bind_int64(st, 2, p.max_age_ms);
        sqlite3_bind_int64(st, 3, p.max_bytes);
      });
}

Status CursorStore::RemoveRetention(const std::string& topic) {
  MutexLock lock(&mu_);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "DELETE FROM topic_retention WHERE topic = ?1", -1, &st, nullptr) != SQLITE_OK)
    return Error(db_, "delete");
  BindText(st, 1, topic);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? Status::Ok() : Error(db_, "delete");
}

Result<std::vector<std::string>> CursorStore::LoadNamespaces() {
  MutexLock lock(&mu_);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT name FROM namespaces ORDER BY name", -1, &st, nullptr) != SQLITE_OK)
    return Error(db_, "read");
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back(ColumnText(st, 0));
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Error(db_, "read");
  return out;
}

Status CursorStore::SaveNamespace(const std::string& ns) {
  MutexLock lock(&mu_);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "INSERT OR IGNORE INTO namespaces (name) VALUES (?1)", -1, &st, nullptr) !=
      SQLITE_OK)
    return Error(db_, "write");
  BindText(st, 1, ns);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Error(db_, "write");
  if (sqlite3_changes(db_) == 0) return Status::AlreadyExists("namespace " + ns + " already exists");
  return Status::Ok();
}

Status CursorStore::RemoveNamespace(const std::string& ns) {
  MutexLock lock(&mu_);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "DELETE FROM namespaces WHERE name = ?1", -1, &st, nullptr) != SQLITE_OK)
    return Error(db_, "delete");
  BindText(st, 1, ns);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Error(db_, "delete");
  if (sqlite3_changes(db_) == 0) return Status::NotFound("namespace " + ns + " does not exist");
  return Status::Ok();
}

Result<uint64_t> CursorStore::BrokerId() {
  MutexLock lock(&mu_);
  // INSERT OR IGNORE keeps the first id ever chosen; the SELECT reads it.
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "INSERT OR IGNORE INTO broker (key, value) VALUES ('id', ?1)", -1, &st,
                         nullptr) != SQLITE_OK)
    return Error(db_, "write");
  sqlite3_bind_int64(st, 1, RandomPositiveId());
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Error(db_, "write");
  if (sqlite3_prepare_v2(db_, "SELECT value FROM broker WHERE key = 'id'", -1, &st, nullptr) != SQLITE_OK)
    return Error(db_, "read");
  rc = sqlite3_step(st);
  uint64_t id = rc == SQLITE_ROW ? static_cast<uint64_t>(sqlite3_column_int64(st, 0)) : 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) return Error(db_, "read");
  return id;
}

template <class Row, class Bind>
Status CursorStore::WriteRows(const char* sql, const std::vector<Row>& rows, Bind bind) {
  if (rows.empty()) return Status::Ok();
  MutexLock lock(&mu_);
  FRAZIL_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) {
    Status e = Error(db_, "write");
    (void)Exec(db_, "ROLLBACK");
    return e;
  }
  for (const auto& row : rows) {
    bind(st, row);
    if (sqlite3_step(st) != SQLITE_DONE) {
      Status e = Error(db_, "write");
      sqlite3_finalize(st);
      (void)Exec(db_, "ROLLBACK");
      return e;
    }
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return Exec(db_, "COMMIT");
}

}  // namespace frazil::broker
