// Danube's schema registry: subjects, each with a global schema id, a
// compatibility mode and versions 1, 2, ... of one schema type. Versions are
// never reused, also after a delete; a schema registered again (same
// normalized text) returns its existing version. The state lives in memory
// and in two tables of the broker's metadata store (SQLite), written one
// statement per change so that no lock is held across the disk I/O
// (docs/formats/schema-registry.md).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "frazil/avro/schema.h"
#include "frazil/common/mutex.h"
#include "frazil/common/status.h"

struct sqlite3;

namespace frazil::schema {

class JsonSchemaValidator;

// Whether `s` is valid UTF-8 (no overlong forms, surrogates or code points
// beyond Unicode).
bool IsValidUtf8(std::string_view s);

// Danube's schema types.
enum class SchemaType { kBytes, kString, kNumber, kAvro, kJsonSchema, kProtobuf };
// Danube's names and aliases, any case ("json" is JSON Schema, "int64" a number).
Result<SchemaType> ParseSchemaType(std::string_view name);
// The canonical name: "bytes", "string", "number", "avro", "json_schema", "protobuf".
const char* SchemaTypeName(SchemaType t);

// Danube's modes (none, backward, forward, full; backward is the default),
// and the transitive variants, which check against every live version
// instead of the latest only.
enum class CompatibilityMode {
  kNone,
  kBackward,
  kForward,
  kFull,
  kBackwardTransitive,
  kForwardTransitive,
  kFullTransitive
};
Result<CompatibilityMode> ParseCompatibilityMode(std::string_view name);
const char* CompatibilityModeName(CompatibilityMode m);  // lower case, as Danube answers

// Limits on what a client may register; larger is INVALID_ARGUMENT.
inline constexpr size_t kMaxSubjectBytes = 1024;
inline constexpr size_t kMaxSchemaBytes = 1u << 20;
inline constexpr size_t kMaxMetadataBytes = 64u << 10;  // description, created_by, all tags together
inline constexpr size_t kMaxTags = 256;

struct SchemaVersion {
  uint32_t version = 0;
  SchemaType type = SchemaType::kBytes;
  std::string definition;   // as registered
  std::string fingerprint;  // "sha256:" + hex of the normalized definition
  std::string description;
  std::string created_by;
  std::vector<std::string> tags;
  uint64_t created_at_ms = 0;
};

// A version with its subject's identity, as GetSchema answers.
struct FoundSchema {
  std::string subject;
  uint64_t schema_id = 0;
  CompatibilityMode mode = CompatibilityMode::kBackward;
  SchemaVersion version;
};

struct SubjectSummary {
  std::string subject;
  uint64_t schema_id = 0;
  CompatibilityMode mode = CompatibilityMode::kBackward;
  // Of the latest live version; 0 and empty when every version is deleted.
  uint32_t latest_version = 0;
  std::optional<SchemaType> type;
  std::vector<std::string> tags;
};

struct NewSchema {
  std::string subject;
  std::string type;  // a Danube type name
  std::string definition;
  std::string description;
  std::string created_by;
  std::vector<std::string> tags;
};

struct RegisterResult {
  uint64_t schema_id = 0;
  uint32_t version = 0;
  bool is_new_version = false;
  std::string fingerprint;
};

struct CompatibilityResult {
  bool compatible = true;
  std::vector<std::string> errors;
};

// A parsed, normalized schema definition.
struct ParsedSchema {
  SchemaType type = SchemaType::kBytes;
  std::string normalized;
  std::string fingerprint;
  avro::SchemaPtr avro;  // for Avro
  nlohmann::json json;   // for JSON Schema: the document
  // For JSON Schema: compiled once here, shared by every validation.
  std::shared_ptr<const JsonSchemaValidator> json_validator;
};
// Parses and normalizes a definition of a type (the bad-input and fuzz
// entry point): malformed, oversize or too deeply nested is INVALID_ARGUMENT,
// Protobuf UNIMPLEMENTED.
Result<ParsedSchema> ParseDefinition(SchemaType type, std::string_view definition);

// Whether data of `writer` can be read as `reader` (errors say where not).
// JSON Schema: whether `reader` accepts every document `writer` does
// (json_compatibility.h).
Result<CompatibilityResult> CheckReadable(const ParsedSchema& reader, const ParsedSchema& writer);

class SchemaRegistry {
 public:
  // Opens (creating its tables if needed) the registry in the SQLite file
  // at `db_path` and loads its state.
  static Result<std::unique_ptr<SchemaRegistry>> Open(const std::string& db_path);
  ~SchemaRegistry();

  // The same schema again: its existing version (is_new_version false).
  // Otherwise checked against the subject's mode (INVALID_ARGUMENT with the
  // reasons when incompatible) and stored as the next version.
  Result<RegisterResult> Register(const NewSchema& s) EXCLUDES(mu_);
  // `version` absent: the latest live version. NOT_FOUND for an unknown id
  // or a missing or deleted version.
  Result<FoundSchema> Get(uint64_t schema_id, std::optional<uint32_t> version) EXCLUDES(mu_);
  Result<FoundSchema> GetLatest(const std::string& subject) EXCLUDES(mu_);
  // The live versions, oldest first; NOT_FOUND for an unknown subject.
  Result<std::pair<uint64_t, std::vector<SchemaVersion>>> ListVersions(const std::string& subject)
      EXCLUDES(mu_);
  // Whether `definition` could be registered under the subject (`mode`
  // overrides the subject's).
  Result<CompatibilityResult> CheckCompatibility(const std::string& subject, const std::string& type,
                                                 const std::string& definition,
                                                 std::optional<CompatibilityMode> mode) EXCLUDES(mu_);
  // The version is gone for good: its number is never given again.
  Status DeleteVersion(const std::string& subject, uint32_t version) EXCLUDES(mu_);
  Status SetCompatibilityMode(const std::string& subject, CompatibilityMode mode) EXCLUDES(mu_);
  std::vector<SubjectSummary> ListSubjects() EXCLUDES(mu_);

  // A version a producer binds to (Danube's SchemaReference): the latest
  // live one, a pinned one, or the latest if it is at least `min_version`.
  struct VersionChoice {
    enum Kind { kLatest, kPinned, kMinimum } kind = kLatest;
    uint32_t version = 0;
  };
  struct Resolved {
    uint64_t schema_id = 0;
    uint32_t version = 0;
    std::shared_ptr<const ParsedSchema> parsed;
  };
  // NOT_FOUND for an unknown subject, a missing pinned version, a latest
  // version below the minimum, or a subject without live versions.
  Result<Resolved> Resolve(const std::string& subject, VersionChoice choice) EXCLUDES(mu_);
  // The subject of a schema id (NOT_FOUND if none).
  Result<std::string> SubjectOf(uint64_t schema_id) EXCLUDES(mu_);
  // The subject's id, if the subject exists.
  std::optional<uint64_t> SubjectId(const std::string& subject) EXCLUDES(mu_);
  // A live version of a schema id, parsed (and compiled) once at
  // registration: NOT_FOUND if there is none.
  Result<std::shared_ptr<const ParsedSchema>> Parsed(uint64_t schema_id, uint32_t version) EXCLUDES(mu_);

 private:
  struct StoredVersion {
    SchemaVersion info;
    std::shared_ptr<const ParsedSchema> parsed;
    bool deleted = false;
  };
  struct Subject {
    uint64_t schema_id = 0;
    CompatibilityMode mode = CompatibilityMode::kBackward;
    uint64_t mode_seq = 0;                       // of the last mode change, so a late write never wins
    std::map<uint32_t, StoredVersion> versions;  // deleted ones included
    uint32_t max_version = 0;
  };

  explicit SchemaRegistry(sqlite3* db) : db_(db) {}
  Status Load() EXCLUDES(mu_);
  // The subject's live versions to check a new schema against under `mode`.
  static std::vector<std::shared_ptr<const ParsedSchema>> Baseline(const Subject& s, CompatibilityMode mode);
  static Result<CompatibilityResult> Check(const ParsedSchema& candidate,
                                           const std::vector<std::shared_ptr<const ParsedSchema>>& existing,
                                           CompatibilityMode mode);
  static FoundSchema Found(const std::string& subject, const Subject& s, const StoredVersion& v);

  // The connection is opened in SQLite's serialized mode: every write is one
  // autocommit statement, so calls need no lock of ours around it.
  sqlite3* const db_;
  Mutex mu_;
  std::map<std::string, Subject> subjects_ GUARDED_BY(mu_);
  std::map<uint64_t, std::string> by_id_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  uint64_t mode_seq_ GUARDED_BY(mu_) = 0;
};

}  // namespace frazil::schema
