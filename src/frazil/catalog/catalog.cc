#include "frazil/catalog/catalog.h"

#include <set>

#include "frazil/iceberg/location.h"
#include "frazil/iceberg/manifest.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/scan.h"
#include "frazil/iceberg/snapshot_producer.h"

namespace frazil::catalog {

Status ValidateName(const std::string& name, const char* what) {
  if (name.empty()) return Status::InvalidArgument(std::string(what) + " name is empty");
  if (name.size() > 255)
    return Status::InvalidArgument(std::string(what) + " name longer than 255 bytes: " + name);
  for (unsigned char c : name) {
    if (c == '.' || c < 0x20 || c == 0x7f)
      return Status::InvalidArgument(std::string(what) + " name '" + name +
                                     "' contains '.' or a control character");
  }
  return Status::Ok();
}

std::string NamespaceToString(const Namespace& ns) {
  std::string out;
  for (size_t i = 0; i < ns.size(); ++i) out += (i ? "." : "") + ns[i];
  return out;
}

Result<Namespace> ParseNamespace(const std::string& text) {
  Namespace ns;
  size_t start = 0;
  for (;;) {
    size_t dot = text.find('.', start);
    std::string part = text.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    FRAZIL_RETURN_IF_ERROR(ValidateName(part, "namespace"));
    ns.push_back(part);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return ns;
}

std::string TableIdentifier::ToString() const {
  return ns.empty() ? name : NamespaceToString(ns) + "." + name;
}

Result<TableIdentifier> TableIdentifier::Parse(const std::string& text) {
  auto dot = text.rfind('.');
  if (dot == std::string::npos)
    return Status::InvalidArgument("table identifier '" + text + "' has no namespace");
  TableIdentifier id;
  FRAZIL_ASSIGN_OR_RETURN(id.ns, ParseNamespace(text.substr(0, dot)));
  id.name = text.substr(dot + 1);
  FRAZIL_RETURN_IF_ERROR(ValidateName(id.name, "table"));
  return id;
}

Result<NewTableFile> WriteNewTableMetadata(iceberg::FileIO* io, const TableIdentifier& id,
                                           const std::string& location, CreateTableRequest request) {
  FRAZIL_ASSIGN_OR_RETURN(auto existing_metadata, iceberg::FindLatestMetadataFile(io, location));
  if (existing_metadata)
    return Status::AlreadyExists("location " + location + " of new table " + id.ToString() +
                                 " already holds table metadata (" + *existing_metadata +
                                 ") the catalog does not know: register that table, or remove its files");
  FRAZIL_ASSIGN_OR_RETURN(
      iceberg::TableMetadata metadata,
      iceberg::NewTableMetadata(std::move(request.schema), std::move(request.spec),
                                std::move(request.sort_order), location, std::move(request.properties)));
  iceberg::SnapshotProducer* first = request.first_snapshot;
  if (first) {
    auto applied = first->Apply(metadata);
    if (!applied.ok()) {
      first->CleanUpAfterFailure();
      return applied.status();
    }
    metadata = std::move(applied).value();
  }
  std::string metadata_location = iceberg::NextMetadataFileLocation(metadata.location, std::nullopt);
  // With a first snapshot, its manifests and list and this file are named
  // durable together: one sync of the metadata directory, not three.
  Status st = iceberg::WriteMetadataFile(io, metadata_location, metadata,
                                         first ? fsutil::NameSync::kLater : fsutil::NameSync::kNow);
  if (st.ok() && first) {
    st = first->SyncNames({metadata_location});
    if (!st.ok()) (void)io->Delete(metadata_location);  // not yet any catalog's: ours to remove
  }
  if (!st.ok()) {
    if (first) first->CleanUpAfterFailure();
    return st;
  }
  return NewTableFile{std::move(metadata), std::move(metadata_location)};
}

Status PurgeTableFiles(iceberg::FileIO* io, const LoadedTable& table) {
  const auto& m = table.metadata;
  std::set<std::string> files;
  files.insert(table.metadata_location);
  for (const auto& e : m.metadata_log) files.insert(e.metadata_file);
  for (const auto& s : m.snapshots) {
    files.insert(s.manifest_list);
    auto manifests = iceberg::ReadSnapshotManifests(io, s);
    if (!manifests.ok()) continue;  // already gone: the listing below catches the rest
    for (const auto& mf : manifests.value()) {
      files.insert(mf.manifest_path);
      auto bytes = io->Read(mf.manifest_path);
      if (!bytes.ok()) continue;
      auto entries = iceberg::ReadManifest(bytes.value(), mf, m);
      if (!entries.ok()) continue;
      for (const auto& e : entries.value()) files.insert(e.file.file_path);
    }
  }
  Status first_error = io->DeleteMany(std::vector<std::string>(files.begin(), files.end()));
  // Files under the location that no metadata names (orphans of failed
  // commits, checksum sidecars, temporary files) belong to the table too.
  auto listed = io->ListIncludingHidden(iceberg::JoinLocation(m.location, ""));
  if (listed.ok()) {
    std::vector<std::string> left;
    for (const auto& f : listed.value()) left.push_back(f.location);
    Status s = io->DeleteMany(left);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

}  // namespace frazil::catalog
