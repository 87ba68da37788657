// A catalog that hands every call to another: tests derive from it and
// override only the calls whose answers they change (a slow load, a lost
// answer, a commit that always loses).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "frazil/catalog/catalog.h"

namespace frazil::testing {

class ForwardingCatalog : public catalog::Catalog {
 public:
  explicit ForwardingCatalog(catalog::Catalog* inner) : inner_(inner) {}

  const std::string& name() const override { return inner_->name(); }
  iceberg::FileIO* io() override { return inner_->io(); }
  Status CreateNamespace(const catalog::Namespace& ns, const catalog::Properties& p) override {
    return inner_->CreateNamespace(ns, p);
  }
  Result<std::vector<catalog::Namespace>> ListNamespaces(const catalog::Namespace& parent) override {
    return inner_->ListNamespaces(parent);
  }
  Status DropNamespace(const catalog::Namespace& ns) override { return inner_->DropNamespace(ns); }
  Result<catalog::Properties> LoadNamespaceProperties(const catalog::Namespace& ns) override {
    return inner_->LoadNamespaceProperties(ns);
  }
  Status UpdateNamespaceProperties(const catalog::Namespace& ns, const catalog::Properties& set,
                                   const std::vector<std::string>& remove) override {
    return inner_->UpdateNamespaceProperties(ns, set, remove);
  }
  Result<catalog::LoadedTable> CreateTable(const catalog::TableIdentifier& id,
                                           catalog::CreateTableRequest request) override {
    return inner_->CreateTable(id, std::move(request));
  }
  Result<catalog::LoadedTable> RegisterTable(const catalog::TableIdentifier& id,
                                             const std::string& metadata_location) override {
    return inner_->RegisterTable(id, metadata_location);
  }
  Result<std::string> DefaultTableLocation(const catalog::TableIdentifier& id) override {
    return inner_->DefaultTableLocation(id);
  }
  Result<catalog::LoadedTable> LoadTable(const catalog::TableIdentifier& id) override {
    return inner_->LoadTable(id);
  }
  Result<std::vector<catalog::TableIdentifier>> ListTables(const catalog::Namespace& ns) override {
    return inner_->ListTables(ns);
  }
  Status DropTable(const catalog::TableIdentifier& id, bool purge) override {
    return inner_->DropTable(id, purge);
  }
  Status RenameTable(const catalog::TableIdentifier& from, const catalog::TableIdentifier& to) override {
    return inner_->RenameTable(from, to);
  }
  Result<catalog::LoadedTable> CommitTable(const catalog::LoadedTable& base,
                                           const iceberg::TableMetadata& updated) override {
    return inner_->CommitTable(base, updated);
  }

 protected:
  catalog::Catalog* inner_;
};

}  // namespace frazil::testing
