// The pure parts of the Iceberg REST catalog client: how names go into
// URLs, and how a commit (a base and the whole updated TableMetadata) is
// expressed as the REST protocol's requirements and updates, so that the
// server, not the client, writes the new metadata file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "frazil/catalog/catalog.h"
#include "frazil/common/status.h"
#include "frazil/iceberg/table_metadata.h"

namespace frazil::catalog::rest {

// RFC 3986 percent-encoding of everything but unreserved characters.
std::string PercentEncode(std::string_view s);
// A namespace as one path segment: its parts percent-encoded and joined by
// `separator`, already in encoded form (the spec's default is "%1F"; a
// server may override it in /v1/config as `namespace-separator`).
std::string EncodeNamespace(const Namespace& ns, std::string_view separator = "%1F");

// The body of a commit (POST .../tables/{table}): {"requirements": [...],
// "updates": [...]}. With `base`, the table must still be at base: its
// uuid, the snapshot of every branch or tag the commit moves (always
// `main`), and its current schema/spec/sort order where those change. With
// no base it is a create transaction (`assert-create`, the whole of
// `updated` as updates). Fails (InvalidArgument) on a change the protocol
// cannot express here: another uuid, location or format version, removed
// schemas, specs or sort orders.
Result<nlohmann::json> CommitBody(const iceberg::TableMetadata* base, const iceberg::TableMetadata& updated);

// JSON of single metadata parts, as the REST bodies carry them.
nlohmann::json SchemaJson(const iceberg::Schema& schema);
nlohmann::json PartitionSpecJson(const iceberg::PartitionSpec& spec);
nlohmann::json SortOrderJson(const iceberg::SortOrder& order);

}  // namespace frazil::catalog::rest
