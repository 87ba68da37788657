// Small helpers shared by the schema stores in the broker's metadata
// database (schema_registry.cc, topic_schema_store.cc).
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

namespace frazil::schema {

// A prepared statement, finalized when it goes out of scope.
struct SqlStatement {
  sqlite3_stmt* s = nullptr;
  ~SqlStatement() { sqlite3_finalize(s); }
};

inline void BindText(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

// A text or blob column as bytes (empty for NULL).
inline std::string ColumnText(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(s, i));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

}  // namespace frazil::schema
