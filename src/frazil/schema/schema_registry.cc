#include "frazil/schema/schema_registry.h"

#include <openssl/sha.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>

#include "frazil/schema/avro_compatibility.h"
#include "frazil/schema/json_compatibility.h"
#include "frazil/schema/json_depth.h"
#include "frazil/schema/payload_validator.h"
#include "frazil/schema/sqlite_statement.h"

namespace frazil::schema {

using nlohmann::json;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status CheckText(std::string_view field, std::string_view value, size_t max_bytes) {
  if (value.size() > max_bytes)
    return Status::InvalidArgument(std::string(field) + " is longer than " + std::to_string(max_bytes) +
                                   " bytes");
  if (!IsValidUtf8(value)) return Status::InvalidArgument(std::string(field) + " is not valid UTF-8");
  if (value.find('\0') != std::string_view::npos)
    return Status::InvalidArgument(std::string(field) + " contains NUL");
  return Status::Ok();
}

Status CheckSubject(std::string_view subject) {
  if (subject.empty()) return Status::InvalidArgument("subject is empty");
  return CheckText("subject", subject, kMaxSubjectBytes);
}

// JSON nesting depth of a text, found before parsing: nlohmann's parser is
// iterative but writing and our Avro parser are not, so a deeply nested
// definition is refused up front.
constexpr int kMaxJsonDepth = 64;

Status CheckJsonDepth(std::string_view text) {
  if (JsonDeeperThan(text, kMaxJsonDepth))
    return Status::InvalidArgument("schema definition is nested more than " + std::to_string(kMaxJsonDepth) +
                                   " levels deep");
  return Status::Ok();
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned char b : digest) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 0xF]);
  }
  return out;
}

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

bool Transitive(CompatibilityMode m) {
  return m == CompatibilityMode::kBackwardTransitive || m == CompatibilityMode::kForwardTransitive ||
         m == CompatibilityMode::kFullTransitive;
}

// --- SQLite -------------------------------------------------------------------

Status SqlError(int rc, const char* what) {
  // sqlite3_errstr, not errmsg: the connection is shared between threads.
  return Status::IoError(std::string("schema registry store: ") + what + ": " + sqlite3_errstr(rc));
}

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string m = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return Status::IoError(std::string("schema registry store: ") + m);
  }
  return Status::Ok();
}

using Stmt = SqlStatement;

// Runs one write statement (autocommit: atomic on its own).
template <class Bind>
Status Write(sqlite3* db, const char* sql, Bind bind) {
  Stmt st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st.s, nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "prepare");
  bind(st.s);
  rc = sqlite3_step(st.s);
  if (rc != SQLITE_DONE) return SqlError(rc, "write");
  return Status::Ok();
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;  // continuation bytes
    uint32_t cp;
    if (c < 0x80) {
      n = 0, cp = c;
    } else if ((c >> 5) == 0x6) {
      n = 1, cp = c & 0x1F;
    } else if ((c >> 4) == 0xE) {
      n = 2, cp = c & 0x0F;
    } else if ((c >> 3) == 0x1E) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, surrogates and code points beyond Unicode.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

Result<SchemaType> ParseSchemaType(std::string_view name) {
  const std::string n = Lower(name);
  if (n == "bytes") return SchemaType::kBytes;
  if (n == "string") return SchemaType::kString;
  if (n == "number" || n == "int64" || n == "int" || n == "float" || n == "double")
    return SchemaType::kNumber;
  if (n == "avro") return SchemaType::kAvro;
  if (n == "json_schema" || n == "json") return SchemaType::kJsonSchema;
  if (n == "protobuf" || n == "proto") return SchemaType::kProtobuf;
  return Status::InvalidArgument("unknown schema type '" + std::string(name.substr(0, 64)) +
                                 "' (bytes, string, number, avro, json_schema or protobuf)");
}

const char* SchemaTypeName(SchemaType t) {
  switch (t) {
    case SchemaType::kBytes:
      return "bytes";
    case SchemaType::kString:
      return "string";
    case SchemaType::kNumber:
      return "number";
    case SchemaType::kAvro:
      return "avro";
    case SchemaType::kJsonSchema:
      return "json_schema";
    case SchemaType::kProtobuf:
      return "protobuf";
  }
  return "?";
}

Result<CompatibilityMode> ParseCompatibilityMode(std::string_view name) {
  const std::string n = Lower(name);
  if (n == "none") return CompatibilityMode::kNone;
  if (n == "backward") return CompatibilityMode::kBackward;
  if (n == "forward") return CompatibilityMode::kForward;
  if (n == "full") return CompatibilityMode::kFull;
  if (n == "backward_transitive") return CompatibilityMode::kBackwardTransitive;
  if (n == "forward_transitive") return CompatibilityMode::kForwardTransitive;
  if (n == "full_transitive") return CompatibilityMode::kFullTransitive;
  return Status::InvalidArgument("unknown compatibility mode '" + std::string(name.substr(0, 64)) +
                                 "' (none, backward, forward, full, or *_transitive)");
}

const char* CompatibilityModeName(CompatibilityMode m) {
  switch (m) {
    case CompatibilityMode::kNone:
      return "none";
    case CompatibilityMode::kBackward:
      return "backward";
    case CompatibilityMode::kForward:
      return "forward";
    case CompatibilityMode::kFull:
      return "full";
    case CompatibilityMode::kBackwardTransitive:
      return "backward_transitive";
    case CompatibilityMode::kForwardTransitive:
      return "forward_transitive";
    case CompatibilityMode::kFullTransitive:
      return "full_transitive";
  }
  return "?";
}

namespace {

// A .proto text: UTF-8, at least one `message`, braces that balance
// outside comments and string literals. Not a parser: enough to refuse what
// cannot be a protobuf schema (an empty or binary text, a JSON document).
Status CheckProtoText(std::string_view text) {
  if (!IsValidUtf8(text)) return Status::InvalidArgument("invalid protobuf schema: not UTF-8 text");
  int depth = 0;
  bool message = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      i = text.find('\n', i);
      if (i == std::string_view::npos) break;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      i = text.find("*/", i + 2);
      if (i == std::string_view::npos)
        return Status::InvalidArgument("invalid protobuf schema: unclosed comment");
      ++i;
    } else if (c == '"' || c == '\'') {
      for (++i; i < text.size() && text[i] != c; ++i)
        if (text[i] == '\\') ++i;
      if (i >= text.size())
        return Status::InvalidArgument("invalid protobuf schema: unclosed string literal");
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      if (--depth < 0) return Status::InvalidArgument("invalid protobuf schema: '}' without '{'");
    } else if (text.compare(i, 7, "message") == 0 &&
               (i == 0 || !std::isalnum(static_cast<unsigned char>(text[i - 1]))) && i + 7 < text.size() &&
               std::isspace(static_cast<unsigned char>(text[i + 7]))) {
      message = true;
    }
  }
  if (depth != 0) return Status::InvalidArgument("invalid protobuf schema: unbalanced braces");
  if (!message) return Status::InvalidArgument("invalid protobuf schema: it defines no message");
  return Status::Ok();
}

}  // namespace

Result<ParsedSchema> ParseDefinition(SchemaType type, std::string_view definition) {
  if (definition.size() > kMaxSchemaBytes)
    return Status::InvalidArgument("schema definition is larger than " + std::to_string(kMaxSchemaBytes) +
                                   " bytes");
  ParsedSchema p;
  p.type = type;
  switch (type) {
    case SchemaType::kBytes:
    case SchemaType::kString:
    case SchemaType::kNumber:
      // These types have no definition to speak of (Danube ignores it):
      // one fingerprint per type.
      p.normalized = SchemaTypeName(type);
      break;
    case SchemaType::kAvro: {
      FRAZIL_RETURN_IF_ERROR(CheckJsonDepth(definition));
      auto s = avro::ParseSchema(std::string(definition));
      if (!s.ok()) return Status::InvalidArgument("invalid Avro schema: " + s.status().message());
      p.avro = *s;
      p.normalized = avro::SchemaToJson(**s).dump();  // keys sorted, no whitespace
      break;
    }
    case SchemaType::kJsonSchema: {
      FRAZIL_RETURN_IF_ERROR(CheckJsonDepth(definition));
      json j = json::parse(definition, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) return Status::InvalidArgument("invalid JSON Schema: not valid JSON");
      if (!j.is_object() && !j.is_boolean())
        return Status::InvalidArgument("invalid JSON Schema: the root must be an object or a boolean");
      p.normalized = j.dump();
      // Compiled here, once per version: a schema valijson cannot compile
      // (a $ref outside the document or to nowhere) is refused.
      FRAZIL_ASSIGN_OR_RETURN(p.json_validator, JsonSchemaValidator::Compile(j));
      p.json = std::move(j);
      break;
    }
    case SchemaType::kProtobuf:
      // Danube keeps a .proto text as it is (UTF-8 is all it checks); we
      // also refuse text that cannot be one, and fingerprint it as sent.
      FRAZIL_RETURN_IF_ERROR(CheckProtoText(definition));
      p.normalized = std::string(definition);
      break;
  }
  p.fingerprint = Sha256Hex(p.normalized);
  return p;
}

Result<CompatibilityResult> CheckReadable(const ParsedSchema& reader, const ParsedSchema& writer) {
  CompatibilityResult r;
  if (reader.type != writer.type) {
    r.compatible = false;
    r.errors.push_back(std::string("schema type changes from ") + SchemaTypeName(writer.type) + " to " +
                       SchemaTypeName(reader.type));
    return r;
  }
  switch (reader.type) {
    case SchemaType::kAvro:
      r.errors = AvroResolutionErrors(*reader.avro, *writer.avro);
      r.compatible = r.errors.empty();
      return r;
    case SchemaType::kJsonSchema:
      r.errors = JsonSchemaReadErrors(reader.json, writer.json);
      r.compatible = r.errors.empty();
      return r;
    case SchemaType::kProtobuf:
      // The same text reads itself; anything else would need a .proto
      // parser, which Frazil does not have (Danube's checker answers
      // "compatible" without looking): said, not guessed.
      if (reader.normalized == writer.normalized) return r;
      return Status::Unimplemented(
          "Frazil does not check the compatibility of protobuf schemas; set the subject's compatibility "
          "mode to none to register a protobuf version that differs from the last");
    default:
      return r;  // bytes, string, number: nothing to resolve
  }
}

// --- the registry -----------------------------------------------------------

Result<std::unique_ptr<SchemaRegistry>> SchemaRegistry::Open(const std::string& db_path) {
  sqlite3* db = nullptr;
  if (int rc = sqlite3_open_v2(db_path.c_str(), &db,
                               SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
      rc != SQLITE_OK) {
    sqlite3_close_v2(db);
    return Status::IoError("cannot open schema registry store " + db_path + ": " + sqlite3_errstr(rc));
  }
  std::unique_ptr<SchemaRegistry> r(new SchemaRegistry(db));
  // The metadata store's other connection (subscriptions) may hold the write lock briefly.
  sqlite3_busy_timeout(db, 5000);
  FRAZIL_RETURN_IF_ERROR(Exec(db, "PRAGMA journal_mode=WAL"));
  FRAZIL_RETURN_IF_ERROR(Exec(
      db,
      "CREATE TABLE IF NOT EXISTS schema_versions (subject TEXT NOT NULL, version INTEGER NOT NULL, "
      "schema_id INTEGER NOT NULL, schema_type TEXT NOT NULL, definition BLOB NOT NULL, fingerprint TEXT "
      "NOT NULL, description TEXT NOT NULL, created_by TEXT NOT NULL, tags TEXT NOT NULL, created_at "
      "INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (subject, version))"));
  FRAZIL_RETURN_IF_ERROR(Exec(
      db,
      "CREATE TABLE IF NOT EXISTS schema_modes (subject TEXT PRIMARY KEY NOT NULL, compatibility_mode TEXT "
      "NOT NULL, seq INTEGER NOT NULL)"));
  FRAZIL_RETURN_IF_ERROR(r->Load());
  return r;
}

SchemaRegistry::~SchemaRegistry() { sqlite3_close_v2(db_); }

Status SchemaRegistry::Load() {
  std::map<std::string, Subject> subjects;
  uint64_t max_id = 0;
  uint64_t max_seq = 0;
  {
    Stmt st;
    int rc = sqlite3_prepare_v2(db_,
                                "SELECT subject, version, schema_id, schema_type, definition, fingerprint, "
                                "description, created_by, tags, created_at, deleted FROM schema_versions",
                                -1, &st.s, nullptr);
    if (rc != SQLITE_OK) return SqlError(rc, "prepare");
    while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
      const std::string subject = ColumnText(st.s, 0);
      StoredVersion v;
      v.info.version = static_cast<uint32_t>(sqlite3_column_int64(st.s, 1));
      const auto schema_id = static_cast<uint64_t>(sqlite3_column_int64(st.s, 2));
      FRAZIL_ASSIGN_OR_RETURN(v.info.type, ParseSchemaType(ColumnText(st.s, 3)));
      v.info.definition = ColumnText(st.s, 4);
      v.info.fingerprint = ColumnText(st.s, 5);
      v.info.description = ColumnText(st.s, 6);
      v.info.created_by = ColumnText(st.s, 7);
      json tags = json::parse(ColumnText(st.s, 8), nullptr, false);
      if (tags.is_array())
        for (const auto& t : tags)
          if (t.is_string()) v.info.tags.push_back(t.get<std::string>());
      v.info.created_at_ms = static_cast<uint64_t>(sqlite3_column_int64(st.s, 9));
      v.deleted = sqlite3_column_int64(st.s, 10) != 0;
      if (!v.deleted) {
        auto parsed = ParseDefinition(v.info.type, v.info.definition);
        if (!parsed.ok())
          return Status::Corruption("schema registry: stored " + subject + " version " +
                                    std::to_string(v.info.version) + ": " + parsed.status().message());
        v.parsed = std::make_shared<const ParsedSchema>(std::move(*parsed));
      }
      Subject& s = subjects[subject];
      s.schema_id = schema_id;
      s.max_version = std::max(s.max_version, v.info.version);
      max_id = std::max(max_id, schema_id);
      s.versions[v.info.version] = std::move(v);
    }
    if (rc != SQLITE_DONE) return SqlError(rc, "load versions");
  }
  {
    Stmt st;
    int rc = sqlite3_prepare_v2(db_, "SELECT subject, compatibility_mode, seq FROM schema_modes", -1, &st.s,
                                nullptr);
    if (rc != SQLITE_OK) return SqlError(rc, "prepare");
    while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
      auto it = subjects.find(ColumnText(st.s, 0));
      if (it == subjects.end()) continue;
      FRAZIL_ASSIGN_OR_RETURN(it->second.mode, ParseCompatibilityMode(ColumnText(st.s, 1)));
      it->second.mode_seq = static_cast<uint64_t>(sqlite3_column_int64(st.s, 2));
      max_seq = std::max(max_seq, it->second.mode_seq);
    }
    if (rc != SQLITE_DONE) return SqlError(rc, "load modes");
  }
  MutexLock l(&mu_);
  subjects_ = std::move(subjects);
  for (const auto& [name, s] : subjects_) by_id_[s.schema_id] = name;
  next_id_ = max_id + 1;
  mode_seq_ = max_seq;
  return Status::Ok();
}

std::vector<std::shared_ptr<const ParsedSchema>> SchemaRegistry::Baseline(const Subject& s,
                                                                          CompatibilityMode mode) {
  std::vector<std::shared_ptr<const ParsedSchema>> out;
  if (mode == CompatibilityMode::kNone) return out;
  for (auto it = s.versions.rbegin(); it != s.versions.rend(); ++it) {
    if (it->second.deleted) continue;
    out.push_back(it->second.parsed);
    if (!Transitive(mode)) break;  // the latest live version only
  }
  return out;
}

Result<CompatibilityResult> SchemaRegistry::Check(
    const ParsedSchema& candidate, const std::vector<std::shared_ptr<const ParsedSchema>>& existing,
    CompatibilityMode mode) {
  const bool backward = mode == CompatibilityMode::kBackward ||
                        mode == CompatibilityMode::kBackwardTransitive || mode == CompatibilityMode::kFull ||
                        mode == CompatibilityMode::kFullTransitive;
  const bool forward = mode == CompatibilityMode::kForward || mode == CompatibilityMode::kForwardTransitive ||
                       mode == CompatibilityMode::kFull || mode == CompatibilityMode::kFullTransitive;
  CompatibilityResult out;
  for (const auto& old : existing) {
    if (backward) {
      FRAZIL_ASSIGN_OR_RETURN(auto r, CheckReadable(candidate, *old));
      for (auto& e : r.errors) out.errors.push_back("new schema cannot read old data: " + e);
    }
    if (forward) {
      FRAZIL_ASSIGN_OR_RETURN(auto r, CheckReadable(*old, candidate));
      for (auto& e : r.errors) out.errors.push_back("old schema cannot read new data: " + e);
    }
  }
  out.compatible = out.errors.empty();
  return out;
}

FoundSchema SchemaRegistry::Found(const std::string& subject, const Subject& s, const StoredVersion& v) {
  return FoundSchema{subject, s.schema_id, s.mode, v.info};
}

Result<RegisterResult> SchemaRegistry::Register(const NewSchema& n) {
  FRAZIL_RETURN_IF_ERROR(CheckSubject(n.subject));
  if (n.tags.size() > kMaxTags)
    return Status::InvalidArgument("more than " + std::to_string(kMaxTags) + " tags");
  size_t meta = n.description.size() + n.created_by.size();
  for (const auto& t : n.tags) meta += t.size();
  if (meta > kMaxMetadataBytes)
    return Status::InvalidArgument("description, created_by and tags together exceed " +
                                   std::to_string(kMaxMetadataBytes) + " bytes");
  FRAZIL_RETURN_IF_ERROR(CheckText("description", n.description, kMaxMetadataBytes));
  FRAZIL_RETURN_IF_ERROR(CheckText("created_by", n.created_by, kMaxMetadataBytes));
  for (const auto& t : n.tags) FRAZIL_RETURN_IF_ERROR(CheckText("tag", t, kMaxMetadataBytes));
  FRAZIL_ASSIGN_OR_RETURN(SchemaType type, ParseSchemaType(n.type));
  FRAZIL_ASSIGN_OR_RETURN(ParsedSchema parsed_value, ParseDefinition(type, n.definition));
  auto parsed = std::make_shared<const ParsedSchema>(std::move(parsed_value));

  StoredVersion v;
  v.info.type = type;
  v.info.definition = n.definition;
  v.info.fingerprint = parsed->fingerprint;
  v.info.description = n.description;
  v.info.created_by = n.created_by;
  v.info.tags = n.tags;
  v.info.created_at_ms = NowMs();
  v.parsed = parsed;
  uint64_t schema_id = 0;
  bool new_subject = false;
  {
    // Everything here is CPU work on memory; the write follows unlocked.
    MutexLock l(&mu_);
    auto it = subjects_.find(n.subject);
    if (it != subjects_.end()) {
      Subject& s = it->second;
      for (const auto& [num, old] : s.versions) {
        if (!old.deleted && old.info.fingerprint == parsed->fingerprint && old.info.type == type)
          return RegisterResult{s.schema_id, num, false, old.info.fingerprint};
      }
      FRAZIL_ASSIGN_OR_RETURN(auto compat, Check(*parsed, Baseline(s, s.mode), s.mode));
      if (!compat.compatible) {
        std::string why;
        for (const auto& e : compat.errors) why += (why.empty() ? "" : "; ") + e;
        return Status::InvalidArgument("schema is not compatible with subject '" + n.subject + "' (mode " +
                                       CompatibilityModeName(s.mode) + "): " + why);
      }
    } else {
      new_subject = true;
      Subject s;
      s.schema_id = next_id_++;
      it = subjects_.emplace(n.subject, std::move(s)).first;
      by_id_[it->second.schema_id] = n.subject;
    }
    Subject& s = it->second;
    v.info.version = ++s.max_version;
    schema_id = s.schema_id;
    s.versions[v.info.version] = v;
  }
  Status written =
      Write(db_,
            "INSERT INTO schema_versions (subject, version, schema_id, schema_type, definition, fingerprint, "
            "description, created_by, tags, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            [&](sqlite3_stmt* st) {
              BindText(st, 1, n.subject);
              sqlite3_bind_int64(st, 2, v.info.version);
              sqlite3_bind_int64(st, 3, static_cast<sqlite3_int64>(schema_id));
              BindText(st, 4, SchemaTypeName(type));
              sqlite3_bind_blob(st, 5, n.definition.data(), static_cast<int>(n.definition.size()),
                                SQLITE_TRANSIENT);
              BindText(st, 6, v.info.fingerprint);
              BindText(st, 7, n.description);
              BindText(st, 8, n.created_by);
              BindText(st, 9, json(n.tags).dump());
              sqlite3_bind_int64(st, 10, static_cast<sqlite3_int64>(v.info.created_at_ms));
            });
  if (!written.ok()) {
    // Not stored: forget it (the version number stays used, as after a delete).
    MutexLock l(&mu_);
    auto it = subjects_.find(n.subject);
    if (it != subjects_.end()) {
      it->second.versions.erase(v.info.version);
      if (new_subject && it->second.versions.empty()) {
        by_id_.erase(it->second.schema_id);
        subjects_.erase(it);
      }
    }
    return written;
  }
  return RegisterResult{schema_id, v.info.version, true, v.info.fingerprint};
}

Result<FoundSchema> SchemaRegistry::Get(uint64_t schema_id, std::optional<uint32_t> version) {
  MutexLock l(&mu_);
  auto id = by_id_.find(schema_id);
  if (id == by_id_.end()) return Status::NotFound("no schema with id " + std::to_string(schema_id));
  const Subject& s = subjects_.at(id->second);
  if (version) {
    auto v = s.versions.find(*version);
    if (v == s.versions.end() || v->second.deleted)
      return Status::NotFound("schema id " + std::to_string(schema_id) + " (subject '" + id->second +
                              "') has no version " + std::to_string(*version));
    return Found(id->second, s, v->second);
  }
  for (auto v = s.versions.rbegin(); v != s.versions.rend(); ++v)
    if (!v->second.deleted) return Found(id->second, s, v->second);
  return Status::NotFound("subject '" + id->second + "' has no versions left");
}

Result<FoundSchema> SchemaRegistry::GetLatest(const std::string& subject) {
  FRAZIL_RETURN_IF_ERROR(CheckSubject(subject));
  MutexLock l(&mu_);
  auto it = subjects_.find(subject);
  if (it == subjects_.end()) return Status::NotFound("no subject '" + subject + "'");
  for (auto v = it->second.versions.rbegin(); v != it->second.versions.rend(); ++v)
    if (!v->second.deleted) return Found(subject, it->second, v->second);
  return Status::NotFound("subject '" + subject + "' has no versions left");
}

Result<std::pair<uint64_t, std::vector<SchemaVersion>>> SchemaRegistry::ListVersions(
    const std::string& subject) {
  FRAZIL_RETURN_IF_ERROR(CheckSubject(subject));
  MutexLock l(&mu_);
  auto it = subjects_.find(subject);
  if (it == subjects_.end()) return Status::NotFound("no subject '" + subject + "'");
  std::vector<SchemaVersion> out;
  for (const auto& [num, v] : it->second.versions)
    if (!v.deleted) out.push_back(v.info);
  return std::make_pair(it->second.schema_id, std::move(out));
}

Result<CompatibilityResult> SchemaRegistry::CheckCompatibility(const std::string& subject,
                                                               const std::string& type,
                                                               const std::string& definition,
                                                               std::optional<CompatibilityMode> mode) {
  FRAZIL_RETURN_IF_ERROR(CheckSubject(subject));
  FRAZIL_ASSIGN_OR_RETURN(SchemaType t, ParseSchemaType(type));
  FRAZIL_ASSIGN_OR_RETURN(ParsedSchema parsed, ParseDefinition(t, definition));
  CompatibilityMode m;
  std::vector<std::shared_ptr<const ParsedSchema>> baseline;
  {
    MutexLock l(&mu_);
    auto it = subjects_.find(subject);
    if (it == subjects_.end()) return Status::NotFound("no subject '" + subject + "'");
    m = mode.value_or(it->second.mode);
    baseline = Baseline(it->second, m);
  }
  // The schemas are immutable and shared: checked without the lock.
  return Check(parsed, baseline, m);
}

Status SchemaRegistry::DeleteVersion(const std::string& subject, uint32_t version) {
  FRAZIL_RETURN_IF_ERROR(CheckSubject(subject));
  {
    MutexLock l(&mu_);
    auto it = subjects_.find(subject);
    if (it == subjects_.end()) return Status::NotFound("no subject '" + subject + "'");
    auto v = it->second.versions.find(version);
    if (v == it->second.versions.end() || v->second.deleted)
      return Status::NotFound("subject '" + subject + "' has no version " + std::to_string(version));
    v->second.deleted = true;
  }
  // The row stays, marked deleted: the version number is never reused,
  // also across restarts.
  Status written = Write(db_, "UPDATE schema_versions SET deleted = 1 WHERE subject = ?1 AND version = ?2",
                         [&](sqlite3_stmt* st) {
                           BindText(st, 1, subject);
                           sqlite3_bind_int64(st, 2, version);
                         });
  if (!written.ok()) {
    MutexLock l(&mu_);
    auto it = subjects_.find(subject);
    if (it != subjects_.end())
      if (auto v = it->second.versions.find(version); v != it->second.versions.end())
        v->second.deleted = false;
  }
  return written;
}

Status SchemaRegistry::SetCompatibilityMode(const std::string& subject, CompatibilityMode mode) {
  FRAZIL_RETURN_IF_ERROR(CheckSubject(subject));
  uint64_t seq = 0;
  CompatibilityMode before;
  uint64_t seq_before = 0;
  {
    MutexLock l(&mu_);
    auto it = subjects_.find(subject);
    if (it == subjects_.end()) return Status::NotFound("no subject '" + subject + "'");
    before = it->second.mode;
    seq_before = it->second.mode_seq;
    seq = ++mode_seq_;
    it->second.mode = mode;
    it->second.mode_seq = seq;
  }
  // Two changes racing to the disk: the later one (higher seq) wins there
  // as it did in memory.
  Status written =
      Write(db_,
            "INSERT INTO schema_modes (subject, compatibility_mode, seq) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (subject) DO UPDATE SET compatibility_mode = excluded.compatibility_mode, "
            "seq = excluded.seq WHERE excluded.seq > schema_modes.seq",
            [&](sqlite3_stmt* st) {
              BindText(st, 1, subject);
              BindText(st, 2, CompatibilityModeName(mode));
              sqlite3_bind_int64(st, 3, static_cast<sqlite3_int64>(seq));
            });
  if (!written.ok()) {
    MutexLock l(&mu_);
    auto it = subjects_.find(subject);
    if (it != subjects_.end() && it->second.mode_seq == seq) {
      it->second.mode = before;
      it->second.mode_seq = seq_before;
    }
  }
  return written;
}

Result<SchemaRegistry::Resolved> SchemaRegistry::Resolve(const std::string& subject, VersionChoice choice) {
  FRAZIL_RETURN_IF_ERROR(CheckSubject(subject));
  MutexLock l(&mu_);
  auto it = subjects_.find(subject);
  if (it == subjects_.end()) return Status::NotFound("schema subject '" + subject + "' is not registered");
  const Subject& s = it->second;
  if (choice.kind == VersionChoice::kPinned) {
    auto v = s.versions.find(choice.version);
    if (v == s.versions.end() || v->second.deleted)
      return Status::NotFound("schema subject '" + subject + "' has no version " +
                              std::to_string(choice.version));
    return Resolved{s.schema_id, v->first, v->second.parsed};
  }
  for (auto v = s.versions.rbegin(); v != s.versions.rend(); ++v) {
    if (v->second.deleted) continue;
    if (choice.kind == VersionChoice::kMinimum && v->first < choice.version)
      return Status::NotFound("schema subject '" + subject + "' has no version at or above the minimum " +
                              std::to_string(choice.version) + " (its latest is " + std::to_string(v->first) +
                              ")");
    return Resolved{s.schema_id, v->first, v->second.parsed};
  }
  return Status::NotFound("schema subject '" + subject + "' has no versions left");
}

Result<std::string> SchemaRegistry::SubjectOf(uint64_t schema_id) {
  MutexLock l(&mu_);
  auto id = by_id_.find(schema_id);
  if (id == by_id_.end()) return Status::NotFound("no schema with id " + std::to_string(schema_id));
  return id->second;
}

std::optional<uint64_t> SchemaRegistry::SubjectId(const std::string& subject) {
  MutexLock l(&mu_);
  auto it = subjects_.find(subject);
  if (it == subjects_.end()) return std::nullopt;
  return it->second.schema_id;
}

Result<std::shared_ptr<const ParsedSchema>> SchemaRegistry::Parsed(uint64_t schema_id, uint32_t version) {
  MutexLock l(&mu_);
  auto id = by_id_.find(schema_id);
  if (id == by_id_.end()) return Status::NotFound("no schema with id " + std::to_string(schema_id));
  const Subject& s = subjects_.at(id->second);
  auto v = s.versions.find(version);
  if (v == s.versions.end() || v->second.deleted)
    return Status::NotFound("schema id " + std::to_string(schema_id) + " (subject '" + id->second +
                            "') has no version " + std::to_string(version));
  return v->second.parsed;
}

std::vector<SubjectSummary> SchemaRegistry::ListSubjects() {
  MutexLock l(&mu_);
  std::vector<SubjectSummary> out;
  for (const auto& [name, s] : subjects_) {
    SubjectSummary sum;
    sum.subject = name;
    sum.schema_id = s.schema_id;
    sum.mode = s.mode;
    for (auto v = s.versions.rbegin(); v != s.versions.rend(); ++v) {
      if (v->second.deleted) continue;
      sum.latest_version = v->first;
      sum.type = v->second.info.type;
      sum.tags = v->second.info.tags;
      break;
    }
    out.push_back(std::move(sum));
  }
  return out;
}

}  // namespace frazil::schema
